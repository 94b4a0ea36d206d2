//! The text a scraper reads: Prometheus text format 0.0.4, or OpenMetrics 1.0 (with exemplars on
//! histogram buckets and the closing `# EOF`). One renderer for both, so they never drift apart.

use super::collector::Sink;
use super::desc::Kind;
use super::registry::{Family, Registry};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The family that reports label sets folded into `other` by each family's series cap.
pub const OVERFLOW_FAMILY: &str = "ferrule_metric_series_overflow";

/// A float as both formats accept it: `+Inf`, `-Inf`, `NaN`, otherwise the shortest round-trip
/// form with a decimal point (`1.0`, `0.01`, `1e21`).
pub fn fmt_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v:?}");
    }
}

fn escape_into(out: &mut String, s: &str, quote: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn labels_into(out: &mut String, names: &[String], values: &[String], extra: Option<(&str, &str)>) {
    if names.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (n, v) in names.iter().zip(values) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(n);
        out.push_str("=\"");
        escape_into(out, v, true);
        out.push('"');
    }
    if let Some((n, v)) = extra {
        if !first {
            out.push(',');
        }
        out.push_str(n);
        out.push_str("=\"");
        out.push_str(v);
        out.push('"');
    }
    out.push('}');
}

fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    escape_into(out, help, false);
    out.push('\n');
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind.as_str());
    out.push('\n');
}

fn sample(out: &mut String, name: &str, names: &[String], values: &[String], v: f64) {
    out.push_str(name);
    labels_into(out, names, values, None);
    out.push(' ');
    fmt_f64(out, v);
    out.push('\n');
}

/// Collector samples for `family` not already among its own series, and the sums for those that are.
fn merged(
    own: Vec<(Vec<String>, f64)>,
    extra: Option<&Vec<(Vec<String>, f64)>>,
) -> Vec<(Vec<String>, f64)> {
    let mut all = own;
    if let Some(extra) = extra {
        for (k, v) in extra {
            match all.iter_mut().find(|(k2, _)| k2 == k) {
                Some((_, x)) => *x += v,
                None => all.push((k.clone(), *v)),
            }
        }
    }
    all
}

fn render_family(out: &mut String, f: &Family, sink: &Sink, fmt: Format) {
    let d = f.desc();
    match f {
        Family::Counter(c) => {
            let total = format!("{}_total", d.name);
            let head = if fmt == Format::OpenMetrics {
                &d.name
            } else {
                &total
            };
            header(out, head, &d.help, Kind::Counter);
            // Whole counts print as exact integers, even past 2^53; fractions (cost) as floats.
            let mut rows: Vec<(Vec<String>, u64, f64)> = Vec::new();
            c.series
                .for_each(|k, cell| rows.push((k.to_vec(), cell.whole(), cell.fraction())));
            for (k, v) in sink.samples.get(&d.name).into_iter().flatten() {
                let (w, f) = if v.fract() == 0.0 && *v >= 0.0 && *v < 9.0e15 {
                    (*v as u64, 0.0)
                } else {
                    (0, *v)
                };
                match rows.iter_mut().find(|(k2, _, _)| k2 == k) {
                    Some(row) => {
                        row.1 += w;
                        row.2 += f;
                    }
                    None => rows.push((k.clone(), w, f)),
                }
            }
            for (k, w, f) in rows {
                if f == 0.0 {
                    out.push_str(&total);
                    labels_into(out, &d.label_names, &k, None);
                    let _ = writeln!(out, " {w}");
                } else {
                    sample(out, &total, &d.label_names, &k, w as f64 + f);
                }
            }
        }
        Family::Gauge(g) => {
            header(out, &d.name, &d.help, Kind::Gauge);
            let mut own = Vec::new();
            g.series
                .for_each(|k, cell| own.push((k.to_vec(), cell.get())));
            for (k, v) in merged(own, sink.samples.get(&d.name)) {
                sample(out, &d.name, &d.label_names, &k, v);
            }
        }
        Family::Histogram(h) => {
            header(out, &d.name, &d.help, Kind::Histogram);
            let bucket = format!("{}_bucket", d.name);
            let mut le = String::new();
            h.series.for_each(|k, cell| {
                let s = cell.snapshot();
                for (i, c) in s.cumulative.iter().enumerate() {
                    le.clear();
                    match s.bounds.get(i) {
                        Some(&b) => fmt_f64(&mut le, b),
                        None => le.push_str("+Inf"),
                    }
                    out.push_str(&bucket);
                    labels_into(out, &d.label_names, k, Some(("le", &le)));
                    let _ = write!(out, " {c}");
                    if fmt == Format::OpenMetrics {
                        if let Some(Some(e)) = s.exemplars.get(i) {
                            out.push_str(" # {");
                            for (j, (n, v)) in e.labels.iter().enumerate() {
                                if j > 0 {
                                    out.push(',');
                                }
                                out.push_str(n);
                                out.push_str("=\"");
                                escape_into(out, v, true);
                                out.push('"');
                            }
                            out.push_str("} ");
                            fmt_f64(out, e.value);
                        }
                    }
                    out.push('\n');
                }
                out.push_str(&d.name);
                out.push_str("_count");
                labels_into(out, &d.label_names, k, None);
                let _ = writeln!(out, " {}", s.count);
                out.push_str(&d.name);
                out.push_str("_sum");
                labels_into(out, &d.label_names, k, None);
                out.push(' ');
                fmt_f64(out, s.sum);
                out.push('\n');
            });
        }
    }
}

/// Renders every family of `registry` (collectors read first), then the series-overflow family.
pub fn render(registry: &Registry, fmt: Format) -> String {
    let sink = registry.collect();
    let fams = registry.families();
    let mut out = String::with_capacity(4096);
    for f in &fams {
        render_family(&mut out, f, &sink, fmt);
    }
    let total = format!("{OVERFLOW_FAMILY}_total");
    let head = if fmt == Format::OpenMetrics {
        OVERFLOW_FAMILY
    } else {
        &total
    };
    header(
        &mut out,
        head,
        "Label sets folded into the \"other\" series because a metric reached its series cap.",
        Kind::Counter,
    );
    let metric = ["metric".to_string()];
    for f in &fams {
        let n = f.overflowed();
        if n > 0 {
            out.push_str(&total);
            labels_into(&mut out, &metric, &[f.desc().name.clone()], None);
            let _ = writeln!(out, " {n}");
        }
    }
    if fmt == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}
