//! Maps the core's one error enum to what the JS host layer throws. A refused configuration crosses
//! as a plain object, not a napi exception: the host builds the `RangeError` / `TypeError` itself,
//! and the message speaks the Node option names and units (`openMs=-5`, not `open_seconds=-0.005`).

use ferrule_core::{ConfigProblem, Error};
use napi_derive::napi;

/// A configuration the core refused. `kind` is the JS error class the host throws.
#[napi(object)]
pub struct ConfigError {
    /// `RangeError` for a value out of range, `TypeError` for options that conflict.
    pub kind: String,
    /// Stable code, shared with the Python binding: `FERRULE_INVALID_CONFIG`.
    pub code: String,
    /// The Node option name, e.g. `openMs`.
    pub param: String,
    pub message: String,
}

/// How one core parameter is spelled and measured in the Node API, and what the caller gave for it.
pub(crate) struct NodeParam {
    pub core: &'static str,
    pub node: &'static str,
    /// The core takes seconds where Node takes milliseconds.
    pub millis: bool,
    pub given: Option<f64>,
}

/// The core validates every rule once, in its own (seconds, snake_case) terms. Rather than repeat
/// those rules in milliseconds here, the binding hands the converted config to the core and
/// translates the refusal back: the parameter becomes its Node name, the value is the one the caller
/// gave (not the converted one), and in the allowed range of a seconds parameter every quantity
/// (a number not counting `buckets`) is scaled to milliseconds. The node tests pin every message.
pub(crate) fn config_error(e: &Error, params: &[NodeParam]) -> ConfigError {
    let Error::InvalidConfig {
        component,
        param,
        value,
        allowed,
        problem,
    } = e
    else {
        return ConfigError {
            kind: "TypeError".into(),
            code: e.code().into(),
            param: String::new(),
            message: e.to_string(),
        };
    };
    let p = params.iter().find(|p| p.core == *param);
    let millis = p.is_some_and(|p| p.millis);
    let node_name = p.map_or(*param, |p| p.node);
    let value = match p.and_then(|p| p.given) {
        Some(v) => js_number(v),
        None if value == "None" => "null".to_string(),
        None => value.clone(),
    };
    // Reuse the core's own message layout, with the Node spelling put in.
    let translated = Error::InvalidConfig {
        component,
        param: node_name,
        value,
        allowed: translate(allowed, params, millis),
        problem: *problem,
    };
    ConfigError {
        kind: match problem {
            ConfigProblem::OutOfRange => "RangeError",
            ConfigProblem::Conflict
            | ConfigProblem::Unknown
            | ConfigProblem::Type
            | ConfigProblem::Missing => "TypeError",
        }
        .into(),
        code: e.code().into(),
        param: node_name.into(),
        message: translated.to_string(),
    }
}

/// Renames core parameters to Node options and, for a seconds parameter, turns seconds into ms.
fn translate(text: &str, params: &[NodeParam], millis: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = if c.is_ascii_alphabetic() || c == '_' {
            let n = token_len(rest, |c| c.is_ascii_alphanumeric() || c == '_');
            let word = &rest[..n];
            match params.iter().find(|p| p.core == word) {
                Some(p) => out.push_str(p.node),
                None if millis && word == "s" => out.push_str("ms"),
                None => out.push_str(word),
            }
            n
        } else if c.is_ascii_digit() {
            let n = number_len(rest);
            let number = &rest[..n];
            let counts_buckets = rest[n..].trim_start().starts_with("bucket");
            match number.parse::<f64>() {
                Ok(v) if millis && !counts_buckets => {
                    out.push_str(&js_number((v * 1000.0 * 1e6).round() / 1e6))
                }
                _ => out.push_str(number),
            }
            n
        } else {
            out.push(c);
            c.len_utf8()
        };
        rest = &rest[len..];
    }
    out
}

/// The length of the number at the start of `s`, exponent included (`1e-9`, `2.5E+3`), so a range
/// such as `[1e-9, 31536000]` scales as numbers, not as `1`, `e`, `-`, `9`.
fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut n = token_len(s, |c| c.is_ascii_digit() || c == '.');
    if n < b.len() && (b[n] == b'e' || b[n] == b'E') {
        let mut m = n + 1;
        if m < b.len() && (b[m] == b'-' || b[m] == b'+') {
            m += 1;
        }
        let digits = token_len(&s[m..], |c| c.is_ascii_digit());
        if digits > 0 {
            n = m + digits;
        }
    }
    n
}

fn token_len(s: &str, keep: impl Fn(char) -> bool) -> usize {
    s.find(|c: char| !keep(c)).unwrap_or(s.len())
}

/// Formats a number the way JavaScript's `String(n)` does, so messages show what the caller wrote.
pub(crate) fn js_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{v:e}");
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    if v == 0.0 {
        return "0".into(); // -0 too, as String(-0) does
    }
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(core: &'static str, node: &'static str, millis: bool, given: Option<f64>) -> NodeParam {
        NodeParam {
            core,
            node,
            millis,
            given,
        }
    }

    #[test]
    fn numbers_read_like_javascript() {
        assert_eq!(js_number(-5.0), "-5");
        assert_eq!(js_number(1.5), "1.5");
        assert_eq!(js_number(-0.0), "0");
        assert_eq!(js_number(f64::NAN), "NaN");
        assert_eq!(js_number(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(js_number(1e21), "1e+21");
        assert_eq!(js_number(1e-7), "1e-7");
        assert_eq!(js_number(1e-6), "0.000001");
        assert_eq!(js_number(31_536_000_000.0), "31536000000");
    }

    #[test]
    fn seconds_ranges_become_milliseconds() {
        let ps = [
            p("open_seconds", "openMs", true, Some(-5.0)),
            p("window_seconds", "windowMs", true, Some(3.0)),
        ];
        assert_eq!(translate("(0, 31536000]", &ps, true), "(0, 31536000000]");
        assert_eq!(
            translate("[open_seconds (30), 31536000]", &ps, true),
            "[openMs (30000), 31536000000]"
        );
        assert_eq!(
            translate(">= 0.001 s per bucket (10 buckets)", &ps, true),
            ">= 1 ms per bucket (10 buckets)"
        );
        assert_eq!(translate("(0, 1]", &ps, false), "(0, 1]");
    }

    #[test]
    fn messages_use_node_names_and_given_values() {
        let e = Error::out_of_range("CircuitBreaker", "open_seconds", -0.005, "(0, 31536000]");
        let ps = [p("open_seconds", "openMs", true, Some(-5.0))];
        let c = config_error(&e, &ps);
        assert_eq!(c.kind, "RangeError");
        assert_eq!(c.param, "openMs");
        assert_eq!(
            c.message,
            "CircuitBreaker: openMs=-5 is out of range; allowed: (0, 31536000000]"
        );
        let e = Error::conflict(
            "CircuitBreaker",
            "slow_call_rate",
            0.5,
            "it needs slow_call_seconds",
        );
        let ps = [
            p("slow_call_rate", "slowCallRate", false, Some(0.5)),
            p("slow_call_seconds", "slowCallMs", true, None),
        ];
        let c = config_error(&e, &ps);
        assert_eq!(c.kind, "TypeError");
        assert_eq!(
            c.message,
            "CircuitBreaker: slowCallRate=0.5 conflicts: it needs slowCallMs"
        );
    }
}
