//! Process-wide counts of validation outcomes (valid / repaired / invalid / re-asked) and of
//! repairs by kind, for the telemetry exporters. Striped atomics: counting costs no lock.

use super::repair::RepairKind;
use crate::striped::StripedCounter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid as given.
    Valid,
    /// Valid after repair.
    Repaired,
    /// Refused (parse, schema or limit).
    Invalid,
    /// The model was asked again with feedback (counted by the re-ask loop, once per re-ask).
    Reasked,
}

impl Verdict {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "valid" => Verdict::Valid,
            "repaired" => Verdict::Repaired,
            "invalid" => Verdict::Invalid,
            "reasked" => Verdict::Reasked,
            _ => return None,
        })
    }
}

struct Counters {
    valid: StripedCounter,
    repaired: StripedCounter,
    invalid: StripedCounter,
    reasked: StripedCounter,
    // Repairs are rare next to validations: one plain atomic per kind is enough.
    by_kind: [AtomicU64; RepairKind::ALL.len()],
}

static COUNTERS: LazyLock<Counters> = LazyLock::new(|| Counters {
    valid: StripedCounter::new(),
    repaired: StripedCounter::new(),
    invalid: StripedCounter::new(),
    reasked: StripedCounter::new(),
    by_kind: std::array::from_fn(|_| AtomicU64::new(0)),
});

#[inline]
pub fn record(v: Verdict) {
    let c = &*COUNTERS;
    match v {
        Verdict::Valid => c.valid.inc(),
        Verdict::Repaired => c.repaired.inc(),
        Verdict::Invalid => c.invalid.inc(),
        Verdict::Reasked => c.reasked.inc(),
    }
}

pub fn record_repair(kind: RepairKind) {
    COUNTERS.by_kind[kind.index()].fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationCounts {
    pub valid: u64,
    pub repaired: u64,
    pub invalid: u64,
    pub reasked: u64,
    /// Repairs applied, by kind, in `RepairKind::ALL` order.
    pub repairs: Vec<(RepairKind, u64)>,
}

pub fn snapshot() -> ValidationCounts {
    let c = &*COUNTERS;
    ValidationCounts {
        valid: c.valid.get(),
        repaired: c.repaired.get(),
        invalid: c.invalid.get(),
        reasked: c.reasked.get(),
        repairs: RepairKind::ALL
            .iter()
            .map(|&k| (k, c.by_kind[k.index()].load(Ordering::Relaxed)))
            .collect(),
    }
}
