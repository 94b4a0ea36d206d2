//! The three states of a circuit breaker, on their own so that telemetry (which keeps the state gauge
//! and counts transitions) and policy (which runs the breaker) can both name them without telemetry
//! depending on policy. `policy::breaker::State` is this type.

/// What a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub const ALL: [State; 3] = [State::Closed, State::Open, State::HalfOpen];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}
