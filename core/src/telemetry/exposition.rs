//! The text a scraper reads: Prometheus text format 0.0.4, or OpenMetrics 1.0 (with exemplars on
//! histogram buckets and the closing `# EOF`). One renderer for both, so they never drift apart.

use super::desc::Kind;
use super::registry::Registry;
use super::snapshot::{snapshot, FamilySnapshot, Points};
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

fn labels_into(out: &mut String, names: &[String], values: &[String], le: Option<&str>) {
    if names.is_empty() && le.is_none() {
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
    if let Some(le) = le {
        if !first {
            out.push(',');
        }
        out.push_str("le=\"");
        out.push_str(le);
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

fn render_family(out: &mut String, f: &FamilySnapshot, fmt: Format) {
    let d = &*f.desc;
    match &f.points {
        Points::Scalars(rows) => {
            let total = format!("{}_total", d.name);
            let (head, sample) = match (d.kind, fmt) {
                (Kind::Counter, Format::OpenMetrics) => (d.name.as_str(), total.as_str()),
                (Kind::Counter, Format::Prometheus) => (total.as_str(), total.as_str()),
                _ => (d.name.as_str(), d.name.as_str()),
            };
            header(out, head, &d.help, d.kind);
            for (k, v) in rows {
                out.push_str(sample);
                labels_into(out, &d.label_names, k, None);
                out.push(' ');
                if d.kind == Kind::Counter && v.is_whole() {
                    let _ = write!(out, "{}", v.whole);
                } else {
                    fmt_f64(out, v.value());
                }
                out.push('\n');
            }
        }
        Points::Histograms(rows) => {
            header(out, &d.name, &d.help, Kind::Histogram);
            let mut le = String::new();
            for (k, s) in rows {
                for (i, c) in s.cumulative.iter().enumerate() {
                    le.clear();
                    match s.bounds.get(i) {
                        Some(&b) => fmt_f64(&mut le, b),
                        None => le.push_str("+Inf"),
                    }
                    out.push_str(&d.name);
                    out.push_str("_bucket");
                    labels_into(out, &d.label_names, k, Some(&le));
                    let _ = write!(out, " {c}");
                    if let (Format::OpenMetrics, Some(Some(e))) = (fmt, s.exemplars.get(i)) {
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
            }
        }
    }
}

/// Renders every family of `registry` (collectors read first), then the series-overflow family.
pub fn render(registry: &Registry, fmt: Format) -> String {
    let fams = snapshot(registry);
    let mut out = String::with_capacity(4096);
    for f in &fams {
        render_family(&mut out, f, fmt);
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
        if f.overflowed > 0 {
            out.push_str(&total);
            labels_into(&mut out, &metric, std::slice::from_ref(&f.desc.name), None);
            let _ = writeln!(out, " {}", f.overflowed);
        }
    }
    if fmt == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}
