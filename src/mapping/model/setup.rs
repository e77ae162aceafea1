//! A validated setup resource: how to list, match, create, update and delete it.

use super::{Auth, ListOp, ReadOp, Request};
use crate::expr::{Expr, JsonTemplate, Template};

/// One kind of resource setup converges.
#[derive(Debug, Clone)]
pub struct SetupResource {
    /// Its unique name.
    pub name: String,
    /// The system's name.
    pub system: String,
    /// Authentication overriding the system's.
    pub auth: Option<Auth>,
    /// Resources converged first.
    pub depends_on: Vec<String>,
    /// How to list what exists.
    pub list: Option<ListOp>,
    /// How to read a singleton.
    pub read: Option<ReadOp>,
    /// The identity of an item (over `item`).
    pub key: Option<Template>,
    /// True when mapsync owns an existing `item`.
    pub owned: Option<Expr>,
    /// Attributes compared.
    pub compare: Vec<String>,
    /// How to create.
    pub create: Option<Request>,
    /// How to update.
    pub update: Option<Request>,
    /// How to delete.
    pub delete: Option<Request>,
    /// The desired items.
    pub items: Vec<JsonTemplate>,
    /// Instructions when the API cannot create the items.
    pub manual: Option<String>,
}
