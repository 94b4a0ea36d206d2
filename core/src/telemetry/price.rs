//! The model price table behind cost metrics and the prompt profile: US dollars per million input
//! and output tokens, matched on the longest model-name prefix (`gpt-4o-2024-08-06` -> `gpt-4o`).
//! The defaults are public list prices when this was written; users override any entry.

use crate::error::{check, Result};
use std::sync::{OnceLock, RwLock};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// (model prefix, $ per 1M input tokens, $ per 1M output tokens)
const DEFAULTS: &[(&str, f64, f64)] = &[
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4-turbo", 10.00, 30.00),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1", 15.00, 60.00),
    ("o1-mini", 1.10, 4.40),
    ("o3", 2.00, 8.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("text-embedding-3-small", 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.0),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-haiku", 0.25, 1.25),
    ("claude-3-opus", 15.00, 75.00),
    ("claude-opus-4", 15.00, 75.00),
    ("claude-sonnet-4-5", 3.00, 15.00),
    ("claude-haiku-4-5", 1.00, 5.00),
    ("claude-opus-4-1", 15.00, 75.00),
    ("gemini-1.5-pro", 1.25, 5.00),
    ("gemini-1.5-flash", 0.075, 0.30),
    ("gemini-2.0-flash", 0.10, 0.40),
];

/// Anthropic's prompt-cache prices as multiples of the model's input price: a cache read, and a
/// cache write with the default 5-minute lifetime.
pub const ANTHROPIC_CACHE_READ: f64 = 0.1;
pub const ANTHROPIC_CACHE_WRITE: f64 = 1.25;

pub struct PriceTable {
    // A lock, but read once per finished LLM call (milliseconds apart, not a hot path) and written
    // only when a user sets a price.
    entries: RwLock<Vec<(String, Price)>>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::with_defaults()
    }
}

impl PriceTable {
    pub fn empty() -> Self {
        Self {
            entries: RwLock::new(Vec::new()),
        }
    }

    pub fn with_defaults() -> Self {
        Self {
            entries: RwLock::new(
                DEFAULTS
                    .iter()
                    .map(|&(m, i, o)| {
                        (
                            m.to_string(),
                            Price {
                                input_per_million: i,
                                output_per_million: o,
                            },
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Sets (or replaces) the price of `model` and every model name it prefixes that has no longer
    /// entry of its own.
    pub fn set(&self, model: &str, input_per_million: f64, output_per_million: f64) -> Result<()> {
        const C: &str = "set_price";
        check::finite_non_negative(C, "input_per_million", input_per_million)?;
        check::finite_non_negative(C, "output_per_million", output_per_million)?;
        if model.is_empty() {
            return Err(crate::Error::out_of_range(
                C,
                "model",
                "\"\"",
                "a non-empty model name",
            ));
        }
        let p = Price {
            input_per_million,
            output_per_million,
        };
        let mut e = self.entries.write().unwrap_or_else(|x| x.into_inner());
        match e.iter_mut().find(|(m, _)| m == model) {
            Some((_, old)) => *old = p,
            None => e.push((model.to_string(), p)),
        }
        Ok(())
    }

    /// The price of the longest entry that `model` starts with.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        let e = self.entries.read().unwrap_or_else(|x| x.into_inner());
        e.iter()
            .filter(|(m, _)| model.starts_with(m.as_str()))
            .max_by_key(|(m, _)| m.len())
            .map(|(_, p)| *p)
    }

    /// Dollars for a call, or `None` when the model has no price.
    pub fn cost(&self, model: &str, input_tokens: u64, output_tokens: u64) -> Option<f64> {
        self.lookup(model).map(|p| {
            (input_tokens as f64 * p.input_per_million
                + output_tokens as f64 * p.output_per_million)
                / 1e6
        })
    }

    /// Dollars for a call with prompt-cache tokens, or `None` when the model has no price.
    /// `input_tokens` counts every prompt token, the cached ones included.
    ///
    /// Anthropic bills cache reads at 0.1x and cache writes at 1.25x the input price (its
    /// published prompt-caching rule, 5-minute cache). Other providers' cached tokens are billed
    /// as input: their discounts differ by model, so a user who needs them sets the price.
    pub fn call_cost(
        &self,
        provider: &str,
        model: &str,
        input_tokens: u64,
        output_tokens: u64,
        cache_read_tokens: u64,
        cache_creation_tokens: u64,
    ) -> Option<f64> {
        let p = self.lookup(model)?;
        let input = if provider == "anthropic" {
            let cached = cache_read_tokens.saturating_add(cache_creation_tokens);
            input_tokens.saturating_sub(cached) as f64
                + cache_read_tokens as f64 * ANTHROPIC_CACHE_READ
                + cache_creation_tokens as f64 * ANTHROPIC_CACHE_WRITE
        } else {
            input_tokens as f64
        };
        Some((input * p.input_per_million + output_tokens as f64 * p.output_per_million) / 1e6)
    }

    pub fn entries(&self) -> Vec<(String, Price)> {
        self.entries
            .read()
            .unwrap_or_else(|x| x.into_inner())
            .clone()
    }
}

/// The process-wide price table.
pub fn global() -> &'static PriceTable {
    static G: OnceLock<PriceTable> = OnceLock::new();
    G.get_or_init(PriceTable::with_defaults)
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn anthropic_cache_tokens_are_priced_apart_and_others_inside_input() {
        let t = PriceTable::empty();
        t.set("claude-test", 3.0, 15.0).unwrap();
        // 1M uncached input at $3 + 1M cache reads at $0.30 + 1M cache writes at $3.75 + 1M
        // output at $15 (the 3M input tokens count the cached ones).
        let c = t
            .call_cost(
                "anthropic",
                "claude-test-1",
                3_000_000,
                1_000_000,
                1_000_000,
                1_000_000,
            )
            .unwrap();
        assert!((c - (3.0 + 0.3 + 3.75 + 15.0)).abs() < 1e-9, "{c}");
        // OpenAI's cached tokens are part of prompt_tokens: no extra charge.
        let c = t
            .call_cost("openai", "claude-test-1", 1_000_000, 0, 500_000, 0)
            .unwrap();
        assert!((c - 3.0).abs() < 1e-9, "{c}");
        assert_eq!(t.call_cost("anthropic", "unknown", 1, 1, 1, 1), None);
    }
}
