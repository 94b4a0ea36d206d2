//! Real labelled operations series (the Numenta Anomaly Benchmark's layout: `data/<family>/<name>.csv`
//! with `timestamp,value`, and `labels/combined_windows.json` with the anomaly windows), replayed
//! through the anomaly detectors with their default settings on a manual clock, beside a rolling
//! z-score baseline. Scoring is by event: a window is found when a firing starts inside it (once per
//! window); recall is over windows, precision over firing starts.
//!
//! The series used are in `core/examples/data/nab` (with NAB's licence); `FERRULE_EVAL_NAB` names
//! another copy. The families are split in two: the ones the seasonal detector's defaults were
//! tuned on, and the held-out ones the target is measured on.

use ferrule_core::watch::anomaly::{AnomalyConfig, AnomalyDetector, Method};
use ferrule_core::watch::ewma::EwmaConfig;
use ferrule_core::watch::mad::MadConfig;
use ferrule_core::watch::seasonal::SeasonalConfig;
use ferrule_core::*;

pub const TUNING: &[&str] = &["realAdExchange", "realTweets", "artificialWithAnomaly"];
pub const HELD_OUT: &[&str] = &["realAWSCloudwatch", "realKnownCause", "realTraffic"];

/// The copy of NAB kept in the repository.
pub fn default_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/nab")
}

pub struct Series {
    pub family: String,
    /// `<family>/<file>.csv`, as the labels name it.
    pub name: String,
    /// Seconds since the epoch.
    pub at: Vec<f64>,
    pub value: Vec<f64>,
    pub windows: Vec<(f64, f64)>,
}

/// `2014-02-14 14:30:00[.000000]` (UTC) to seconds since the epoch.
fn timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, dd) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, mi) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec = t.next()?.parse::<f64>().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86400 + h * 3600 + mi * 60) as f64 + sec)
}

/// The families' series, or why they could not be read.
pub fn load(root: &std::path::Path, families: &[&str]) -> Result<Vec<Series>, String> {
    let labels = root.join("labels/combined_windows.json");
    let text =
        std::fs::read_to_string(&labels).map_err(|e| format!("{}: {e}", labels.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", labels.display()))?;
    let map = json.as_object().ok_or("labels: not an object")?;
    let mut out = Vec::new();
    for (name, wins) in map {
        if !families.iter().any(|f| name.starts_with(&format!("{f}/"))) {
            continue;
        }
        let path = root.join("data").join(name);
        let csv = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (mut at, mut value) = (Vec::new(), Vec::new());
        for line in csv.lines().skip(1) {
            let Some((t, v)) = line.split_once(',') else {
                continue;
            };
            if let (Some(t), Ok(v)) = (timestamp(t), v.trim().parse::<f64>()) {
                at.push(t);
                value.push(v);
            }
        }
        let windows = wins
            .as_array()
            .ok_or("labels: a window list")?
            .iter()
            .filter_map(|w| {
                let w = w.as_array()?;
                Some((
                    timestamp(w.first()?.as_str()?)?,
                    timestamp(w.get(1)?.as_str()?)?,
                ))
            })
            .collect();
        let family = name.split('/').next().unwrap_or_default().to_string();
        out.push(Series {
            family,
            name: name.clone(),
            at,
            value,
            windows,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct EventScore {
    pub windows: u32,
    pub found: u32,
    pub starts: u32,
    pub true_starts: u32,
}

impl EventScore {
    pub fn recall(&self) -> f64 {
        self.found as f64 / self.windows.max(1) as f64
    }
    pub fn precision(&self) -> f64 {
        if self.starts == 0 {
            1.0
        } else {
            self.true_starts as f64 / self.starts as f64
        }
    }
    pub fn f1(&self) -> f64 {
        let (r, p) = (self.recall(), self.precision());
        if r + p == 0.0 {
            0.0
        } else {
            2.0 * r * p / (r + p)
        }
    }
    fn add(&mut self, s: &Series, starts: &[f64]) {
        self.windows += s.windows.len() as u32;
        let mut hit = vec![false; s.windows.len()];
        for t in starts {
            self.starts += 1;
            if let Some(i) = s.windows.iter().position(|(a, b)| a <= t && t <= b) {
                self.true_starts += 1;
                hit[i] = true;
            }
        }
        self.found += hit.iter().filter(|h| **h).count() as u32;
    }
}

/// The baseline: |z| > 4 against the mean and standard deviation of the previous 100 values; a
/// firing starts at each anomalous value that follows a normal one.
fn rolling_z(s: &Series) -> Vec<f64> {
    let n = 100;
    let mut out = Vec::new();
    let mut prev = false;
    for i in 0..s.value.len() {
        let mut an = false;
        if i >= n {
            let w = &s.value[i - n..i];
            let m = w.iter().sum::<f64>() / n as f64;
            let sd = (w.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64).sqrt();
            an = sd > 0.0 && ((s.value[i] - m) / sd).abs() > 4.0;
        }
        if an && !prev {
            out.push(s.at[i]);
        }
        prev = an;
    }
    out
}

fn detector_starts(s: &Series, method: Method) -> Vec<f64> {
    let clock = ManualClock::new();
    let d = AnomalyDetector::new(AnomalyConfig::new("real", "value", method), clock.clone())
        .expect("default config is valid");
    let key = SeriesKey::new("real", "series");
    let t0 = s.at.first().copied().unwrap_or(0.0);
    let mut out = Vec::new();
    for (t, v) in s.at.iter().zip(&s.value) {
        // The manual clock starts at 0; the series' own time of day is kept for the profile.
        let at = ((t - t0) + t0.rem_euclid(86400.0)) * 1e9;
        clock.set_nanos(at as u64);
        for e in d.observe_at(&key, *v, at as u64) {
            if e.state == EventState::Firing && e.name != "watch.series_overflow" {
                out.push(*t);
            }
        }
    }
    out
}

/// `FERRULE_EVAL_DETAIL`: one line per series, its windows as (first index, length) marked found
/// or missed, and each firing start by index, `+` inside a window, `-` outside.
fn print_detail(detector: &str, s: &Series, starts: &[f64]) {
    let index = |t: f64| s.at.partition_point(|x| *x < t);
    let wins: Vec<String> = s
        .windows
        .iter()
        .map(|(a, b)| {
            let hit = starts.iter().any(|t| a <= t && t <= b);
            format!(
                "{}{}+{}",
                if hit { "found@" } else { "MISSED@" },
                index(*a),
                index(*b) - index(*a)
            )
        })
        .collect();
    let fires: Vec<String> = starts
        .iter()
        .map(|t| {
            let inside = s.windows.iter().any(|(a, b)| a <= t && t <= b);
            format!("{}{}", if inside { '+' } else { '-' }, index(*t))
        })
        .collect();
    println!(
        "detail {detector} {} n={} windows=[{}] firings=[{}]",
        s.name,
        s.value.len(),
        wins.join(" "),
        fires.join(" ")
    );
}

pub struct RealReport {
    pub set: &'static str,
    /// Per family (in the order given), then the whole set under "all": the series count and
    /// (detector, score) rows, the baseline first.
    pub groups: Vec<(String, usize, Vec<(&'static str, EventScore)>)>,
}

pub fn run(set: &'static str, families: &[&str], series: &[Series]) -> RealReport {
    let methods: [(&'static str, Option<Method>); 4] = [
        ("rolling z-score |z|>4", None),
        ("anomaly.ewma", Some(Method::Ewma(EwmaConfig::default()))),
        ("anomaly.mad", Some(Method::Mad(MadConfig::default()))),
        (
            "anomaly.seasonal",
            Some(Method::Seasonal(SeasonalConfig::default())),
        ),
    ];
    let mut groups: Vec<(String, usize, Vec<(&'static str, EventScore)>)> = families
        .iter()
        .chain(std::iter::once(&"all"))
        .map(|f| {
            let n = if *f == "all" {
                series.len()
            } else {
                series.iter().filter(|s| s.family == *f).count()
            };
            let rows = methods
                .iter()
                .map(|(name, _)| (*name, EventScore::default()))
                .collect();
            (f.to_string(), n, rows)
        })
        .collect();
    let detail = std::env::var_os("FERRULE_EVAL_DETAIL").is_some();
    for (i, (name, m)) in methods.iter().enumerate() {
        for s in series {
            let starts = match m {
                None => rolling_z(s),
                Some(m) => detector_starts(s, *m),
            };
            if detail && i + 1 == methods.len() {
                print_detail(name, s, &starts);
            }
            for (family, _, rows) in groups.iter_mut() {
                if family == "all" || *family == s.family {
                    rows[i].1.add(s, &starts);
                }
            }
        }
    }
    RealReport { set, groups }
}

impl RealReport {
    pub fn print(&self) {
        let all = self.groups.last().expect("the whole set");
        println!(
            "real series ({}): {} series, {} labelled windows; event scoring, default settings",
            self.set, all.1, all.2[0].1.windows
        );
        println!(
            "{:<22} {:<22} {:>7} {:>9} {:>7} {:>8} {:>8} {:>12}",
            "family", "detector", "recall", "precision", "F1", "found", "firings", "F1/baseline"
        );
        for (family, _, rows) in &self.groups {
            let base = rows[0].1.f1();
            for (name, s) in rows {
                println!(
                    "{:<22} {:<22} {:>7.3} {:>9.3} {:>7.3} {:>8} {:>8} {:>12.2}",
                    family,
                    name,
                    s.recall(),
                    s.precision(),
                    s.f1(),
                    format!("{}/{}", s.found, s.windows),
                    s.starts,
                    if base > 0.0 { s.f1() / base } else { 0.0 }
                );
            }
        }
    }

    fn all(&self) -> &[(&'static str, EventScore)] {
        &self.groups.last().expect("the whole set").2
    }

    /// The seasonal detector over the whole set.
    pub fn seasonal(&self) -> &EventScore {
        &self.all()[3].1
    }

    pub fn baseline(&self) -> &EventScore {
        &self.all().first().expect("rows").1
    }
}
