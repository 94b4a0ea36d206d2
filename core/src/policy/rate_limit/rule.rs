//! The contract every rate-limit algorithm meets: a rule (immutable parameters) deciding over a cell
//! (the mutable state of one limiter or one key). Keeping the two apart lets one rule serve thousands
//! of keyed cells, and lets the limiter, the keyed map and the multi-limit stay algorithm-agnostic.

/// Times are nanoseconds of the limiter's clock; amounts are units (requests or tokens).
pub(crate) trait Rule: Send + Sync + 'static {
    type Cell: Send + Sync + 'static;

    fn new_cell(&self) -> Self::Cell;

    /// The largest single request that can ever pass (the burst, or the window limit).
    fn max_n(&self) -> u64;

    /// Charges `n` if it fits now; otherwise charges nothing and returns the wait (> 0) until it
    /// would fit, absent other traffic.
    fn take(&self, cell: &Self::Cell, now: u64, n: u64) -> Result<(), u64>;

    /// The wait until `n` would fit (0: now), charging nothing.
    fn peek(&self, cell: &Self::Cell, now: u64, n: u64) -> u64;

    /// Gives back `n` units charged at `charged_at` (a denied multi-limit, or a reservation settled
    /// below its estimate). Units whose window already passed are not given back twice.
    fn refund(&self, cell: &Self::Cell, now: u64, n: u64, charged_at: u64);

    /// Charges `n` whether or not it fits (a reservation settled above its estimate): the debt delays
    /// later requests. Returns the units that could not be recorded (a full log or counter field).
    fn force(&self, cell: &Self::Cell, now: u64, n: u64) -> u64;

    /// Time until the cell is indistinguishable from a new one (0: it is): dropping a cell at 0 loses
    /// nothing, so keyed maps evict those first and otherwise the ones closest to it.
    fn time_to_fresh(&self, cell: &Self::Cell, now: u64) -> u64;
}
