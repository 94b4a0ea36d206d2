//! Labelled synthetic traces for the watcher evaluation: a few hours of LLM calls each, quiet or
//! with one known anomaly starting at a known time. Deterministic for a seed.

use ferrule_core::random::Random;
use ferrule_core::CallOutcome;

pub const SEC: u64 = 1_000_000_000;
pub const MIN: u64 = 60 * SEC;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Quiet,
    LatencyRegression,
    ErrorSpike,
    SlowBurn,
    Burn14x,
    CostJump,
    OutputDrift,
    ProviderDegradation,
}

/// What a detector watches; an alert is true only on a trace whose anomaly changed that signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Errors,
    Latency,
    Cost,
    Tokens,
    Output,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Quiet,
        Kind::LatencyRegression,
        Kind::ErrorSpike,
        Kind::SlowBurn,
        Kind::Burn14x,
        Kind::CostJump,
        Kind::OutputDrift,
        Kind::ProviderDegradation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Quiet => "quiet",
            Kind::LatencyRegression => "latency_regression",
            Kind::ErrorSpike => "error_spike",
            Kind::SlowBurn => "slow_burn",
            Kind::Burn14x => "burn_14x",
            Kind::CostJump => "cost_jump",
            Kind::OutputDrift => "output_drift",
            Kind::ProviderDegradation => "provider_degradation",
        }
    }

    pub fn affects(self, s: Signal) -> bool {
        use Signal::*;
        match self {
            Kind::Quiet => false,
            Kind::LatencyRegression => s == Latency,
            Kind::ErrorSpike | Kind::SlowBurn | Kind::Burn14x => s == Errors,
            // Twice the output tokens: costlier, and outputs of another length distribution.
            Kind::CostJump => s == Cost || s == Tokens || s == Output,
            Kind::OutputDrift => s == Output,
            Kind::ProviderDegradation => s == Errors || s == Latency,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Call {
    pub at: u64,
    pub outcome: CallOutcome,
    pub latency: f64,
    pub tokens: f64,
    pub cost: f64,
    pub headroom: f64,
    /// Every `output_every`-th call's answer text (what a drift watcher samples).
    pub output: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Trace {
    pub calls: Vec<Call>,
    pub onset: Option<u64>,
    pub end: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub duration_min: u64,
    pub calls_per_min: f64,
    pub output_every: usize,
}

struct Gen(Random);

impl Gen {
    fn u(&self) -> f64 {
        self.0.next_f64()
    }
    fn normal(&self) -> f64 {
        let (a, b) = (self.u().max(1e-12), self.u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
    fn lognormal(&self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
    fn pick<'a>(&self, xs: &[&'a str]) -> &'a str {
        xs[(self.0.next_u64() % xs.len() as u64) as usize]
    }
    fn int(&self, lo: u64, hi: u64) -> u64 {
        lo + self.0.next_u64() % (hi - lo + 1)
    }
}

const DAYS: [&str; 5] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
const MONTHS: [&str; 4] = ["January", "March", "June", "October"];

/// Family A: the support assistant's usual answers.
fn usual_answer(g: &Gen) -> String {
    match g.int(0, 5) {
        0 => format!(
            "Thanks for reaching out! Your order #{} has shipped and should arrive by {}.",
            g.int(10000, 99999),
            g.pick(&DAYS)
        ),
        1 => format!(
            "I checked your account: the invoice for {} is {} dollars and is due on {}.",
            g.pick(&MONTHS),
            g.int(20, 900),
            g.pick(&DAYS)
        ),
        2 => "To reset your password, open Settings, choose Security, then follow the link we email you.".to_string(),
        3 => format!(
            "Your subscription renews on {} {}. You can change the plan any time from the Billing page.",
            g.pick(&MONTHS),
            g.int(1, 28)
        ),
        4 => format!(
            "I'm sorry about the delay with order #{}. I have asked the warehouse to prioritise it today.",
            g.int(10000, 99999)
        ),
        _ => format!(
            "Good news: the refund of {} dollars was approved and will reach your card within {} business days.",
            g.int(5, 300),
            g.int(3, 7)
        ),
    }
}

/// Family B: after a silent model update, terse JSON and refusals.
fn drifted_answer(g: &Gen) -> String {
    match g.int(0, 2) {
        0 => format!(
            "{{\"status\": \"shipped\", \"order_id\": {}, \"eta_day\": \"{}\", \"confidence\": 0.{}}}",
            g.int(10000, 99999),
            g.pick(&DAYS).to_lowercase(),
            g.int(10, 99)
        ),
        1 => "As an AI language model, I am unable to access personal account information. Please contact a human agent.".to_string(),
        _ => format!(
            "{{\"invoice_month\": \"{}\", \"amount_usd\": {}, \"due\": \"{}\"}}",
            g.pick(&MONTHS).to_lowercase(),
            g.int(20, 900),
            g.pick(&DAYS).to_lowercase()
        ),
    }
}

/// One trace. Anomalies start between half and three quarters of the way in, after every detector
/// warmed up. A slow burn is only judged once the 1x rule's 6 h short window has filled, so its
/// traces run 10 hours.
pub fn generate(kind: Kind, seed: u64, shape: Shape) -> Trace {
    let shape = if kind == Kind::SlowBurn {
        Shape {
            duration_min: shape.duration_min.max(600),
            ..shape
        }
    } else {
        shape
    };
    let g = Gen(Random::seeded(
        seed.wrapping_mul(0x9E37_79B9).wrapping_add(kind as u64),
    ));
    let start = 10 * SEC;
    let end = start + shape.duration_min * MIN;
    let onset = (kind != Kind::Quiet)
        .then(|| start + (shape.duration_min * MIN) / 2 + g.int(0, shape.duration_min / 4) * MIN);
    // A quiet trace still has one wild latency, and one minute with three errors.
    let blip = start + g.int(20, shape.duration_min - 20) * MIN;
    let mut calls = Vec::with_capacity((shape.duration_min as f64 * shape.calls_per_min) as usize);
    let mut t = start;
    let mut n = 0usize;
    let mut blip_errors = 0;
    let mut blip_latency_done = false;
    loop {
        t += (-(g.u().max(1e-12)).ln() / shape.calls_per_min * 60.0 * 1e9) as u64;
        if t >= end {
            break;
        }
        n += 1;
        let since = onset
            .filter(|o| t >= *o)
            .map(|o| (t - o) as f64 / MIN as f64);
        let mut p_error = 0.0003;
        let mut p_429 = 0.0002;
        let mut p_timeout = 0.0;
        let mut latency_factor = 1.0;
        let mut token_factor = 1.0;
        let mut headroom = 0.45 + 0.45 * g.u();
        let mut drifted = false;
        if let Some(m) = since {
            match kind {
                Kind::Quiet => {}
                Kind::LatencyRegression => latency_factor = 1.6,
                Kind::ErrorSpike => {
                    if m < 30.0 {
                        p_error = 0.05
                    }
                }
                Kind::SlowBurn => p_error = 0.005 - p_429,
                Kind::Burn14x => p_error = 0.0144 - p_429,
                Kind::CostJump => token_factor = 2.0,
                Kind::OutputDrift => drifted = g.u() < 0.8,
                Kind::ProviderDegradation => {
                    // 20 minutes of rising 429s and shrinking rate-limit headroom, then failures.
                    let ramp = (m / 20.0).min(1.0);
                    p_429 = 0.25 * ramp;
                    headroom = (0.7 * (1.0 - ramp) + 0.02) * (0.8 + 0.4 * g.u());
                    latency_factor = 1.0 + 0.4 * ramp;
                    let fail = ((m - 20.0) / 10.0).clamp(0.0, 1.0);
                    p_error = 0.0003 + 0.45 * fail;
                    p_timeout = 0.25 * fail;
                }
            }
        }
        let r = g.u();
        let mut outcome = if r < p_429 {
            CallOutcome::RateLimited
        } else if r < p_429 + p_timeout {
            CallOutcome::Timeout
        } else if r < p_429 + p_timeout + p_error {
            CallOutcome::Error
        } else {
            CallOutcome::Ok
        };
        let mut latency = g.lognormal(1.2, 0.3) * latency_factor;
        if kind == Kind::Quiet && t >= blip {
            if !blip_latency_done {
                latency *= 10.0;
                blip_latency_done = true;
            }
            if blip_errors < 3 && t < blip + MIN {
                outcome = CallOutcome::Error;
                blip_errors += 1;
            }
        }
        if outcome == CallOutcome::Timeout {
            latency = 30.0;
        }
        let tokens = (g.lognormal(250.0, 0.25) * token_factor).round();
        let cost = (600.0 * 0.5 + tokens * 1.5) / 1e6;
        let output = n.is_multiple_of(shape.output_every).then(|| {
            if drifted {
                drifted_answer(&g)
            } else {
                usual_answer(&g)
            }
        });
        calls.push(Call {
            at: t,
            outcome,
            latency,
            tokens,
            cost,
            headroom,
            output,
        });
    }
    Trace { calls, onset, end }
}
