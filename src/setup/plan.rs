//! `SetupPlan`: what `mapsync setup` would change on each system, resource by resource, as the
//! planner computed it. Plain data: rendering it for people is the CLI's job.

use serde::Serialize;
use serde_json::Value;

/// The changes that converge every declared setup resource, in the order they apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupPlan {
    /// True for `--teardown`: the actions delete, and apply in reverse dependency order.
    pub teardown: bool,
    /// One entry per declared resource, in dependency order (also for a teardown: the applier
    /// reverses it).
    pub resources: Vec<ResourcePlan>,
}

/// What happens to one resource kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourcePlan {
    /// The resource's name in the mapping.
    pub name: String,
    /// The system it lives on.
    pub system: String,
    /// Which rule decided what mapsync owns (and so may update or delete).
    pub ownership: Ownership,
    /// The writes, in the order they apply.
    pub actions: Vec<Action>,
    /// Keys of the declared items that already match.
    pub unchanged: Vec<String>,
    /// Things the user should know that change nothing (objects left alone, duplicates).
    pub notes: Vec<String>,
    /// Instructions for what the API cannot do (checked or shown only, never applied).
    pub manual: Option<Manual>,
}

/// The rule that decides ownership of an existing object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Ownership {
    /// The mapping's `owned` expression is true for the object.
    Expression {
        /// The expression's source.
        expression: String,
    },
    /// The object's key matches the key of a declared item.
    Key,
    /// The resource is a singleton the mapping declares (read, not listed).
    Singleton,
    /// Nothing is read or written (manual instructions only).
    None,
}

/// Instructions for a resource the API cannot create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manual {
    /// What the user should do.
    pub instructions: String,
    /// Keys of declared items found missing (empty when the resource cannot even be checked).
    pub missing: Vec<String>,
    /// False when nothing could be checked (no `list` or `read`).
    pub checked: bool,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// What to do.
    pub kind: ActionKind,
    /// The item's key (the resource's name for a singleton).
    pub key: String,
    /// The attributes an update or replacement changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Why, when it is not obvious (a replacement, a prune, a duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The desired item, rendered (creates, updates, replacements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    /// The object as the API listed it (updates, replacements, deletes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<Value>,
}

/// The kinds of write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// `+`: the item does not exist yet.
    Create,
    /// `~`: the item exists with other attributes, and the API can update it in place.
    Update,
    /// `-/+`: the item exists with other attributes, and the API cannot update it: it is
    /// deleted, then created.
    Replace,
    /// `-`: an owned object is removed (`--prune`, `--teardown`).
    Delete,
}

/// One attribute an update changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The attribute (a dotted path for a nested one).
    pub attr: String,
    /// Its current value (`null` when absent).
    pub from: Value,
    /// The desired value.
    pub to: Value,
}

/// The plan's totals, as Terraform counts them: a replacement adds one and destroys one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    /// Creates and replacements.
    pub add: usize,
    /// Updates in place.
    pub change: usize,
    /// Deletes and replacements.
    pub destroy: usize,
    /// Declared items that already match.
    pub unchanged: usize,
    /// Declared items that must be created by hand.
    pub manual: usize,
}

impl SetupPlan {
    /// The totals.
    pub fn counts(&self) -> PlanCounts {
        let mut c = PlanCounts::default();
        for r in &self.resources {
            c.unchanged += r.unchanged.len();
            c.manual += r.manual.as_ref().map_or(0, |m| m.missing.len());
            for a in &r.actions {
                match a.kind {
                    ActionKind::Create => c.add += 1,
                    ActionKind::Update => c.change += 1,
                    ActionKind::Replace => {
                        c.add += 1;
                        c.destroy += 1;
                    }
                    ActionKind::Delete => c.destroy += 1,
                }
            }
        }
        c
    }

    /// True when applying would write nothing.
    pub fn is_empty(&self) -> bool {
        self.resources.iter().all(|r| r.actions.is_empty())
    }
}
