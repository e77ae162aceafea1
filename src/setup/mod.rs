//! `mapsync setup`: converges the setup resources a mapping declares (custom fields, webhook
//! settings, subscriptions) like infrastructure as code. `observe` reads what exists, `plan`
//! diffs it against the declared items, and `apply` makes the plan's writes.
//!
//! Architecture invariant: planning does no I/O (`planner`), and applying writes only through
//! the connector, only what the plan says (`apply`). An object mapsync does not own (by the
//! resource's `owned` expression, or else by its key matching a declared item) is never in an
//! action: it is neither updated nor deleted. Nothing is deleted without `--prune` or
//! `--teardown`.

mod apply;
mod error;
mod plan;
mod planner;

pub use apply::{Applied, ApplyReport, Connectors, Failed, apply, observe};
pub use error::{Result, SetupError};
pub use plan::{
    Action, ActionKind, Change, Manual, Ownership, PlanCounts, ResourcePlan, SetupPlan,
};
pub use planner::{
    Observed, PlanOptions, base_vars, needs_public_url, normalize_public_url, plan, rule_text,
};
