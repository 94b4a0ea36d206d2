//! Real labelled operations series (the Numenta Anomaly Benchmark's layout: `data/<family>/<name>.csv`
//! with `timestamp,value`, and `labels/combined_windows.json` with the anomaly windows), replayed
//! through the anomaly detectors on a manual clock beside a rolling z-score baseline. Scoring is by
//! event: a window is found when a firing starts inside it; precision is over firing starts.
//!
//! Nothing here is shipped with ferrule: `FERRULE_EVAL_NAB` names a local copy. The families are
//! split in two: the ones the seasonal detector's defaults were tuned on, and the held-out ones
//! that the target is measured on.

use ferrule_core::watch::anomaly::{AnomalyConfig, AnomalyDetector, Method};
use ferrule_core::watch::ewma::EwmaConfig;
use ferrule_core::watch::mad::MadConfig;
use ferrule_core::watch::seasonal::SeasonalConfig;
use ferrule_core::*;

pub const TUNING: &[&str] = &["realAdExchange", "realTweets", "artificialWithAnomaly"];
pub const HELD_OUT: &[&str] = &["realAWSCloudwatch", "realKnownCause", "realTraffic"];

pub struct Series {
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
        out.push(Series { at, value, windows });
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

pub struct RealReport {
    pub set: &'static str,
    pub series: usize,
    /// (detector, score); the baseline first.
    pub rows: Vec<(&'static str, EventScore)>,
}

pub fn run(set: &'static str, series: &[Series]) -> RealReport {
    let methods: [(&'static str, Option<Method>); 4] = [
        ("rolling z-score |z|>4", None),
        ("anomaly.ewma", Some(Method::Ewma(EwmaConfig::default()))),
        ("anomaly.mad", Some(Method::Mad(MadConfig::default()))),
        (
            "anomaly.seasonal",
            Some(Method::Seasonal(SeasonalConfig::default())),
        ),
    ];
    let mut rows = Vec::new();
    for (name, m) in methods {
        let mut sc = EventScore::default();
        for s in series {
            let starts = match m {
                None => rolling_z(s),
                Some(m) => detector_starts(s, m),
            };
            sc.add(s, &starts);
        }
        rows.push((name, sc));
    }
    RealReport {
        set,
        series: series.len(),
        rows,
    }
}

impl RealReport {
    pub fn print(&self) {
        let windows = self.rows.first().map_or(0, |r| r.1.windows);
        println!(
            "real series ({}): {} series, {} labelled windows; event scoring",
            self.set, self.series, windows
        );
        println!(
            "{:<24} {:>7} {:>9} {:>7} {:>10} {:>8} {:>12}",
            "detector", "recall", "precision", "F1", "found", "firings", "F1/baseline"
        );
        let base = self.rows.first().map_or(0.0, |r| r.1.f1());
        for (name, s) in &self.rows {
            println!(
                "{:<24} {:>7.3} {:>9.3} {:>7.3} {:>10} {:>8} {:>12.2}",
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

    /// The seasonal detector's row.
    pub fn seasonal(&self) -> &EventScore {
        &self.rows.last().expect("rows").1
    }

    pub fn baseline(&self) -> &EventScore {
        &self.rows.first().expect("rows").1
    }
}
