//! Server hints: how long a server asked us to wait, read from response headers. `Retry-After`
//! (delta seconds or an HTTP date), `retry-after-ms`, and OpenAI's `x-ratelimit-reset-requests` /
//! `x-ratelimit-reset-tokens` (durations like `1m30s`, `250ms`), and Anthropic's
//! `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset` (RFC 3339 timestamps).
//! Hosts pass the header values; the rules for reading them live here, once.

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
    /// Anthropic's limits, `[requests, tokens, input-tokens, output-tokens]`: when each is full
    /// again (an RFC 3339 timestamp) and how much of it is left.
    pub anthropic_reset: [Option<&'a str>; 4],
    pub anthropic_remaining: [Option<&'a str>; 4],
}

impl<'a> HintHeaders<'a> {
    /// The header names a host should look for, lower-case, in the order of the fields.
    pub const NAMES: [&'static str; 14] = [
        "retry-after-ms",
        "retry-after",
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-remaining-tokens",
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
        "anthropic-ratelimit-output-tokens-remaining",
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
                "anthropic-ratelimit-requests-reset" => &mut h.anthropic_reset[0],
                "anthropic-ratelimit-requests-remaining" => &mut h.anthropic_remaining[0],
                "anthropic-ratelimit-tokens-reset" => &mut h.anthropic_reset[1],
                "anthropic-ratelimit-tokens-remaining" => &mut h.anthropic_remaining[1],
                "anthropic-ratelimit-input-tokens-reset" => &mut h.anthropic_reset[2],
                "anthropic-ratelimit-input-tokens-remaining" => &mut h.anthropic_remaining[2],
                "anthropic-ratelimit-output-tokens-reset" => &mut h.anthropic_reset[3],
                "anthropic-ratelimit-output-tokens-remaining" => &mut h.anthropic_remaining[3],
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
    /// spent (its `remaining` is 0 or not given); with several spent, the longest reset wins.
    /// Anthropic's resets are instants (RFC 3339), read the same way: the wait is until then.
    /// `now_unix_seconds` is the wall-clock time, for HTTP dates and RFC 3339 instants.
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
        let anthropic = (0..4).filter_map(|i| {
            self.anthropic_reset[i]
                .filter(|_| spent(self.anthropic_remaining[i]))
                .and_then(parse_rfc3339)
                .and_then(|at| secs((at - now_unix_seconds).max(0.0)))
        });
        [requests, tokens]
            .into_iter()
            .flatten()
            .chain(anthropic)
            .max()
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

/// An RFC 3339 instant (`2026-12-07T21:30:05Z`, `2026-12-07T21:30:05.250+01:00`; `t`/`z` and
/// a space for `T` accepted), as Unix seconds with the fraction kept.
pub fn parse_rfc3339(v: &str) -> Option<f64> {
    let v = v.trim();
    let b = v.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = v.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &v[19..];
    let mut frac = 0.0;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        frac = format!("0.{}", &f[..n]).parse().ok()?;
        rest = &f[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let whole = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    Some(whole as f64 + frac)
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
    fn rfc3339_instants() {
        assert_eq!(parse_rfc3339("1994-11-06T08:49:37Z"), Some(784_111_777.0));
        assert_eq!(
            parse_rfc3339("1994-11-06T09:49:37.5+01:00"),
            Some(784_111_777.5)
        );
        assert_eq!(
            parse_rfc3339("1994-11-06 03:49:37-05:00"),
            Some(784_111_777.0)
        );
        for bad in [
            "",
            "1994-11-06",
            "1994-11-06T08:49:37",
            "1994-13-06T08:49:37Z",
            "1994-11-06T08:49:37.Z",
            "1994-11-06T08:49:37+0100",
            "1994-11-06T08:49:37Z trailing",
            "+994-11-06T08:49:37Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn anthropic_resets_count_on_a_429_for_spent_limits() {
        let now = 784_111_777.0;
        for (i, name) in [
            "anthropic-ratelimit-requests-reset",
            "anthropic-ratelimit-tokens-reset",
            "anthropic-ratelimit-input-tokens-reset",
            "anthropic-ratelimit-output-tokens-reset",
        ]
        .into_iter()
        .enumerate()
        {
            let at = "1994-11-06T08:49:39.500Z";
            let h = HintHeaders::from_pairs([(name, at)]);
            assert_eq!(h.anthropic_reset[i], Some(at));
            assert_eq!(
                h.hint(Some(429), now),
                Some(Duration::from_millis(2500)),
                "{name}"
            );
            // Not a 429: the reset headers ride on every response and mean nothing then.
            assert_eq!(h.hint(Some(529), now), None, "{name}");
            // A limit with room left is not the one that was hit.
            let remaining = name.replace("-reset", "-remaining");
            let h = HintHeaders::from_pairs([(name, at), (remaining.as_str(), "12")]);
            assert_eq!(h.hint(Some(429), now), None, "{name}");
        }
        // Several spent: the longest wait; an instant in the past is no wait; retry-after wins.
        let h = HintHeaders::from_pairs([
            ("anthropic-ratelimit-requests-reset", "1994-11-06T08:49:38Z"),
            (
                "Anthropic-RateLimit-Output-Tokens-Reset",
                "1994-11-06T08:49:47Z",
            ),
            ("anthropic-ratelimit-output-tokens-remaining", "0"),
        ]);
        assert_eq!(h.hint(Some(429), now), Some(Duration::from_secs(10)));
        let h =
            HintHeaders::from_pairs([("anthropic-ratelimit-tokens-reset", "1994-11-06T08:49:30Z")]);
        assert_eq!(h.hint(Some(429), now), Some(Duration::ZERO));
        let h = HintHeaders::from_pairs([
            ("retry-after", "3"),
            ("anthropic-ratelimit-tokens-reset", "1994-11-06T08:49:47Z"),
        ]);
        assert_eq!(h.hint(Some(429), now), Some(Duration::from_secs(3)));
        // On a 529 (overloaded) only retry-after counts.
        let h = HintHeaders::from_pairs([("retry-after", "2")]);
        assert_eq!(h.hint(Some(529), now), Some(Duration::from_secs(2)));
    }

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
