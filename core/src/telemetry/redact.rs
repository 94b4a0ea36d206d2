//! PII and secret masking, applied in the core before anything leaves the process (log events, span
//! attributes, the inference log) and public as `redact(text)`. Each finding becomes a typed
//! placeholder: `[EMAIL]`, `[PHONE]`, `[CARD]`, `[IP]`, `[SECRET]`, `[NATIONAL_ID]`, or a user
//! pattern's own name. Every built-in rule is listed, with what it matches, in docs/hardening.md.
//!
//! One byte pass counts what each built-in kind needs (an `@`, enough digits, two colons, a secret
//! marker such as `sk-` or `eyJ`), so clean text costs one scan and no regex; only the rules whose
//! needs are met run, and their matches are validated (Luhn for cards, address parsing for IPs,
//! digit counts for phones) so ordinary numbers stay untouched. User patterns always run.

use crate::error::{Error, Result};
use crate::striped::StripedCounter;
use aho_corasick::AhoCorasick;
use regex::Regex;
use std::borrow::Cow;
use std::sync::Arc;

const COMPONENT: &str = "redact";

/// A user callback run after the built-in and user patterns; `Err` keeps the pattern-masked text
/// and is counted.
pub type RedactCallback = Arc<dyn Fn(&str) -> std::result::Result<String, String> + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    Luhn,
    Ipv4,
    Ipv6,
    Phone,
    /// Japan's domestic numbers: 10 digits (landline) or 11 (mobile, IP phone).
    JpPhone,
    /// Japan's 12-digit individual number (My Number), validated by its check digit.
    MyNumber,
}

/// What a text must contain before a built-in rule can match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Marker,
    At,
    Colons,
    Dotted,
    Digits(u32),
    Always,
}

struct Rule {
    regex: Regex,
    need: Need,
    placeholder: Arc<str>,
    check: Check,
    /// When the pattern has a capture group, only group 1 is masked (`Bearer [SECRET]`).
    group: bool,
}

/// Built-in rules, in priority order: when two findings overlap, the one starting first wins, and
/// on a tie the earlier rule.
const BUILTIN: &[(&str, &str, Check, Need)] = &[
    // JWT: header and payload are base64url JSON objects, so both start with `eyJ`.
    (
        r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{12,}=*)",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        r"\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{20,}",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    // AWS secret access keys are 40 base64 characters with no prefix of their own, so only a
    // labelled one is recognised: `aws_secret_access_key = ...`, `"SecretAccessKey": "..."`.
    (
        r#"(?i)(?:aws_?)?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})"#,
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    // PEM private keys (RSA, EC, OPENSSH, PKCS#8, encrypted), whole block; a block cut off before
    // its END line is masked to the end of the text.
    (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\z)",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    // Credentials in `key=value` / `key: value` form: only the value is masked.
    (
        r#"(?i)\b(?:password|passwd|passphrase|pwd|client_?secret|api[_-]?key|(?:access|auth|refresh|api|session)[_-]?token)["']?\s*[:=]\s*["']?([^\s"'&,;]{1,512})"#,
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    // GitHub fine-grained personal access tokens.
    (
        r"\bgithub_pat_[A-Za-z0-9_]{22,}",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        r"\bAIza[0-9A-Za-z_-]{30,}",
        "SECRET",
        Check::None,
        Need::Marker,
    ),
    (
        // Internationalised too (RFC 6531): letters and digits of any script in both parts.
        r"[\p{L}\p{N}._%+-]+@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*\.\p{L}{2,}\b",
        "EMAIL",
        Check::None,
        Need::At,
    ),
    (
        r"(?i)(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?|::[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6}|(?:[0-9a-f]{1,4}:){6}\d{1,3}(?:\.\d{1,3}){3}",
        "IP",
        Check::Ipv6,
        Need::Colons,
    ),
    (
        r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
        "IP",
        Check::Ipv4,
        Need::Dotted,
    ),
    (
        r"\b(?:\d{4}[ -]){3}\d{1,7}\b|\b\d{4}[ -]\d{6}[ -]\d{4,5}\b|\b\d{13,19}\b",
        "CARD",
        Check::Luhn,
        Need::Digits(13),
    ),
    (
        r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{2,10}){1,4}\b|\+\d{8,15}\b|(?:\(\d{3}\)\s?|\b\d{3}[.-])\d{3}[.-]\d{4}\b|\b\d{3} \d{3} \d{4}\b",
        "PHONE",
        Check::Phone,
        Need::Digits(7),
    ),
    // Japan, domestic format: `090-1234-5678`, `03-1234-5678`, `0120-123-456`, `09012345678`.
    (
        r"\b0\d{1,4}-\d{1,4}-\d{3,4}\b|\b0[5789]0\d{8}\b",
        "PHONE",
        Check::JpPhone,
        Need::Digits(10),
    ),
    // Japan's My Number: 12 digits, plain or in groups of four, with a valid check digit.
    (
        r"\b\d{4}[ -]?\d{4}[ -]?\d{4}\b",
        "NATIONAL_ID",
        Check::MyNumber,
        Need::Digits(12),
    ),
];

/// The masking engine. Build once (at `configure`), share by `Arc`; `redact` takes `&self`.
/// Substrings without which no built-in secret rule can match (checked case-insensitively).
const SECRET_MARKERS: &[&str] = &[
    "eyJ",
    "bearer",
    "sk-",
    "sk_",
    "rk_",
    "akia",
    "asia",
    "abia",
    "acca",
    "secret",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "xox",
    "aiza",
    "github_pat_",
    "private key",
    "passw",
    "passphrase",
    "pwd",
    "api_key",
    "apikey",
    "api-key",
    "token",
];

/// The shortest text any built-in secret rule can match (`pwd=x`).
const MIN_SECRET_LEN: usize = 5;

/// The fewest digits a built-in digit rule needs: `Need::Digits(7)` (phones); a dotted IPv4
/// address needs four.
const MIN_RULE_DIGITS: u32 = 4;

pub struct Redactor {
    markers: AhoCorasick,
    rules: Vec<Rule>,
    /// The user patterns as given, so a new callback can keep them.
    user: Vec<(String, String)>,
    callback: Option<RedactCallback>,
    callback_errors: StripedCounter,
    /// User patterns run on every text, so the clean-text shortcut is off when there are any.
    has_user_rules: bool,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Redactor({} rules, callback: {})",
            self.rules.len(),
            self.callback.is_some()
        )
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new(&[], None).expect("built-in patterns compile")
    }
}

impl Redactor {
    /// `user` patterns are `(name, regex)`; a match becomes `[NAME]` (`[REDACTED]` for an empty name).
    pub fn new(user: &[(String, String)], callback: Option<RedactCallback>) -> Result<Self> {
        let mut rules = Vec::new();
        for (re, name, check, need) in BUILTIN {
            let regex = Regex::new(re).expect("built-in pattern");
            rules.push(Rule {
                need: *need,
                group: regex.captures_len() > 1,
                regex,
                placeholder: format!("[{name}]").into(),
                check: *check,
            });
        }
        for (name, re) in user {
            let regex = Regex::new(re).map_err(|e| {
                Error::out_of_range(
                    COMPONENT,
                    "redact_patterns",
                    format!("{re:?}"),
                    format!("a valid regular expression ({e})"),
                )
            })?;
            let label = if name.is_empty() {
                "REDACTED".to_string()
            } else {
                name.to_uppercase()
            };
            rules.push(Rule {
                need: Need::Always,
                group: regex.captures_len() > 1,
                regex,
                placeholder: format!("[{label}]").into(),
                check: Check::None,
            });
        }
        // A full DFA without a prefilter: the texts are short, where a prefilter's setup costs
        // more than the one table step per byte it would skip.
        let markers = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .prefilter(false)
            .build(SECRET_MARKERS)
            .expect("markers compile");
        Ok(Self {
            markers,
            has_user_rules: !user.is_empty(),
            rules,
            user: user.to_vec(),
            callback,
            callback_errors: StripedCounter::new(),
        })
    }

    /// How many times the user callback failed (its input was still pattern-masked).
    pub fn callback_errors(&self) -> u64 {
        self.callback_errors.get()
    }

    /// The user patterns `(name, regex)` this redactor was built with.
    pub fn user_patterns(&self) -> &[(String, String)] {
        &self.user
    }

    pub fn has_callback(&self) -> bool {
        self.callback.is_some()
    }

    /// Masks `text`; borrows it back unchanged when nothing was found (the common case).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let masked = self.redact_patterns(text);
        match &self.callback {
            None => masked,
            Some(cb) => match cb(&masked) {
                Ok(s) if s == masked.as_ref() => masked,
                Ok(s) => Cow::Owned(s),
                Err(_) => {
                    self.callback_errors.inc();
                    masked
                }
            },
        }
    }

    /// Masks with the patterns only (no user callback): for ferrule's own warning messages, so a
    /// failing callback cannot recurse through the warning that reports it.
    pub fn redact_patterns<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.len() < 6 {
            return Cow::Borrowed(text);
        }
        let (mut digits, mut colons, mut dots, mut at) = (0u32, 0u32, 0u32, false);
        for &b in text.as_bytes() {
            match b {
                b'0'..=b'9' => digits += 1,
                b':' => colons += 1,
                b'.' => dots += 1,
                b'@' => at = true,
                _ => {}
            }
        }
        // Short text that meets no built-in rule's needs (the common span attribute: a model or
        // provider name) is clean without looking at the rules one by one.
        if !self.has_user_rules
            && text.len() < MIN_SECRET_LEN
            && !at
            && colons < 2
            && digits < MIN_RULE_DIGITS
        {
            return Cow::Borrowed(text);
        }
        let mut marker: Option<bool> = None;
        // (start, end, rule index) of every validated finding.
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let run = match rule.need {
                Need::Always => true,
                Need::At => at,
                Need::Colons => colons >= 2,
                Need::Dotted => dots >= 3 && digits >= 4,
                Need::Digits(n) => digits >= n,
                // Every secret rule needs at least MIN_SECRET_LEN characters.
                Need::Marker => {
                    text.len() >= MIN_SECRET_LEN
                        && *marker.get_or_insert_with(|| self.markers.is_match(text))
                }
            };
            if !run {
                continue;
            }
            if rule.group {
                for c in rule.regex.captures_iter(text) {
                    if let Some(g) = c.get(1) {
                        found.push((g.start(), g.end(), i));
                    }
                }
            } else {
                for m in rule.regex.find_iter(text) {
                    if valid(rule.check, text, m.start(), m.end()) {
                        found.push((m.start(), m.end(), i));
                    }
                }
            }
        }
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        found.sort_unstable_by_key(|&(s, e, i)| (s, i, usize::MAX - e));
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for (s, e, i) in found {
            if s < pos {
                continue; // overlaps a finding already masked
            }
            out.push_str(&text[pos..s]);
            out.push_str(&self.rules[i].placeholder);
            pos = e;
        }
        out.push_str(&text[pos..]);
        Cow::Owned(out)
    }
}

fn valid(check: Check, text: &str, s: usize, e: usize) -> bool {
    let m = &text[s..e];
    match check {
        Check::None => true,
        Check::Luhn => luhn(m),
        Check::Phone => {
            let digits = m.bytes().filter(u8::is_ascii_digit).count();
            (7..=15).contains(&digits)
        }
        Check::JpPhone => {
            let digits = m.bytes().filter(u8::is_ascii_digit).count();
            (10..=11).contains(&digits)
        }
        Check::MyNumber => my_number(m),
        Check::Ipv4 => {
            // Not part of a longer dotted run such as a 5-part version number: no ".<digit>"
            // right after it and no "<digit>." right before it.
            let (pre, post) = (&text.as_bytes()[..s], &text.as_bytes()[e..]);
            let dotted_after =
                post.first() == Some(&b'.') && post.get(1).is_some_and(u8::is_ascii_digit);
            let dotted_before =
                pre.last() == Some(&b'.') && pre.len() >= 2 && pre[pre.len() - 2].is_ascii_digit();
            !dotted_after && !dotted_before && m.parse::<std::net::Ipv4Addr>().is_ok()
        }
        Check::Ipv6 => {
            let edge = |b: Option<u8>| b.is_some_and(|c| c.is_ascii_alphanumeric() || c == b':');
            !edge(text[..s].bytes().next_back())
                && !edge(text[e..].bytes().next())
                && m.parse::<std::net::Ipv6Addr>().is_ok()
        }
    }
}

/// Japan's individual number (My Number): 12 digits whose last is the check digit of the first 11
/// (weights 2..7 then 2..6 from the right, mod 11). A random 12-digit number passes 1 time in 11.
pub fn my_number(s: &str) -> bool {
    let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 12 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let sum: u32 = (1..=11)
        .map(|n| {
            let p = d[11 - n];
            let q = if n <= 6 { n as u32 + 1 } else { n as u32 - 5 };
            p * q
        })
        .sum();
    let r = sum % 11;
    let check = if r <= 1 { 0 } else { 11 - r };
    d[11] == check
}

/// The Luhn checksum over the digits of `s` (separators ignored), for 13 to 19 digits.
pub fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        Redactor::default().redact(s).into_owned()
    }

    #[test]
    fn masks_each_kind_with_its_placeholder() {
        assert_eq!(r("mail jane.doe@example.com now"), "mail [EMAIL] now");
        assert_eq!(r("card 4111 1111 1111 1111."), "card [CARD].");
        assert_eq!(r("call +1 (415) 555-0132"), "call [PHONE]");
        assert_eq!(r("from 10.0.12.7:443"), "from [IP]:443");
        assert_eq!(r("v6 2001:db8::8a2e:370:7334 ok"), "v6 [IP] ok");
        assert_eq!(
            r("Authorization: Bearer abcdef0123456789XYZ"),
            "Authorization: Bearer [SECRET]"
        );
        assert_eq!(r("key=sk-proj-abcdefghijklmnopqrstuvwx"), "key=[SECRET]");
        assert_eq!(r("AKIAIOSFODNN7EXAMPLE"), "[SECRET]");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for s in [
            "version 3.12.1 released 2024-01-15",
            "order 4111111111111112 shipped", // not Luhn-valid
            "id 550e8400-e29b-41d4-a716-446655440000",
            "total $1,299.99 at 10:30:45",
            "std::collections::HashMap",
            "1.2.3.4.5 is a version",
        ] {
            assert_eq!(r(s), s);
        }
    }

    #[test]
    fn user_patterns_and_callback() {
        let cb: RedactCallback = Arc::new(|s: &str| Ok(s.replace("Acme", "[ORG]")));
        let red = Redactor::new(&[("employee".into(), r"\bE\d{6}\b".into())], Some(cb)).unwrap();
        assert_eq!(
            red.redact("Acme staff E123456 a@b.io"),
            "[ORG] staff [EMPLOYEE] [EMAIL]"
        );
        let bad: RedactCallback = Arc::new(|_: &str| Err("boom".into()));
        let red = Redactor::new(&[], Some(bad)).unwrap();
        assert_eq!(red.redact("x a@b.io"), "x [EMAIL]");
        assert_eq!(red.callback_errors(), 1);
        let e = Redactor::new(&[(String::new(), "(".into())], None).unwrap_err();
        assert!(e.to_string().contains("redact_patterns"), "{e}");
    }

    #[test]
    fn secret_and_locale_rule_pack() {
        for (text, want) in [
            (
                "token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
                "token [SECRET]",
            ),
            (
                "key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
                "key [SECRET]",
            ),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key = [SECRET]",
            ),
            (
                r#"{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
                r#"{"SecretAccessKey": "[SECRET]"}"#,
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEA
-----END RSA PRIVATE KEY----- ok",
                "[SECRET] ok",
            ),
            (
                "cut -----BEGIN PRIVATE KEY-----
MIIEvQIBADANBg",
                "cut [SECRET]",
            ),
            ("db password=hunter2 retry", "db password=[SECRET] retry"),
            ("pwd: s3cr3t!", "pwd: [SECRET]"),
            ("mail 山田.太郎@例え.テスト now", "mail [EMAIL] now"),
            ("mail jürgen@müller.de", "mail [EMAIL]"),
            ("call +49 30 123456789 now", "call [PHONE] now"),
            ("携帯 090-1234-5678 まで", "携帯 [PHONE] まで"),
            ("tel 03-1234-5678", "tel [PHONE]"),
            ("tel +81 90-1234-5678", "tel [PHONE]"),
            ("tel +81 3-1234-5678", "tel [PHONE]"),
            ("mobile 09012345678", "mobile [PHONE]"),
            ("マイナンバー 1234 5678 9018", "マイナンバー [NATIONAL_ID]"),
            ("my number 123456789018", "my number [NATIONAL_ID]"),
        ] {
            assert_eq!(r(text), want, "{text}");
        }
        // A 12-digit number with a wrong check digit, and a token count, stay.
        for s in [
            "order 123456789012 ok",
            "max_tokens: 4096",
            "input_tokens=12",
        ] {
            assert_eq!(r(s), s);
        }
        assert!(my_number("123456789018"));
        assert!(!my_number("123456789012"));
    }

    #[test]
    fn luhn_checks() {
        assert!(luhn("4111111111111111"));
        assert!(luhn("3782 822463 10005"));
        assert!(!luhn("4111111111111112"));
        assert!(!luhn("0000000000000000"));
        assert!(!luhn("4111"));
    }
}
