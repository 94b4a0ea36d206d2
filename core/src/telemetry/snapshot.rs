//! One scrape-time read of a registry: every family with its series values, collector samples
//! merged in. The Prometheus/OpenMetrics text and the OTLP push both encode this, so they agree.

use super::desc::Desc;
use super::histogram::HistogramSnapshot;
use super::registry::{Family, Registry};
use std::sync::Arc;

/// A counter or gauge value. Counters keep their whole part exact (it prints as an integer even
/// past 2^53); fractional adds (cost) and gauges live in `fraction`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scalar {
    pub whole: u64,
    pub fraction: f64,
}

impl Scalar {
    pub fn value(self) -> f64 {
        self.whole as f64 + self.fraction
    }

    /// Whether the value is a whole number that prints exactly as an integer.
    pub fn is_whole(self) -> bool {
        self.fraction == 0.0
    }
}

#[derive(Debug, Clone)]
pub enum Points {
    Scalars(Vec<(Vec<String>, Scalar)>),
    Histograms(Vec<(Vec<String>, HistogramSnapshot)>),
}

#[derive(Debug, Clone)]
pub struct FamilySnapshot {
    pub desc: Arc<Desc>,
    pub points: Points,
    /// Label sets folded into `other` by the family's series cap.
    pub overflowed: u64,
}

/// Reads every family of `registry`, collectors first, in declaration order.
pub fn snapshot(registry: &Registry) -> Vec<FamilySnapshot> {
    let sink = registry.collect();
    registry
        .families()
        .into_iter()
        .map(|f| {
            let overflowed = f.overflowed();
            match f {
                Family::Counter(c) => {
                    let mut rows = Vec::new();
                    c.series.for_each(|k, cell| {
                        rows.push((
                            k.to_vec(),
                            Scalar {
                                whole: cell.whole(),
                                fraction: cell.fraction(),
                            },
                        ))
                    });
                    merge(&mut rows, sink.samples.get(&c.desc.name), true);
                    FamilySnapshot {
                        desc: c.desc.clone(),
                        points: Points::Scalars(rows),
                        overflowed,
                    }
                }
                Family::Gauge(g) => {
                    let mut rows = Vec::new();
                    g.series.for_each(|k, cell| {
                        rows.push((
                            k.to_vec(),
                            Scalar {
                                whole: 0,
                                fraction: cell.get(),
                            },
                        ))
                    });
                    merge(&mut rows, sink.samples.get(&g.desc.name), false);
                    FamilySnapshot {
                        desc: g.desc.clone(),
                        points: Points::Scalars(rows),
                        overflowed,
                    }
                }
                Family::Histogram(h) => {
                    let mut rows = Vec::new();
                    h.series
                        .for_each(|k, cell| rows.push((k.to_vec(), cell.snapshot())));
                    FamilySnapshot {
                        desc: h.desc.clone(),
                        points: Points::Histograms(rows),
                        overflowed,
                    }
                }
            }
        })
        .collect()
}

/// Adds collector samples to the series with the same labels, or appends them.
fn merge(
    rows: &mut Vec<(Vec<String>, Scalar)>,
    extra: Option<&Vec<(Vec<String>, f64)>>,
    counter: bool,
) {
    for (k, v) in extra.into_iter().flatten() {
        let add = if counter && v.fract() == 0.0 && *v >= 0.0 && *v < 9.0e15 {
            Scalar {
                whole: *v as u64,
                fraction: 0.0,
            }
        } else {
            Scalar {
                whole: 0,
                fraction: *v,
            }
        };
        match rows.iter_mut().find(|(k2, _)| k2 == k) {
            Some((_, s)) => {
                s.whole += add.whole;
                s.fraction += add.fraction;
            }
            None => rows.push((k.clone(), add)),
        }
    }
}
