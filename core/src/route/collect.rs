//! The router's metrics, read at scrape time from the counters it already keeps (no second
//! increment per call). Families are declared in the default registry once; bindings export a
//! router held in an `Arc` with `telemetry::collector::export`.
//!
//! | series | labels |
//! |---|---|
//! | `ferrule_router_requests_total`, `_errors_total`, `_ejections_total`, `_cooldowns_total`, `_hedges_total`, `_probes_total` | router, endpoint |
//! | `ferrule_router_outstanding`, `ferrule_router_latency_ewma_seconds`, `ferrule_router_endpoint_healthy` | router, endpoint |
//! | `ferrule_router_failovers_total`, `ferrule_router_failbacks_total` | router |
//! | `ferrule_router_active_region` (1 for the active region) | router, region |
//! | `ferrule_router_failover_rto_seconds`, `_standby_idle_seconds`, `_failback_after_seconds` (histograms) | router |

use super::endpoint::Health;
use super::router::Router;
use crate::telemetry::collector::{Collect, Sink};
use crate::telemetry::registry::global;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

const EP: [&str; 2] = ["router", "endpoint"];

pub const RTO_FAMILY: &str = "ferrule_router_failover_rto_seconds";
pub const STANDBY_IDLE_FAMILY: &str = "ferrule_router_standby_idle_seconds";
pub const AWAY_FAMILY: &str = "ferrule_router_failback_after_seconds";
/// Recovery and standby times span a fast in-process failover (sub-second) to a regional outage.
const SWITCH_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// The switch histograms of one router, observed when a switch happens (rare).
pub(crate) struct SwitchMetrics {
    pub(crate) rto: Observer,
    pub(crate) standby_idle: Observer,
    pub(crate) away: Observer,
}

/// A histogram series, or nothing when it could not be declared (logged once at declaration).
pub(crate) struct Observer(Option<crate::telemetry::histogram::HistogramHandle>);

impl Observer {
    fn new(family: &str, help: &str, router: &str) -> Self {
        let h = global()
            .histogram(family, help, &["router"], &SWITCH_BUCKETS)
            .and_then(|h| h.labels(&[router]));
        match h {
            Ok(h) => Observer(Some(h)),
            Err(e) => {
                log::warn!("ferrule router metrics: {family}: {e}");
                Observer(None)
            }
        }
    }

    pub(crate) fn observe(&self, v: f64) {
        if let Some(h) = &self.0 {
            h.observe(v);
        }
    }
}

impl SwitchMetrics {
    pub(crate) fn new(router: &str) -> Self {
        Self {
            rto: Observer::new(
                RTO_FAMILY,
                "Failover recovery time: from the first failure of the outage in the region left \
                 to the first success in the region entered.",
                router,
            ),
            standby_idle: Observer::new(
                STANDBY_IDLE_FAMILY,
                "How long the region failed over to had served no call before it took traffic.",
                router,
            ),
            away: Observer::new(
                AWAY_FAMILY,
                "How long traffic stayed on the standby before failing back to the primary.",
                router,
            ),
        }
    }
}

/// Declares the router families in the default registry, once.
pub fn families() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let r = global();
        let counters: [(&str, &str, &[&str]); 8] = [
            ("ferrule_router_requests_total", "Attempts a router sent to an endpoint.", &EP),
            ("ferrule_router_errors_total", "Attempts that failed on an endpoint.", &EP),
            ("ferrule_router_ejections_total", "Times an endpoint was ejected after consecutive failures.", &EP),
            ("ferrule_router_cooldowns_total", "Times an endpoint was cooled down (429 / Retry-After).", &EP),
            ("ferrule_router_hedges_total", "Hedged requests sent because an attempt on the endpoint was slow.", &EP),
            ("ferrule_router_probes_total", "Probe requests sent to a recovering endpoint.", &EP),
            ("ferrule_router_failovers_total", "Traffic moved from the active region to another.", &["router"]),
            ("ferrule_router_failbacks_total", "Traffic moved back to a recovered higher-priority region.", &["router"]),
        ];
        for (name, help, labels) in counters {
            if let Err(e) = r.counter(name, help, labels) {
                log::warn!("ferrule router metrics: {e}");
            }
        }
        let gauges: [(&str, &str, &[&str]); 4] = [
            ("ferrule_router_outstanding", "Calls in flight on an endpoint.", &EP),
            ("ferrule_router_latency_ewma_seconds", "Peak-EWMA latency of an endpoint's successful calls.", &EP),
            ("ferrule_router_endpoint_healthy", "1 when the endpoint takes traffic (breaker closed, not ejected, not cooling down).", &EP),
            ("ferrule_router_active_region", "1 for the region a router sends traffic to.", &["router", "region"]),
        ];
        for (name, help, labels) in gauges {
            if let Err(e) = r.gauge(name, help, labels) {
                log::warn!("ferrule router metrics: {e}");
            }
        }
    });
}

impl Collect for Router {
    fn collect(&self, sink: &mut Sink) {
        let router = self.name();
        let now = self.now_nanos();
        for e in &self.eps {
            let l = [router, e.config.name.as_str()];
            sink.sample("ferrule_router_requests", &l, e.requests.get() as f64);
            sink.sample("ferrule_router_errors", &l, e.errors.get() as f64);
            sink.sample(
                "ferrule_router_ejections",
                &l,
                e.ejections.load(Ordering::Relaxed) as f64,
            );
            sink.sample(
                "ferrule_router_cooldowns",
                &l,
                e.cooldowns.load(Ordering::Relaxed) as f64,
            );
            sink.sample(
                "ferrule_router_hedges",
                &l,
                e.hedges.load(Ordering::Relaxed) as f64,
            );
            sink.sample(
                "ferrule_router_probes",
                &l,
                e.probes.load(Ordering::Relaxed) as f64,
            );
            sink.sample("ferrule_router_outstanding", &l, e.outstanding() as f64);
            sink.sample(
                "ferrule_router_latency_ewma_seconds",
                &l,
                e.latency.get() / 1e9,
            );
            let healthy = matches!(e.health(now), Health::Healthy | Health::Full);
            sink.sample("ferrule_router_endpoint_healthy", &l, healthy as u8 as f64);
        }
        sink.sample(
            "ferrule_router_failovers",
            &[router],
            self.regions.failovers.load(Ordering::Relaxed) as f64,
        );
        sink.sample(
            "ferrule_router_failbacks",
            &[router],
            self.regions.failbacks.load(Ordering::Relaxed) as f64,
        );
        let active = self.regions.active();
        for (k, r) in self.regions.regions.iter().enumerate() {
            sink.sample(
                "ferrule_router_active_region",
                &[router, r.name.as_str()],
                (k == active) as u8 as f64,
            );
        }
    }
}
