//! W3C trace-context ids (16-byte trace id, 8-byte span id), UUID v7 request ids and the
//! `traceparent` header. Ids come from a per-thread generator, so minting one takes no shared write.

use crate::random::Random;
use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A 16-byte W3C trace id; never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub u128);

/// An 8-byte W3C span id; never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub u64);

/// A UUID v7 (48-bit Unix milliseconds, then random bits): one per request, sortable by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u128);

impl TraceId {
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
    pub fn parse_hex(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(is_lower_hex))
            .then(|| u128::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|v| *v != 0)
            .map(TraceId)
    }
}

impl SpanId {
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
    pub fn parse_hex(s: &str) -> Option<Self> {
        (s.len() == 16 && s.bytes().all(is_lower_hex))
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|v| *v != 0)
            .map(SpanId)
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl RequestId {
    /// Builds a v7 UUID from Unix milliseconds and 74 random bits.
    pub fn from_parts(unix_ms: u64, rand_a: u16, rand_b: u64) -> Self {
        let mut v = ((unix_ms & 0xFFFF_FFFF_FFFF) as u128) << 80;
        v |= 0x7u128 << 76; // version
        v |= ((rand_a & 0x0FFF) as u128) << 64;
        v |= 0b10u128 << 62; // RFC 9562 variant
        v |= (rand_b & 0x3FFF_FFFF_FFFF_FFFF) as u128;
        RequestId(v)
    }
    pub fn version(self) -> u8 {
        ((self.0 >> 76) & 0xF) as u8
    }
    pub fn unix_ms(self) -> u64 {
        (self.0 >> 80) as u64
    }
}

thread_local! {
    // xorshift64* state, seeded once per thread from the shared entropy source.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

fn seed() -> u64 {
    static SEEDS: std::sync::OnceLock<Random> = std::sync::OnceLock::new();
    SEEDS.get_or_init(Random::from_entropy).next_u64() | 1
}

/// A fast non-cryptographic 64-bit draw from this thread's generator (never returns 0).
#[inline]
pub fn next_u64() -> u64 {
    let [v] = next_u64s::<1>();
    v
}

/// `N` draws as `next_u64` makes them, with one access to the thread-local state (in a shared
/// library each access is a call into the dynamic linker; a new trace needs five draws).
#[inline]
pub fn next_u64s<const N: usize>() -> [u64; N] {
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = seed();
        }
        let out = std::array::from_fn(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let out = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            if out == 0 {
                1
            } else {
                out
            }
        });
        s.set(x);
        out
    })
}

/// Reseeds this thread's generator (after a fork the child would otherwise repeat the parent's ids).
pub fn reseed_thread() {
    STATE.with(|s| s.set(seed() ^ std::process::id() as u64));
}

#[inline]
pub fn new_trace_id() -> TraceId {
    TraceId(((next_u64() as u128) << 64) | next_u64() as u128)
}

#[inline]
pub fn new_span_id() -> SpanId {
    SpanId(next_u64())
}

/// A UUID v7 stamped with the wall clock (ids are about the world's time, not a monotonic one).
pub fn new_request_id() -> RequestId {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let r = next_u64();
    RequestId::from_parts(ms, (r >> 48) as u16, next_u64())
}

/// The parsed fields of a W3C `traceparent` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub sampled: bool,
}

impl TraceParent {
    /// `00-{trace_id}-{span_id}-{flags}`: what integrations inject into outgoing requests.
    pub fn header(&self) -> String {
        // Written digit by digit: `format!` with two padded hex fields cost more than the rest of
        // starting an attempt (this runs once per wrapped LLM call).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = [0u8; 55];
        b[..3].copy_from_slice(b"00-");
        let t = self.trace_id.0;
        for i in 0..32 {
            b[3 + i] = HEX[((t >> (124 - 4 * i)) & 0xf) as usize];
        }
        b[35] = b'-';
        let s = self.span_id.0;
        for i in 0..16 {
            b[36 + i] = HEX[((s >> (60 - 4 * i)) & 0xf) as usize];
        }
        b[52..55].copy_from_slice(if self.sampled { b"-01" } else { b"-00" });
        // Every byte written is ASCII.
        String::from_utf8(b.to_vec()).unwrap_or_default()
    }

    /// Parses a version-00 header; anything malformed is `None` (callers then start a new trace).
    pub fn parse(h: &str) -> Option<Self> {
        let mut it = h.trim().split('-');
        let (v, t, s, f) = (it.next()?, it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || v != "00" || f.len() != 2 {
            return None;
        }
        let flags = u8::from_str_radix(f, 16).ok()?;
        Some(TraceParent {
            trace_id: TraceId::parse_hex(t)?,
            span_id: SpanId::parse_hex(s)?,
            sampled: flags & 1 == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_nonzero_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let t = new_trace_id();
            assert_ne!(t.0, 0);
            assert!(seen.insert(t.0));
            assert_ne!(new_span_id().0, 0);
        }
    }

    #[test]
    fn uuid_v7_layout() {
        let r = RequestId::from_parts(0x0190_1234_5678, 0xABC, u64::MAX);
        let s = r.to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "7");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(r.unix_ms(), 0x0190_1234_5678);
        let now = new_request_id();
        assert_eq!(now.version(), 7);
        assert!(now.unix_ms() > 1_600_000_000_000);
    }

    #[test]
    fn traceparent_round_trips_and_rejects_garbage() {
        let tp = TraceParent {
            trace_id: TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736),
            span_id: SpanId(0x00f067aa0ba902b7),
            sampled: true,
        };
        let h = tp.header();
        assert_eq!(h, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert_eq!(TraceParent::parse(&h), Some(tp));
        let unsampled = TraceParent {
            trace_id: TraceId(1),
            span_id: SpanId(u64::MAX),
            sampled: false,
        };
        assert_eq!(
            unsampled.header(),
            "00-00000000000000000000000000000001-ffffffffffffffff-00"
        );
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }
}
