//! Time per output chunk (`gen_ai.client.operation.time_per_output_chunk`): the gap before each
//! streamed chunk after the first, as the consumer saw it. A stream folds its gaps into bucket
//! counts of its own as the chunks arrive (no shared state, no allocation, no lock per chunk); the
//! call record merges them into the histogram once, under the call's labels.

/// Bucket bounds in seconds: the GenAI conventions' bounds for time per output token, below them
/// 1 ms and 5 ms (a client sees chunks a provider batched, and local servers, well under 10 ms).
pub const TIME_PER_CHUNK_BUCKETS: [f64; 15] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

const N: usize = TIME_PER_CHUNK_BUCKETS.len() + 1;

/// One stream's gaps between chunks, folded into `TIME_PER_CHUNK_BUCKETS` counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChunkTimes {
    counts: [u64; N],
    sum: f64,
    /// When the previous chunk arrived, in seconds on the caller's monotonic clock.
    last: Option<f64>,
}

impl ChunkTimes {
    /// A chunk arrived at `at` seconds (any monotonic clock, the same for one stream): the gap
    /// since the previous one is recorded; the first arrival only starts the clock. A clock that
    /// went backwards records nothing.
    #[inline]
    pub fn arrived(&mut self, at: f64) {
        if let Some(prev) = self.last {
            self.gap(at - prev);
        }
        self.last = Some(at);
    }

    /// Records one gap in seconds (ignored unless finite and non-negative).
    #[inline]
    pub fn gap(&mut self, seconds: f64) {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return;
        }
        let i = TIME_PER_CHUNK_BUCKETS.partition_point(|b| *b < seconds);
        self.counts[i] += 1;
        self.sum += seconds;
    }

    /// The stream is resumed on a new request or ends: the next arrival starts the clock again
    /// (`arrived` after this records no gap).
    pub fn restart(&mut self) {
        self.last = None;
    }

    /// Gaps recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Their total, seconds.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Per bucket of `TIME_PER_CHUNK_BUCKETS`, then +Inf.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_between_arrivals_land_in_their_buckets() {
        let mut t = ChunkTimes::default();
        for at in [10.0, 10.0005, 10.0035, 10.5035, 14.0] {
            t.arrived(at);
        }
        assert_eq!(t.count(), 4);
        assert!((t.sum() - 4.0).abs() < 1e-9);
        let c = t.counts();
        assert_eq!(c[0], 1); // 0.5 ms <= 1 ms
        assert_eq!(c[1], 1); // 3 ms <= 5 ms
        assert_eq!(c[11], 1); // 0.5 s <= 0.5 s (bounds are inclusive upper bounds)
        assert_eq!(c[N - 1], 1); // 3.5 s > 2.5 s: +Inf
    }

    #[test]
    fn the_first_arrival_and_bad_gaps_record_nothing() {
        let mut t = ChunkTimes::default();
        t.arrived(5.0);
        assert_eq!(t.count(), 0);
        t.arrived(4.0); // backwards
        t.gap(f64::NAN);
        t.gap(f64::INFINITY);
        assert_eq!(t.count(), 0);
        t.restart();
        t.arrived(100.0);
        assert_eq!(t.count(), 0);
        t.arrived(100.25);
        assert_eq!(t.count(), 1);
    }
}
