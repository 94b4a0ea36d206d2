//! Response validation and correction: parse model output as JSON with precise error locations,
//! repair what models typically break (reporting every change, never guessing), and check it
//! against a JSON Schema. Bounded work: an input size limit, a depth limit, linear time.

pub mod extract;
pub mod failure;
pub mod limits;
pub mod location;
pub mod parse;
pub mod partial;
pub mod repair;
pub mod schema;
pub mod stats;
pub mod tape;
pub mod tape_json;
pub mod validator;

pub use failure::{Failure, FailureKind, Violation};
pub use limits::Limits;
pub use parse::parse;
pub use partial::{unrecoverable, PartialJson, PartialLimit};
pub use repair::{
    repair, repair_and_parse, repair_and_parse_with, repair_with, Repair, RepairKind, RepairMode,
    Repaired, MAX_REPORTED_REPAIRS,
};
pub use schema::Schema;
pub use stats::{ValidationCounts, Verdict};
pub use tape::{Tape, TapeValue};
pub use validator::{JsonValidator, Validated};
