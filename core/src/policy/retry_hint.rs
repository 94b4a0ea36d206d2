//! Server hints: how long a server asked us to wait, read from response headers. `Retry-After`
//! (delta seconds or an HTTP date), `retry-after-ms`, and OpenAI's `x-ratelimit-reset-requests` /
//! `x-ratelimit-reset-tokens` (durations like `1m30s`, `250ms`). Hosts pass the header values; the
//! rules for reading them live here, once.

use std::time::Duration;

/// The header values a host found on a failed response (names matched case-insensitively by the
/// host). Any may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HintHeaders<'a> {
    pub retry_after_ms: Option<&'a str>,
    pub retry_after: Option<&'a str>,
    pub reset_requests: Option<&'a str>,
    pub remaining_requests: Option<&'a str>,
    pub reset_tokens: Option<&'a str>,
    pub remaining_tokens: Option<&'a str>,
}

impl<'a> HintHeaders<'a> {
    /// The header names a host should look for, lower-case, in the order of the fields.
    pub const NAMES: [&'static str; 6] = [
        "retry-after-ms",
        "retry-after",
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-remaining-tokens",
    ];

    /// Picks the known headers out of `(name, value)` pairs; names compare case-insensitively.
    pub fn from_pairs<I: IntoIterator<Item = (&'a str, &'a str)>>(pairs: I) -> Self {
        let mut h = Self::default();
        for (k, v) in pairs {
            let slot = match k.to_ascii_lowercase().as_str() {
                "retry-after-ms" => &mut h.retry_after_ms,
                "retry-after" => &mut h.retry_after,
                "x-ratelimit-reset-requests" => &mut h.reset_requests,
                "x-ratelimit-remaining-requests" => &mut h.remaining_requests,
                "x-ratelimit-reset-tokens" => &mut h.reset_tokens,
                "x-ratelimit-remaining-tokens" => &mut h.remaining_tokens,
                _ => continue,
            };
            *slot = Some(v);
        }
        h
    }

    /// How long the server asked us to wait, or `None` when it did not say (or said nonsense).
    ///
    /// `retry-after-ms` wins, then `Retry-After`, as in the OpenAI SDKs. The rate-limit reset headers
    /// ride on every OpenAI response, so they count only for a 429, and only for a limit that is
    /// spent (its `remaining` is 0 or not given); with both spent, the longer reset wins.
    /// `now_unix_seconds` is the wall-clock time, for HTTP dates.
    pub fn hint(&self, status: Option<u16>, now_unix_seconds: f64) -> Option<Duration> {
        if let Some(d) = self.retry_after_ms.and_then(parse_millis) {
            return Some(d);
        }
        if let Some(d) = self
            .retry_after
            .and_then(|v| parse_retry_after(v, now_unix_seconds))
        {
            return Some(d);
        }
        if status != Some(429) {
            return None;
        }
        let spent = |remaining: Option<&str>| remaining.is_none_or(|r| r.trim() == "0");
        let requests = self
            .reset_requests
            .filter(|_| spent(self.remaining_requests))
            .and_then(parse_duration);
        let tokens = self
            .reset_tokens
            .filter(|_| spent(self.remaining_tokens))
            .and_then(parse_duration);
        match (requests, tokens) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The longest hint believed: a year. Anything longer is treated as nonsense and ignored.
const MAX_HINT_SECONDS: f64 = 31_536_000.0;

fn secs(s: f64) -> Option<Duration> {
    (s.is_finite() && (0.0..=MAX_HINT_SECONDS).contains(&s)).then(|| Duration::from_secs_f64(s))
}

/// `retry-after-ms`: a non-negative number of milliseconds (fractions allowed).
pub fn parse_millis(v: &str) -> Option<Duration> {
    secs(v.trim().parse::<f64>().ok()? / 1000.0)
}

/// `Retry-After`: delta seconds (`120`, fractions tolerated) or an HTTP date. A date in the past
/// means "now" (zero).
pub fn parse_retry_after(v: &str, now_unix_seconds: f64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        return secs(s);
    }
    let at = parse_http_date(v)?;
    secs((at as f64 - now_unix_seconds).max(0.0))
}

/// A Go-style duration as OpenAI sends it: `1m30s`, `6m0s`, `250ms`, `1.5s`, `2h`, `20us`.
/// Units: h, m, s, ms, us/µs, ns. A bare number is seconds.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(s) = v.parse::<f64>() {
        return secs(s);
    }
    let b = v.as_bytes();
    let mut i = 0;
    let mut total = 0.0f64;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: f64 = v[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && !(b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let unit = match &v[ustart..i] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * unit;
    }
    secs(total)
}

/// An HTTP date (RFC 9110 §5.6.7): IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete
/// RFC 850 form `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994`.
/// Returns Unix seconds.
pub fn parse_http_date(v: &str) -> Option<i64> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    let (day, month, year, time) = match parts.as_slice() {
        // IMF-fixdate: "Sun," "06" "Nov" "1994" "08:49:37" "GMT"
        [_, d, m, y, t, "GMT"] => (d.parse().ok()?, *m, y.parse::<i64>().ok()?, *t),
        // RFC 850: "Sunday," "06-Nov-94" "08:49:37" "GMT"
        [_, dmy, t, "GMT"] => {
            let mut it = dmy.split('-');
            let d = it.next()?.parse().ok()?;
            let m = it.next()?;
            let y: i64 = it.next()?.parse().ok()?;
            // Two-digit years: RFC 9110 says a year that looks more than 50 years ahead is the past.
            let y = if y < 100 {
                if y < 70 {
                    2000 + y
                } else {
                    1900 + y
                }
            } else {
                y
            };
            (d, m, y, *t)
        }
        // asctime: "Sun" "Nov" "6" "08:49:37" "1994"
        [_, m, d, t, y] => (d.parse().ok()?, *m, y.parse::<i64>().ok()?, *t),
        _ => return None,
    };
    let month = match month {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let day: i64 = day;
    if !(1..=31).contains(&day) {
        return None;
    }
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let mi: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next()?.parse().ok()?;
    if hms.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
    }
}
