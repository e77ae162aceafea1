//! The validated pair: links, status, match keys, field groups, rules and policies.

use std::collections::BTreeSet;

use super::Sides;
use crate::expr::{Expr, FieldPath, Template};
use crate::mapping::{Direction, Side};

/// The sync between the home and the external collection.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The collection names.
    pub collections: Sides<String>,
    /// The link fields.
    pub link: Sides<FieldPath>,
    /// Separator when a link field can hold several ids.
    pub link_separator: Option<String>,
    /// Status fields and texts.
    pub status: Option<Status>,
    /// Match keys for first linking.
    pub match_keys: Option<Sides<Expr>>,
    /// Field groups.
    pub groups: Vec<FieldGroup>,
    /// Validation rules.
    pub rules: Vec<Rule>,
    /// Delete policy per direction.
    pub deletes: Deletes,
    /// Conflict policy.
    pub conflicts: ConflictPolicy,
}

/// Status fields and texts.
#[derive(Debug, Clone)]
pub struct Status {
    /// The status field per side, where there is one.
    pub fields: Sides<Option<FieldPath>>,
    /// Success text (over `now`).
    pub ok: Template,
    /// Failure text (over `message`, `now`).
    pub error: Template,
}

/// Related fields mapped both ways.
#[derive(Debug, Clone)]
pub struct FieldGroup {
    /// The group's name.
    pub name: String,
    /// Home → external: target field and expression over the home `record`.
    pub outbound: Vec<(FieldPath, Expr)>,
    /// External → home.
    pub inbound: Vec<(FieldPath, Expr)>,
    /// Mapping there and back gives the input.
    pub lossless: bool,
    /// Maps one way only: the side it maps from always wins, no merge.
    pub one_way: bool,
    /// Overrides the pair's conflict policy for this group.
    pub conflicts: Option<ConflictPolicy>,
}

impl FieldGroup {
    /// The mappings for a direction.
    pub fn mappings(&self, direction: Direction) -> &[(FieldPath, Expr)] {
        match direction {
            Direction::Outbound => &self.outbound,
            Direction::Inbound => &self.inbound,
        }
    }
}

/// A validation rule with a placeholder.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's name.
    pub name: String,
    /// The side whose field is checked.
    pub side: Side,
    /// The checked field.
    pub field: FieldPath,
    /// True when `value` may be written.
    pub valid: Expr,
    /// Written instead of an invalid value.
    pub placeholder: serde_json::Value,
    /// The status message (over `value`).
    pub message: Template,
    /// Over the other side's `record`: the value the placeholder stands in for.
    pub protect: Option<Expr>,
    /// API refusals that mean the value is invalid.
    pub refused: Vec<Refusal>,
}

/// An API answer that refuses a rule's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// Text the error message contains.
    pub contains: String,
}

impl Rule {
    /// True when a failed write's answer is one of this rule's refusals. An item refused inside
    /// a batch answer (no status, or the answer's own 2xx/207) is matched by its text alone.
    pub fn refuses(&self, status: Option<u16>, message: &str) -> bool {
        self.refused.iter().any(|r| {
            status.is_none_or(|s| s == r.status || (200..300).contains(&s))
                && !r.contains.is_empty()
                && message.contains(r.contains.as_str())
        })
    }
}

/// What a deletion does to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletePolicy {
    /// Delete; a refusal is an outcome.
    Delete,
    /// Delete with the API's force.
    ForceDelete,
    /// Forget the link.
    Unlink,
    /// Nothing.
    Ignore,
}

/// Delete policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletes {
    /// When a home record is deleted.
    pub outbound: DeletePolicy,
    /// When an external record is deleted.
    pub inbound: DeletePolicy,
}

impl Deletes {
    /// The policy for a direction.
    pub fn get(&self, d: Direction) -> DeletePolicy {
        match d {
            Direction::Outbound => self.outbound,
            Direction::Inbound => self.inbound,
        }
    }
}

/// Who wins when both sides changed a field group to different values since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// The newer change: by the records' modification times where both collections declare
    /// `modified`, else the side being synced from (the change mapsync is processing).
    Newest,
    /// Home.
    Home,
    /// External.
    External,
    /// Write nothing for the group; report a conflict for a person.
    Report,
}

impl ConflictPolicy {
    /// The policy's name as the mapping spells it.
    pub fn name(self) -> &'static str {
        match self {
            ConflictPolicy::Newest => "newest",
            ConflictPolicy::Home => "home",
            ConflictPolicy::External => "external",
            ConflictPolicy::Report => "report",
        }
    }
}

impl Pair {
    /// The fields of side `side`'s records that the mapping reads or writes: the top-level
    /// names of field-mapping sources and targets, link, status and rule fields. An API that
    /// returns only requested fields is asked for these (`mapped_fields`).
    pub fn mapped_fields(&self, side: Side) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let (reads, writes) = match side {
            Side::Home => (Direction::Outbound, Direction::Inbound),
            Side::External => (Direction::Inbound, Direction::Outbound),
        };
        for g in &self.groups {
            for (_, e) in g.mappings(reads) {
                out.extend(e.attributes_of("record"));
            }
            for (f, _) in g.mappings(writes) {
                out.insert(f.head().to_string());
            }
        }
        out.insert(self.link.get(side).head().to_string());
        if let Some(s) = &self.status
            && let Some(f) = s.fields.get(side)
        {
            out.insert(f.head().to_string());
        }
        if let Some(m) = &self.match_keys {
            out.extend(m.get(side).attributes_of("record"));
        }
        for r in &self.rules {
            if let Some(p) = &r.protect
                && r.side != side
            {
                out.extend(p.attributes_of("record"));
            }
        }
        out
    }
}
