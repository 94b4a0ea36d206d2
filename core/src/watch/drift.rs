//! Output drift: a baseline window of output vectors (from the built-in hashing embedder or a user
//! embedder) against the current window, judged by centroid cosine distance and MMD with a
//! permutation p-value; output lengths and token counts by PSI. The baseline update policy is
//! explicit: fixed (the first outputs, forever), rolling (the outputs just before the current
//! window) or manual (kept until `accept()` makes the current window the new baseline).
//! Memory is fixed by the window sizes: `(baseline + window) * (4 * dim + 16)` bytes.

use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::random::Random;
use crate::watch::embed::{cosine, normalize, HashingEmbedder};
use crate::watch::event::{Event, EventState, Severity};
use crate::watch::mmd::mmd_test;
use crate::watch::psi::psi_test;
use std::collections::VecDeque;
use std::sync::Mutex;

const C: &str = "DriftDetector";
const PSI_NOISE_ALPHA: f64 = 0.001;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselinePolicy {
    Fixed,
    Rolling,
    Manual,
}

impl BaselinePolicy {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "fixed" => Ok(Self::Fixed),
            "rolling" => Ok(Self::Rolling),
            "manual" => Ok(Self::Manual),
            _ => Err(Error::out_of_range(
                C,
                "baseline",
                format!("{s:?}"),
                "\"fixed\", \"rolling\", \"manual\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Rolling => "rolling",
            Self::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DriftConfig {
    pub name: String,
    /// Dimensions of the built-in embedder; with a user embedder the first vector fixes it.
    pub dim: usize,
    pub baseline_size: u32,
    pub window_size: u32,
    /// Outputs between two checks.
    pub check_every: u32,
    pub permutations: u32,
    /// MMD p-value below which the vectors drifted...
    pub p_value: f64,
    /// ...provided the centroids are at least this far apart (cosine distance): an effect size, so a
    /// large sample does not flag a negligible change.
    pub min_distance: f64,
    /// PSI above which lengths or token counts drifted (checked once the window is full).
    pub psi_threshold: f64,
    pub psi_bins: u32,
    /// Checks in a row that must agree before firing or resolving.
    pub consecutive: u32,
    pub policy: BaselinePolicy,
    pub severity: Severity,
    pub seed: u64,
}

impl DriftConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            dim: 256,
            baseline_size: 200,
            window_size: 100,
            check_every: 25,
            permutations: 200,
            p_value: 0.01,
            min_distance: 0.01,
            psi_threshold: 0.25,
            psi_bins: 8,
            consecutive: 3,
            policy: BaselinePolicy::Fixed,
            severity: Severity::Warning,
            seed: 0x00d5_1f7a,
        }
    }

    pub fn validate(&self) -> Result<()> {
        check::int_range(C, "dim", self.dim as u64, 8, 4096)?;
        check::int_range(C, "baseline_size", self.baseline_size as u64, 20, 2000)?;
        check::int_range(C, "window_size", self.window_size as u64, 20, 2000)?;
        check::int_range(
            C,
            "check_every",
            self.check_every as u64,
            1,
            self.window_size as u64,
        )?;
        check::int_range(C, "permutations", self.permutations as u64, 20, 10_000)?;
        check::rate(C, "p_value", self.p_value)?;
        check::finite_non_negative(C, "min_distance", self.min_distance)?;
        check::finite_positive(C, "psi_threshold", self.psi_threshold)?;
        check::int_range(C, "psi_bins", self.psi_bins as u64, 2, 50)?;
        check::int_range(C, "consecutive", self.consecutive as u64, 1, 100)?;
        Ok(())
    }
}

/// One output's measurements.
#[derive(Debug, Clone)]
struct Sample {
    vector: Box<[f32]>,
    length: f64,
    tokens: f64,
}

/// The last check's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DriftCheck {
    pub distance: f64,
    pub mmd2: f64,
    pub p_value: f64,
    pub psi_length: f64,
    pub psi_tokens: f64,
    pub drifted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DriftSnapshot {
    pub name: String,
    pub policy: BaselinePolicy,
    pub dim: usize,
    pub baseline_len: usize,
    pub window_len: usize,
    pub outputs: u64,
    pub checks: u64,
    pub last: Option<DriftCheck>,
    pub firing: bool,
}

struct State {
    dim: Option<usize>,
    baseline: VecDeque<Sample>,
    window: VecDeque<Sample>,
    since_check: u32,
    streak: u32,
    firing: bool,
    outputs: u64,
    checks: u64,
    last: Option<DriftCheck>,
    scratch: Vec<f32>,
    scratch64: Vec<f64>,
}

pub struct DriftDetector {
    cfg: DriftConfig,
    clock: ClockRef,
    embedder: HashingEmbedder,
    rng: Random,
    // A mutex: a check reads both windows whole and runs the permutation test over them, which has
    // to see one consistent pair. Drift is fed once per finished call's output, never on the
    // admission path, and a check runs once every `check_every` outputs.
    state: Mutex<State>,
}

impl DriftDetector {
    pub fn new(cfg: DriftConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        cfg.validate()?;
        let n = (cfg.baseline_size + cfg.window_size) as usize;
        Ok(Self {
            embedder: HashingEmbedder::new(cfg.dim),
            rng: Random::seeded(cfg.seed),
            state: Mutex::new(State {
                dim: None,
                baseline: VecDeque::with_capacity(cfg.baseline_size as usize),
                window: VecDeque::with_capacity(cfg.window_size as usize + 1),
                since_check: 0,
                streak: 0,
                firing: false,
                outputs: 0,
                checks: 0,
                last: None,
                scratch: Vec::with_capacity(n * n),
                scratch64: Vec::with_capacity(cfg.baseline_size as usize),
            }),
            cfg,
            clock: clock.into(),
        })
    }

    pub fn config(&self) -> &DriftConfig {
        &self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Observes one output text with the built-in embedder. `tokens` may be NaN when unknown.
    pub fn observe_text(&self, text: &str, tokens: f64) -> Result<Vec<Event>> {
        self.observe_text_at(text, tokens, self.clock.now_nanos())
    }

    pub fn observe_text_at(&self, text: &str, tokens: f64, at_nanos: u64) -> Result<Vec<Event>> {
        let v = self.embedder.embed(text);
        self.push(v, text.chars().count() as f64, tokens, at_nanos)
    }

    /// Observes one output already embedded by the user's embedder.
    pub fn observe_vector_at(
        &self,
        vector: Vec<f32>,
        length: f64,
        tokens: f64,
        at_nanos: u64,
    ) -> Result<Vec<Event>> {
        if vector.is_empty() || vector.iter().any(|x| !x.is_finite()) {
            return Err(Error::out_of_range(
                C,
                "vector",
                format!("<{} floats>", vector.len()),
                "a non-empty vector of finite numbers",
            ));
        }
        let mut v = vector;
        normalize(&mut v);
        self.push(v, length, tokens, at_nanos)
    }

    fn push(
        &self,
        vector: Vec<f32>,
        length: f64,
        tokens: f64,
        at_nanos: u64,
    ) -> Result<Vec<Event>> {
        let mut s = self.lock();
        let dim = *s.dim.get_or_insert(vector.len());
        if vector.len() != dim {
            return Err(Error::conflict(
                C,
                "vector",
                format!("<{} floats>", vector.len()),
                format!("every vector must have the first vector's {dim} dimensions"),
            ));
        }
        s.outputs += 1;
        let sample = Sample {
            vector: vector.into_boxed_slice(),
            length,
            tokens,
        };
        let (nb, nw) = (
            self.cfg.baseline_size as usize,
            self.cfg.window_size as usize,
        );
        if s.baseline.len() < nb {
            s.baseline.push_back(sample);
            return Ok(Vec::new());
        }
        s.window.push_back(sample);
        if s.window.len() > nw {
            let old = s.window.pop_front().expect("window is over-full");
            if self.cfg.policy == BaselinePolicy::Rolling {
                s.baseline.pop_front();
                s.baseline.push_back(old);
            }
        }
        s.since_check += 1;
        let mut events = Vec::new();
        if s.since_check >= self.cfg.check_every && s.window.len() >= self.cfg.check_every as usize
        {
            s.since_check = 0;
            let c = self.check(&mut s, dim);
            s.checks += 1;
            s.last = Some(c);
            if c.drifted == s.firing {
                s.streak = 0;
            } else {
                s.streak += 1;
                if s.streak >= self.cfg.consecutive {
                    s.streak = 0;
                    s.firing = c.drifted;
                    let state = if c.drifted {
                        EventState::Firing
                    } else {
                        EventState::Resolved
                    };
                    events.push(self.event(state, &c, at_nanos));
                }
            }
        }
        Ok(events)
    }

    fn check(&self, s: &mut State, dim: usize) -> DriftCheck {
        let flat = |q: &VecDeque<Sample>| -> Vec<f32> {
            let mut v = Vec::with_capacity(q.len() * dim);
            q.iter().for_each(|x| v.extend_from_slice(&x.vector));
            v
        };
        let (x, y) = (flat(&s.baseline), flat(&s.window));
        let centroid = |f: &[f32], n: usize| -> Vec<f32> {
            let mut c = vec![0.0f32; dim];
            for r in f.chunks_exact(dim) {
                c.iter_mut().zip(r).for_each(|(a, b)| *a += b);
            }
            c.iter_mut().for_each(|a| *a /= n as f32);
            c
        };
        let distance = 1.0
            - cosine(
                &centroid(&x, s.baseline.len()),
                &centroid(&y, s.window.len()),
            );
        let mmd = mmd_test(
            &x,
            &y,
            dim,
            self.cfg.permutations,
            &self.rng,
            &mut s.scratch,
        );
        let full = s.window.len() >= self.cfg.window_size as usize;
        let (mut psi_length, mut psi_tokens) = (0.0, 0.0);
        let (mut length_shift, mut token_shift) = (false, false);
        if full {
            let bins = self.cfg.psi_bins as usize;
            // PSI must pass both the rule-of-thumb threshold and what chance reaches at these
            // sample sizes (one in a thousand), since a window of 100 often shows PSI 0.25 by luck.
            let alpha = PSI_NOISE_ALPHA;
            let bl: Vec<f64> = s.baseline.iter().map(|x| x.length).collect();
            let wl: Vec<f64> = s.window.iter().map(|x| x.length).collect();
            let l = psi_test(&bl, &wl, bins, alpha, &mut s.scratch64);
            let bt: Vec<f64> = s.baseline.iter().map(|x| x.tokens).collect();
            let wt: Vec<f64> = s.window.iter().map(|x| x.tokens).collect();
            let t = psi_test(&bt, &wt, bins, alpha, &mut s.scratch64);
            psi_length = l.value;
            psi_tokens = t.value;
            length_shift = l.value > self.cfg.psi_threshold.max(l.noise);
            token_shift = t.value > self.cfg.psi_threshold.max(t.noise);
        }
        let drifted = (mmd.p_value < self.cfg.p_value && distance >= self.cfg.min_distance)
            || length_shift
            || token_shift;
        DriftCheck {
            distance,
            mmd2: mmd.mmd2,
            p_value: mmd.p_value,
            psi_length,
            psi_tokens,
            drifted,
        }
    }

    /// Makes the current window the new baseline (any policy; the only way for `manual`). The
    /// window starts empty and a firing drift resolves.
    pub fn accept(&self) -> Vec<Event> {
        self.accept_at(self.clock.now_nanos())
    }

    pub fn accept_at(&self, at_nanos: u64) -> Vec<Event> {
        let mut s = self.lock();
        // Drain rather than take, so both windows keep their allocations (the memory bound).
        let State {
            baseline, window, ..
        } = &mut *s;
        baseline.clear();
        baseline.extend(window.drain(..));
        s.since_check = 0;
        s.streak = 0;
        let mut events = Vec::new();
        if s.firing {
            s.firing = false;
            let last = s.last.unwrap_or_default();
            events.push(self.event(EventState::Resolved, &last, at_nanos));
        }
        events
    }

    pub fn snapshot(&self) -> DriftSnapshot {
        let s = self.lock();
        DriftSnapshot {
            name: self.cfg.name.clone(),
            policy: self.cfg.policy,
            dim: s.dim.unwrap_or(self.cfg.dim),
            baseline_len: s.baseline.len(),
            window_len: s.window.len(),
            outputs: s.outputs,
            checks: s.checks,
            last: s.last,
            firing: s.firing,
        }
    }

    /// Bytes the windows hold when full (the bound), plus the kernel scratch.
    pub fn max_heap_bytes(&self) -> usize {
        let dim = self.lock().dim.unwrap_or(self.cfg.dim);
        let n = (self.cfg.baseline_size + self.cfg.window_size) as usize;
        (n + 1) * (dim * 4 + std::mem::size_of::<Sample>()) + n * n * 4
    }

    /// Bytes the windows hold now.
    pub fn heap_bytes(&self) -> usize {
        let s = self.lock();
        let inline = (s.baseline.capacity() + s.window.capacity()) * std::mem::size_of::<Sample>();
        let vectors = (s.baseline.len() + s.window.len()) * s.dim.unwrap_or(0) * 4;
        inline + vectors + s.scratch.capacity() * 4
    }

    fn event(&self, state: EventState, c: &DriftCheck, at_nanos: u64) -> Event {
        let labels = vec![
            ("detector".to_string(), self.cfg.name.clone()),
            ("baseline".to_string(), self.cfg.policy.as_str().to_string()),
        ];
        let message = match state {
            EventState::Firing => format!(
                "outputs of {} drifted from the baseline: centroid distance {:.3}, MMD p={:.4}, \
                 length PSI {:.2}, token PSI {:.2}",
                self.cfg.name, c.distance, c.p_value, c.psi_length, c.psi_tokens
            ),
            EventState::Resolved => {
                format!("outputs of {} match the baseline again", self.cfg.name)
            }
        };
        Event {
            name: "drift.output",
            dedup_key: Event::key("drift.output", &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity: self.cfg.severity,
            state,
            labels,
            value: c.p_value,
            threshold: self.cfg.p_value,
            message,
            at_nanos,
        }
    }
}
