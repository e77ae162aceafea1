//! Reads what exists (`observe`) and applies a `SetupPlan` (`apply`), only through the
//! connector. Applies resource by resource in dependency order (a teardown in reverse), stops at
//! the first failure, and reports what was applied before it. It never decides what to write:
//! every write is an action of the plan.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::error::{Result, SetupError};
use super::plan::{Action, ActionKind, SetupPlan};
use super::planner::Observed;
use crate::connector::{Connector, ConnectorError, PageCursor};
use crate::expr::Vars;
use crate::mapping::model::{Request, SetupResource};

/// The connectors by system name.
pub type Connectors = BTreeMap<String, Connector>;

/// The most pages one listing may take, so an API that keeps answering "next" cannot loop
/// forever.
const MAX_PAGES: usize = 1_000;

/// Reads what exists of every resource: every page of a `list`, or the `read` singleton.
/// `vars` holds `public_url` when given. Parallel to `resources`.
pub async fn observe(
    resources: &[SetupResource],
    connectors: &Connectors,
    vars: &Vars,
) -> Result<Vec<Observed>> {
    let mut out = Vec::new();
    for r in resources {
        let c = connector(connectors, r)?;
        let wrap = |source| SetupError::Observe {
            resource: r.name.clone(),
            source: Box::new(source),
        };
        let seen = if let Some(list) = &r.list {
            let mut objects = Vec::new();
            let mut cursor = PageCursor::First;
            for _ in 0..MAX_PAGES {
                let page = c.list_op_page(list, &cursor, vars).await.map_err(wrap)?;
                objects.extend(page.records);
                match page.next {
                    Some(next) => cursor = next,
                    None => break,
                }
            }
            Observed::Listed(objects)
        } else if let Some(read) = &r.read {
            Observed::Read(c.read_op(read, vars).await.map_err(wrap)?)
        } else {
            Observed::Unchecked
        };
        out.push(seen);
    }
    Ok(out)
}

/// One write that was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// The resource's name.
    pub resource: String,
    /// What was done.
    pub kind: ActionKind,
    /// The item's key.
    pub key: String,
}

/// The write that failed and stopped the apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// The resource's name.
    pub resource: String,
    /// What was tried.
    pub kind: ActionKind,
    /// The item's key.
    pub key: String,
    /// The API's answer, when it gave one.
    pub status: Option<u16>,
    /// What went wrong and what to do.
    pub error: String,
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Every write made, in order.
    pub applied: Vec<Applied>,
    /// The write that stopped the apply, if one failed.
    pub failed: Option<Failed>,
    /// Planned writes not attempted because of the failure.
    pub not_attempted: usize,
}

/// Applies `plan` (made from `resources`) and says what was done. Stops at the first failure.
/// `progress` sees each write once it succeeded.
pub async fn apply(
    plan: &SetupPlan,
    resources: &[SetupResource],
    connectors: &Connectors,
    vars: &Vars,
    progress: &mut (dyn FnMut(&Applied) + Send),
) -> ApplyReport {
    let mut report = ApplyReport::default();
    let mut order: Vec<_> = plan.resources.iter().collect();
    if plan.teardown {
        order.reverse();
    }
    let total: usize = order.iter().map(|r| r.actions.len()).sum();
    let mut attempted = 0;
    for rp in order {
        for action in &rp.actions {
            attempted += 1;
            let outcome = match resources.iter().find(|r| r.name == rp.name) {
                Some(r) => match connector(connectors, r) {
                    Ok(c) => write(&c, r, action, vars).await,
                    Err(e) => Err(Failure::plain(e.to_string())),
                },
                None => Err(Failure::plain(format!(
                    "internal error: the plan names resource `{}`, which the mapping does not \
                     declare; this is a bug in mapsync, please report it",
                    rp.name
                ))),
            };
            match outcome {
                Ok(()) => {
                    let a = Applied {
                        resource: rp.name.clone(),
                        kind: action.kind,
                        key: action.key.clone(),
                    };
                    progress(&a);
                    report.applied.push(a);
                }
                Err(f) => {
                    report.failed = Some(Failed {
                        resource: rp.name.clone(),
                        kind: action.kind,
                        key: action.key.clone(),
                        status: f.status,
                        error: f.message,
                    });
                    report.not_attempted = total - attempted;
                    return report;
                }
            }
        }
    }
    report
}

/// Why one write failed.
struct Failure {
    status: Option<u16>,
    message: String,
}

impl Failure {
    fn plain(message: String) -> Failure {
        Failure {
            status: None,
            message,
        }
    }

    fn from_connector(e: &ConnectorError, what: &str) -> Failure {
        Failure {
            status: e.status(),
            message: format!("{what}: {e}"),
        }
    }
}

async fn write(
    c: &Connector,
    r: &SetupResource,
    action: &Action,
    vars: &Vars,
) -> std::result::Result<(), Failure> {
    let with = |name: &str, v: &Option<Value>| match v {
        Some(v) => vars.clone().with(name, v),
        None => vars.clone(),
    };
    let item_vars = with("item", &action.item);
    let both = match &action.existing {
        Some(e) => item_vars.clone().with("existing", e),
        None => item_vars.clone(),
    };
    let existing_vars = with("existing", &action.existing);
    match action.kind {
        ActionKind::Create => send(c, r.create.as_ref(), "create", &item_vars).await,
        ActionKind::Update => send(c, r.update.as_ref(), "update", &both).await,
        ActionKind::Delete => delete(c, r, &existing_vars).await,
        ActionKind::Replace => {
            delete(c, r, &existing_vars).await?;
            send(c, r.create.as_ref(), "create", &item_vars)
                .await
                .map_err(|f| Failure {
                    message: format!(
                        "{} (the old object was already deleted; running setup again creates it)",
                        f.message
                    ),
                    ..f
                })
        }
    }
}

async fn send(
    c: &Connector,
    req: Option<&Request>,
    what: &str,
    vars: &Vars,
) -> std::result::Result<(), Failure> {
    let Some(req) = req else {
        return Err(Failure::plain(format!(
            "internal error: the plan wants to {what}, and the mapping declares no `{what}`; \
             this is a bug in mapsync, please report it"
        )));
    };
    c.send(req, vars, None)
        .await
        .map(|_| ())
        .map_err(|e| Failure::from_connector(&e, what))
}

/// Deletes; an object that is already gone (404) counts as deleted.
async fn delete(c: &Connector, r: &SetupResource, vars: &Vars) -> std::result::Result<(), Failure> {
    match send(c, r.delete.as_ref(), "delete", vars).await {
        Err(f) if f.status == Some(404) => Ok(()),
        other => other,
    }
}

fn connector(connectors: &Connectors, r: &SetupResource) -> Result<Connector> {
    connectors
        .get(&r.system)
        .map(|c| c.with_auth(r.auth.as_ref()))
        .ok_or_else(|| SetupError::NoConnector(r.system.clone()))
}
