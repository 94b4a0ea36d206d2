//! Counts of validation outcomes (valid / repaired / invalid / re-asked) and of repairs by kind:
//! per validator name in the metrics registry (`ferrule_validations_total{name,outcome}`,
//! `ferrule_validation_repairs_total{name,kind}`, handles resolved once at construction), and
//! process-wide totals for `validation_stats()`. Striped atomics: counting costs no lock.

use super::repair::RepairKind;
use crate::striped::StripedCounter;
use crate::telemetry::builtin::families;
use crate::telemetry::counter::CounterHandle;
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
    pub const ALL: [Verdict; 4] = [
        Verdict::Valid,
        Verdict::Repaired,
        Verdict::Invalid,
        Verdict::Reasked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Repaired => "repaired",
            Verdict::Invalid => "invalid",
            Verdict::Reasked => "reasked",
        }
    }

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

/// The registry series of one named validator, resolved once so counting a verdict is one atomic
/// add on its handle (plus the process-wide total).
pub struct Outcomes {
    name: String,
    /// In `Verdict::ALL` order; `None` only if a label set could not be resolved (a bug, asserted).
    verdicts: [Option<CounterHandle>; 4],
    repairs: [Option<CounterHandle>; RepairKind::ALL.len()],
}

impl std::fmt::Debug for Outcomes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcomes")
            .field("name", &self.name)
            .finish()
    }
}

impl Outcomes {
    /// Resolves `name`'s series in the default registry. Many distinct names fold into the
    /// registry's overflow series (counted and logged there), never an unbounded label set.
    pub fn new(name: &str) -> Self {
        let f = families();
        let resolve = |r: crate::Result<CounterHandle>| match r {
            Ok(h) => Some(h),
            Err(e) => {
                debug_assert!(false, "validation metric label mismatch: {e}");
                None
            }
        };
        Self {
            name: name.to_string(),
            verdicts: Verdict::ALL.map(|v| resolve(f.validations.labels(&[name, v.as_str()]))),
            repairs: RepairKind::ALL
                .map(|k| resolve(f.validation_repairs.labels(&[name, k.as_str()]))),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts one verdict for this validator and in the process-wide totals.
    #[inline]
    pub fn record(&self, v: Verdict) {
        record(v);
        if let Some(h) = &self.verdicts[v as usize] {
            h.inc();
        }
    }

    /// Counts one applied repair of `kind`.
    pub fn record_repair(&self, kind: RepairKind) {
        record_repair(kind);
        if let Some(h) = &self.repairs[kind.index()] {
            h.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::exposition::{render, Format};
    use crate::telemetry::registry::global;

    #[test]
    fn outcomes_land_in_the_registry_under_the_validator_name() {
        let o = Outcomes::new("stats-test");
        o.record(Verdict::Valid);
        o.record(Verdict::Valid);
        o.record(Verdict::Reasked);
        o.record_repair(RepairKind::ALL[0]);
        let f = families();
        let get = |v: &str| f.validations.labels(&["stats-test", v]).unwrap().get();
        assert_eq!(
            (get("valid"), get("reasked"), get("invalid")),
            (2.0, 1.0, 0.0)
        );
        let k = RepairKind::ALL[0].as_str();
        let h = f.validation_repairs.labels(&["stats-test", k]).unwrap();
        assert_eq!(h.get(), 1.0);
        let text = render(global(), Format::Prometheus);
        assert!(
            text.contains(r#"ferrule_validations_total{name="stats-test",outcome="valid"} 2"#),
            "{text}"
        );
    }
}
