//! Setup resources: what `mapsync setup` makes exist on a system (custom fields, webhook
//! settings, subscriptions), and how to list, match, create, update and delete them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{RawAuth, RawCreate, RawDelete, RawList, RawRead, RawUpdate};

/// One kind of resource setup converges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetupResource {
    /// A unique name for the resource kind, used in the plan and in `depends_on`.
    pub name: String,
    /// The system (a key of `systems`).
    pub system: String,
    /// Authentication for these calls when it differs from the system's (e.g. a developer key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RawAuth>,
    /// Resources that must be converged first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// How to list what exists (for a set of items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<RawList>,
    /// How to read a singleton (e.g. webhook settings); use instead of `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<RawRead>,
    /// A template over `item` giving its identity, e.g. `{{ item.name }}`; declared items match
    /// existing objects on it (required with `list`). Without an `owned` expression, an object
    /// whose key matches a declared item is the one mapsync owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Expression over an existing `item` (and `public_url`) that is true when mapsync owns it;
    /// objects it does not own are never updated or deleted. Default: its key matches a
    /// declared item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned: Option<String>,
    /// Attributes compared to decide an update (dotted paths for nested ones). Default: every
    /// attribute of the desired item. Without `update`, a difference replaces the object
    /// (delete, then create).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<String>,
    /// How to create an item (templates over `item`, `public_url`, `now` and `now_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<RawCreate>,
    /// How to update an item (templates over `item`, `existing`, `public_url`, `now` and
    /// `now_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<RawUpdate>,
    /// How to delete an item (templates over `existing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<RawDelete>,
    /// The desired items; string leaves are templates over `public_url`, `now` (the time of
    /// the run, UTC, RFC 3339) and `now_ms` (the same in milliseconds since 1970), e.g.
    /// `expiration: "{{ now_ms + 604800000 }}"` for a watch channel that lasts a week. An item
    /// that uses the time differs on every run; leave such attributes out of `compare`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<BTreeMap<String, serde_json::Value>>,
    /// Instructions shown when the API offers no way to create the items (they are checked
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
}
