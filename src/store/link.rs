//! `Link`: a home record id and an external record id known to be the same entity (the id map).
//! Plain data; the SQL lives in `sqlite/links.rs`.

use std::fmt;
use std::str::FromStr;

use crate::mapping::Side;

/// The state of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Both records exist and are kept in step.
    Active,
    /// The home record was deleted; kept so the delete is not repeated on the other side.
    DeletedOnHome,
    /// The external record was deleted; kept so the delete is not repeated on the other side.
    DeletedOnExternal,
    /// Both sides changed in ways the mapping cannot reconcile; needs a person.
    Conflict,
}

impl LinkState {
    pub const ALL: [LinkState; 4] = [
        LinkState::Active,
        LinkState::DeletedOnHome,
        LinkState::DeletedOnExternal,
        LinkState::Conflict,
    ];

    /// The state of a link whose record on `side` was deleted.
    pub fn deleted_on(side: Side) -> LinkState {
        match side {
            Side::Home => LinkState::DeletedOnHome,
            Side::External => LinkState::DeletedOnExternal,
        }
    }

    /// Whether one of the two records is gone.
    pub fn is_deleted(self) -> bool {
        matches!(
            self,
            LinkState::DeletedOnHome | LinkState::DeletedOnExternal
        )
    }

    /// The name stored in the database and shown by `mapsync status`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Active => "active",
            LinkState::DeletedOnHome => "deleted_on_home",
            LinkState::DeletedOnExternal => "deleted_on_external",
            LinkState::Conflict => "conflict",
        }
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LinkState {
    type Err = String;

    fn from_str(s: &str) -> Result<LinkState, String> {
        LinkState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown link state {s:?}"))
    }
}

/// One link of a pair. Record ids are opaque strings (an absolute URL, a digit string…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub home_id: String,
    pub external_id: String,
    pub state: LinkState,
    /// The home record's version (e.g. its `updatedAt`) when last synced, so an older webhook
    /// or poll can be dropped (R8). Opaque to the store.
    pub home_version: Option<String>,
    /// The external record's version when last synced; see `home_version`.
    pub external_version: Option<String>,
}

impl Link {
    /// An active link without versions.
    pub fn active(home_id: impl Into<String>, external_id: impl Into<String>) -> Link {
        Link {
            home_id: home_id.into(),
            external_id: external_id.into(),
            state: LinkState::Active,
            home_version: None,
            external_version: None,
        }
    }

    /// The id of this link's record on `side`.
    pub fn id_on(&self, side: Side) -> &str {
        match side {
            Side::Home => &self.home_id,
            Side::External => &self.external_id,
        }
    }
}

/// Which links to list, for `mapsync status` and reports. Keyset-paged by home id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkQuery {
    /// Only links in this state; all when `None`.
    pub state: Option<LinkState>,
    /// Only links whose home id sorts after this one (the last id of the previous page).
    pub after_home_id: Option<String>,
    pub limit: u32,
}

impl Default for LinkQuery {
    fn default() -> LinkQuery {
        LinkQuery {
            state: None,
            after_home_id: None,
            limit: 1000,
        }
    }
}

/// How many links a pair has in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    pub active: u64,
    pub deleted_on_home: u64,
    pub deleted_on_external: u64,
    pub conflict: u64,
}

impl LinkCounts {
    pub fn total(&self) -> u64 {
        self.active + self.deleted_on_home + self.deleted_on_external + self.conflict
    }

    pub(crate) fn add(&mut self, state: LinkState, n: u64) {
        match state {
            LinkState::Active => self.active += n,
            LinkState::DeletedOnHome => self.deleted_on_home += n,
            LinkState::DeletedOnExternal => self.deleted_on_external += n,
            LinkState::Conflict => self.conflict += n,
        }
    }
}
