//! Pure planning: decides, record by record, what to create, update, skip or delete, from the
//! records the runner read and the state it remembered.
//!
//! Architecture invariant: no I/O of any kind (no tokio, reqwest or SQL) and no clock: `now`
//! comes in through `PlanContext`. The same inputs always give the same plan.

mod mapper;
mod merge;
mod normalize;
mod plan;
mod planner;
mod shadow;
mod status;

pub use merge::{ConflictCause, GroupConflict};
pub use normalize::{canonical, is_empty, same};
pub use plan::{FieldChange, LinkedBy, PlanKind, RecordPlan};
pub use planner::{Engine, LinkValue, PlanContext, Target, WriteOutcome};
pub use shadow::Shadow;
pub use status::{StatusMeaning, StatusTexts};
