//! What the router tells the host when its picture of the endpoints changes: a failover, a failback,
//! an ejection, a cooldown, a breaker that opened or closed. Every one is also a metric (counted by
//! the router) and a log line (the host logs each event it drains).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Traffic moved from the active region to a lower-priority one.
    Failover,
    /// Traffic moved back to a higher-priority region after it stayed healthy for the stable period.
    Failback,
    /// A failover's first success on the region it moved to; `seconds` is the recovery time (RTO):
    /// from the first failure of the outage to that success.
    Recovered,
    /// An endpoint was taken out of rotation after a run of failures.
    Ejected,
    /// An endpoint was rested because the provider said so (429 / Retry-After).
    CooledDown,
    /// An endpoint's breaker moved (open, half-open, closed).
    Breaker,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failover => "router.failover",
            EventKind::Failback => "router.failback",
            EventKind::Recovered => "router.recovered",
            EventKind::Ejected => "router.ejected",
            EventKind::CooledDown => "router.cooldown",
            EventKind::Breaker => "router.breaker",
        }
    }

    /// Switches and health losses are warnings; a failback and a breaker closing are good news.
    pub fn warning(self, to: &str) -> bool {
        match self {
            EventKind::Failback | EventKind::Recovered => false,
            EventKind::Breaker => to == "open",
            _ => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteEvent {
    pub kind: EventKind,
    pub router: String,
    /// The endpoint concerned (ejection, cooldown, breaker), or empty for region switches.
    pub endpoint: String,
    /// Region switches: the region left; breaker events: the state left.
    pub from: String,
    /// Region switches: the region entered; breaker events: the state entered.
    pub to: String,
    /// Why: `no_healthy_endpoint`, `stable_for`, `consecutive_failures`, `retry_after`, a breaker reason.
    pub reason: String,
    /// How long the endpoint is out (ejection, cooldown, breaker open); for a failover, how long ago
    /// the outage began; for a failback, how long traffic stayed away; for a recovery, the RTO.
    pub seconds: Option<f64>,
    /// Clock time, nanoseconds.
    pub at_nanos: u64,
}

impl fmt::Display for RouteEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            EventKind::Failover | EventKind::Failback => write!(
                f,
                "router {:?}: {} from region {:?} to {:?} ({})",
                self.router,
                if self.kind == EventKind::Failover {
                    "failover"
                } else {
                    "failback"
                },
                self.from,
                self.to,
                self.reason
            ),
            EventKind::Recovered => write!(
                f,
                "router {:?}: traffic flows again on region {:?} after failing over from {:?}; \
                 recovery took {:.3}s",
                self.router,
                self.to,
                self.from,
                self.seconds.unwrap_or(0.0)
            ),
            EventKind::Ejected => write!(
                f,
                "router {:?}: endpoint {:?} ejected for {:.3}s ({})",
                self.router,
                self.endpoint,
                self.seconds.unwrap_or(0.0),
                self.reason
            ),
            EventKind::CooledDown => write!(
                f,
                "router {:?}: endpoint {:?} cooling down for {:.3}s ({})",
                self.router,
                self.endpoint,
                self.seconds.unwrap_or(0.0),
                self.reason
            ),
            EventKind::Breaker => write!(
                f,
                "router {:?}: endpoint {:?} breaker {} -> {} ({})",
                self.router, self.endpoint, self.from, self.to, self.reason
            ),
        }
    }
}
