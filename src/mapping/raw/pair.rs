//! The pair: which collection is home and which external, and how their fields map both ways.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The sync between a home collection and an external collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPair {
    /// The home collection (a key of `collections`). Outbound is home → external.
    pub home: String,
    /// The external collection. Inbound is external → home.
    pub external: String,
    /// The field on each side that stores the other side's id.
    pub link: RawLink,
    /// The field on each side where mapsync writes what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RawStatus>,
    /// Expressions whose values, equal on both sides, link records that have no link yet.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_keys: Option<RawMatch>,
    /// Field groups: related fields mapped in both directions.
    pub fields: Vec<RawFieldGroup>,
    /// Validation rules on mapped values, with placeholders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RawRule>,
    /// What a deletion on the source side does to the target, per direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletes: Option<RawDeletes>,
    /// Who wins when both sides changed the same field group to different values since the
    /// last sync (a field group changed on one side only always takes that side's values; with
    /// no last sync yet, every differing group is such a conflict). A group's own `conflicts`
    /// overrides it. Default `newest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<RawConflictPolicy>,
}

/// The link fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    /// Field on the home record holding the external id, e.g. `custom_fields."External ID"`.
    pub home: String,
    /// Field on the external record holding the home id.
    pub external: String,
    /// Separator when a link field can hold several ids (e.g. after a merge); several ids are
    /// reported as a conflict and nothing is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

/// Status fields and their texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStatus {
    /// Status field on the home record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Status field on the external record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<String>,
    /// Template for a successful sync; may use `now` (UTC, RFC 3339).
    pub ok: String,
    /// Template for a failure; may use `message` and `now`.
    pub error: String,
}

/// Match keys for first linking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// Expression over a home `record`, e.g. `record.emails | first | lower`.
    pub home: String,
    /// Expression over an external `record`, e.g. `record.email | lower`.
    pub external: String,
}

/// Related fields mapped both ways, e.g. a full name on one side and first and last names on
/// the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFieldGroup {
    /// A name for the group, used in plans and messages.
    pub name: String,
    /// Home → external: target field path → expression over the home `record`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outbound: BTreeMap<String, String>,
    /// External → home: target field path → expression over the external `record`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inbound: BTreeMap<String, String>,
    /// True when mapping one way then back gives the input again. When false, mapsync compares
    /// in the source's form: it writes nothing when the reverse mapping of the target's current
    /// values already equals the source. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lossless: Option<bool>,
    /// Set when the group deliberately maps one way only. The side it maps from always wins:
    /// edits to the group's fields on the other side are overwritten, never merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_way: Option<bool>,
    /// Who wins when both sides changed this group to different values since the last sync;
    /// overrides the pair's `conflicts` for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<RawConflictPolicy>,
}

/// A validation on a mapped target value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// A name for the rule, used in messages.
    pub name: String,
    /// The checked field, as `home.<path>` or `external.<path>`; it is checked whenever mapsync
    /// writes that side.
    pub field: String,
    /// Expression over `value` that is true when the value may be written,
    /// e.g. `not value or value is email`.
    pub valid: String,
    /// What is written instead of an invalid value.
    pub placeholder: serde_json::Value,
    /// Template for the status message; may use `value`.
    pub message: String,
    /// Expression over the other side's `record` giving the value the placeholder stands in
    /// for. When the checked field comes back holding the placeholder, this value is mapped
    /// back instead, so a placeholder never overwrites it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<String>,
    /// Refusals of a write by the checked side's API that mean "this value is invalid" after
    /// all (the API's rule is stricter than `valid`, e.g. a 400 naming `INVALID_EMAIL`). Such a
    /// refusal is handled exactly like the rule: the write is made again with the placeholder,
    /// both statuses carry the message, and it is neither a failure nor a dead letter. The
    /// status text then remembers it, so later syncs write the placeholder at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RawRefusal>,
}

/// An API answer that refuses a rule's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRefusal {
    /// The HTTP status of the refusal, e.g. `400` (an input refused inside a batch answer,
    /// which has no status of its own, is matched by `contains` alone).
    pub status: u16,
    /// Text the API's error message contains, e.g. `INVALID_EMAIL`.
    pub contains: String,
}

/// Delete policies per direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeletes {
    /// When a home record is deleted. Default `ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<RawDeletePolicy>,
    /// When an external record is deleted. Default `ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<RawDeletePolicy>,
}

/// What happens to the target when its source record is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawDeletePolicy {
    /// Delete the linked target record; a refusal becomes a "needs attention" outcome.
    Delete,
    /// Delete the linked target record even when the API would refuse (its `force`).
    ForceDelete,
    /// Forget the link and write the status; leave the target record.
    Unlink,
    /// Do nothing.
    Ignore,
}

/// Who wins a field group that both sides changed to different values since the last sync.
/// The loser's side is written too (by the other direction's sync or worker), so both sides
/// end with the winner's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawConflictPolicy {
    /// The newer change wins. mapsync reads no modification times, so "newer" is the change it
    /// is processing: the side being synced from (the record whose event or full sync is being
    /// worked) wins.
    Newest,
    /// The home side wins.
    Home,
    /// The external side wins.
    External,
    /// Neither: nothing is written for the group, and a conflict is reported for a person (the
    /// outcome in `mapsync status`, and both status fields say which group and values differ).
    /// It stays reported until the two sides hold the same values.
    Report,
}
