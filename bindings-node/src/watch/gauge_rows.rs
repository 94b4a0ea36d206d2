//! A watcher's exported samples as JS rows `[name, labels, value]`: exactly what a scrape shows,
//! named and ordered by the core (`watch::gauges::rows`).

use ferrule_core::telemetry::collector::Collect;
use napi::bindgen_prelude::Either3;
use std::collections::HashMap;

pub(crate) type GaugeRow = Vec<Either3<String, HashMap<String, String>, f64>>;

pub(crate) fn gauge_rows(w: &dyn Collect) -> Vec<GaugeRow> {
    ferrule_core::watch::gauges::rows(w)
        .into_iter()
        .map(|(name, labels, value)| {
            vec![
                Either3::A(name),
                Either3::B(labels.into_iter().collect()),
                Either3::C(value),
            ]
        })
        .collect()
}
