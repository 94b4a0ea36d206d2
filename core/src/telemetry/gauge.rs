//! Gauges: a value that goes up and down (or is set), one atomic `f64` per series. Not striped:
//! `set` must be last-writer-wins, and gauges are not written per call on a hot path.

use super::desc::{Desc, Kind};
use super::float_cell::FloatCell;
use super::label_cap::LabelledSeries;
use crate::error::Result;
use std::sync::Arc;

pub type GaugeCell = FloatCell;

#[derive(Clone)]
pub struct GaugeHandle(Arc<GaugeCell>);

impl GaugeHandle {
    #[inline]
    pub fn set(&self, v: f64) {
        self.0.set(v);
    }
    #[inline]
    pub fn add(&self, d: f64) {
        self.0.add(d);
    }
    #[inline]
    pub fn inc(&self) {
        self.0.add(1.0);
    }
    #[inline]
    pub fn dec(&self) {
        self.0.add(-1.0);
    }
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

#[derive(Clone)]
pub struct Gauge {
    pub(crate) desc: Arc<Desc>,
    pub(crate) series: Arc<LabelledSeries<GaugeCell>>,
}

impl Gauge {
    pub(crate) fn new(desc: Desc, max_series: usize) -> Self {
        debug_assert_eq!(desc.kind, Kind::Gauge);
        let series = Arc::new(LabelledSeries::new(
            &desc.name,
            desc.label_names.clone(),
            max_series,
        ));
        let g = Self {
            desc: Arc::new(desc),
            series,
        };
        if g.desc.label_names.is_empty() {
            let _ = g.series.resolve(&[], GaugeCell::default);
        }
        g
    }

    pub fn desc(&self) -> &Desc {
        &self.desc
    }

    pub fn labels(&self, values: &[&str]) -> Result<GaugeHandle> {
        self.series
            .resolve(values, GaugeCell::default)
            .map(GaugeHandle)
    }

    pub fn handle(&self) -> Result<GaugeHandle> {
        self.labels(&[])
    }

    pub fn series(&self) -> &LabelledSeries<GaugeCell> {
        &self.series
    }
}
