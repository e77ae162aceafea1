//! `mapsync setup`: loads the mapping, checks the public URL and credentials, reads what exists,
//! prints the plan Terraform-style (or as JSON), asks for confirmation, applies, and reports
//! what was applied, also when an error stopped it.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::sync::{load, open_store};
use super::{Exit, SetupArgs, print};
use crate::connector::Connector;
use crate::mapping::env::{Env, referenced_vars};
use crate::mapping::model::Mapping;
use crate::runner::{StoreTokens, check_credentials, check_setup_variables};
use crate::setup::{
    self, ActionKind, Applied, ApplyReport, Connectors, PlanCounts, PlanOptions, ResourcePlan,
    SetupPlan,
};
use crate::store::StateStore;

/// Runs `mapsync setup`.
pub fn run(args: &SetupArgs) -> Exit {
    let Some(mapping) = load(&args.mapping.mapping) else {
        return Exit::Invalid;
    };
    if mapping.setup.is_empty() {
        print("The mapping declares no setup resources (`setup:`); nothing to do.\n");
        return Exit::Ok;
    }
    let env = Env::process();
    let public_url = match &args.public_url {
        Some(u) => match setup::normalize_public_url(u) {
            Ok(u) => Some(u),
            Err(e) => return fail(&e.to_string(), Exit::Usage),
        },
        None => None,
    };
    let needing = setup::needs_public_url(&mapping.setup);
    if public_url.is_none() && !args.teardown && !needing.is_empty() {
        let e = setup::SetupError::PublicUrlMissing { names: needing };
        return fail(&e.to_string(), Exit::Usage);
    }
    if let Err(message) = check_setup_variables(&mapping, &env) {
        return fail(&message, Exit::Unavailable);
    }
    let store = match open_store(args.state.as_deref(), &args.mapping.mapping) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string(), Exit::Store),
    };
    let connectors = match connectors(&mapping, &store) {
        Ok(c) => c,
        Err(message) => return fail(&message, Exit::Unavailable),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(
                &format!("cannot start the async runtime: {e}"),
                Exit::Unavailable,
            );
        }
    };
    let redact = Redactor::new(&mapping, &env);
    let vars = setup::base_vars(Some(public_url.as_deref().unwrap_or("")));
    let opts = PlanOptions {
        public_url: public_url.clone(),
        prune: args.prune,
        teardown: args.teardown,
    };
    let plan = match runtime.block_on(setup::observe(&mapping.setup, &connectors, &vars)) {
        Ok(observed) => setup::plan(&mapping.setup, &observed, &opts),
        Err(e) => Err(e),
    };
    let plan = match plan {
        Ok(p) => p,
        Err(e) => {
            let auth_hint = match &e {
                setup::SetupError::Observe { resource, source }
                    if matches!(source.status(), Some(401 | 403)) =>
                {
                    credential_hint(&mapping, resource)
                }
                _ => String::new(),
            };
            let code = match e {
                setup::SetupError::Mapping { .. } => Exit::Invalid,
                setup::SetupError::PublicUrlMissing { .. }
                | setup::SetupError::PublicUrlInvalid { .. } => Exit::Usage,
                _ => Exit::Unavailable,
            };
            return fail(&redact.text(&format!("{e}{auth_hint}")), code);
        }
    };
    if args.json {
        let json = serde_json::json!({ "plan": PlanJson { plan: &plan, counts: plan.counts() } });
        print(&format!("{}\n", redact.text(&json.to_string())));
    } else {
        print(&redact.text(&render_plan(&plan, &mapping, &redact)));
    }
    if plan.is_empty() {
        return Exit::Ok;
    }
    if args.dry_run {
        return Exit::ChangesPending;
    }
    if !args.yes
        && let Some(code) = confirm(&plan)
    {
        return code;
    }
    let json = args.json;
    let mut progress = |a: &Applied| {
        if !json {
            print(&format!(
                "  {} {} {}\n",
                done_verb(a.kind),
                a.resource,
                a.key
            ));
        }
    };
    let report = runtime.block_on(setup::apply(
        &plan,
        &mapping.setup,
        &connectors,
        &vars,
        &mut progress,
    ));
    if json {
        print(&format!(
            "{}\n",
            redact.text(&serde_json::json!({ "outcome": report }).to_string())
        ));
    } else {
        print(&render_outcome(&report));
    }
    match &report.failed {
        None => Exit::Ok,
        Some(f) => {
            let hint = if matches!(f.status, Some(401 | 403)) {
                credential_hint(&mapping, &f.resource)
            } else {
                String::new()
            };
            let mut text = format!(
                "error: {} {} of {} failed: {}{hint}\n",
                verb(f.kind),
                f.key,
                f.resource,
                f.error
            );
            text.push_str(&format!(
                "{} change(s) were applied before the error, 1 failed, and {} were not \
                 attempted; fix the problem and run `mapsync setup` again: it plans from what \
                 exists now\n",
                report.applied.len(),
                report.not_attempted
            ));
            let _ = std::io::stderr().write_all(redact.text(&text).as_bytes());
            Exit::Unavailable
        }
    }
}

/// The plan as `--json` prints it.
#[derive(Serialize)]
struct PlanJson<'a> {
    #[serde(flatten)]
    plan: &'a SetupPlan,
    counts: PlanCounts,
}

/// Asks on a terminal; `None` means go ahead.
fn confirm(plan: &SetupPlan) -> Option<Exit> {
    if !std::io::stdin().is_terminal() {
        let _ = writeln!(
            std::io::stderr(),
            "error: not applying without confirmation: stdin is not a terminal; pass --yes to \
             apply this plan, or --dry-run to only show it"
        );
        return Some(Exit::Refused);
    }
    let what = if plan.teardown {
        "Delete these objects"
    } else {
        "Apply these changes"
    };
    let mut err = std::io::stderr();
    let _ = write!(err, "{what}? Only 'y' or 'yes' goes ahead. [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" => None,
        _ => {
            let _ = writeln!(err, "Not applied: nothing was changed.");
            Some(Exit::Refused)
        }
    }
}

/// One connector per system a setup resource reads or writes, after checking each can
/// authenticate with the credentials it will use.
fn connectors(mapping: &Mapping, store: &Arc<dyn StateStore>) -> Result<Connectors, String> {
    let mut out = Connectors::new();
    let callable = mapping
        .setup
        .iter()
        .filter(|r| r.list.is_some() || r.read.is_some());
    let mut own_auth_only: BTreeSet<&str> = BTreeSet::new();
    let mut system_auth: BTreeSet<&str> = BTreeSet::new();
    for r in callable {
        if r.auth.is_some() {
            own_auth_only.insert(&r.system);
        } else {
            system_auth.insert(&r.system);
        }
    }
    for name in own_auth_only.union(&system_auth) {
        let Some(system) = mapping.systems.get(*name) else {
            return Err(format!("the mapping declares no system `{name}`"));
        };
        if system_auth.contains(name) {
            check_credentials(mapping, name, store.as_ref())?;
        }
        let c = Connector::builder(system)
            .token_provider(Arc::new(StoreTokens::new(
                store.clone(),
                super::sync::state_key()?,
            )))
            .build()
            .map_err(|e| e.to_string())?;
        out.insert(name.to_string(), c);
    }
    Ok(out)
}

/// The plan as a person reads it.
fn render_plan(plan: &SetupPlan, mapping: &Mapping, redact: &Redactor) -> String {
    let mut out = String::new();
    if plan.teardown {
        out.push_str("Teardown: mapsync deletes what it owns of the declared items.\n\n");
    }
    for r in &plan.resources {
        render_resource(&mut out, r, mapping, redact);
    }
    let c = plan.counts();
    if c.manual > 0 {
        out.push_str(&format!(
            "{} item(s) must be created by hand (see above).\n",
            c.manual
        ));
    }
    if plan.is_empty() {
        out.push_str("No changes. The systems match the mapping.\n");
    } else {
        out.push_str(&format!(
            "Plan: {} to add, {} to change, {} to destroy.\n",
            c.add, c.change, c.destroy
        ));
    }
    out
}

fn render_resource(out: &mut String, r: &ResourcePlan, mapping: &Mapping, redact: &Redactor) {
    let title = mapping
        .systems
        .get(&r.system)
        .map_or(r.system.as_str(), |s| s.title.as_str());
    if let Some(m) = &r.manual {
        out.push_str(&format!("{} on {title}: by hand\n", r.name));
        if !m.checked {
            out.push_str(&format!(
                "  ? {} (not checked: the mapping says no way to read them)\n",
                m.instructions
            ));
        } else if m.missing.is_empty() {
            out.push_str("  = all present\n");
        } else {
            for k in &m.missing {
                out.push_str(&format!("  ! missing {k}: {}\n", m.instructions));
            }
        }
        out.push('\n');
        return;
    }
    let rule = setup::rule_text(&r.ownership);
    if r.actions.is_empty() && r.notes.is_empty() {
        out.push_str(&format!(
            "{} on {title}: {} unchanged\n\n",
            r.name,
            r.unchanged.len()
        ));
        return;
    }
    out.push_str(&format!("{} on {title} ({rule}):\n", r.name));
    for a in &r.actions {
        let symbol = match a.kind {
            ActionKind::Create => "+",
            ActionKind::Update => "~",
            ActionKind::Replace => "-/+",
            ActionKind::Delete => "-",
        };
        out.push_str(&format!("  {symbol} {} {}", verb(a.kind), a.key));
        if let Some(reason) = &a.reason {
            out.push_str(&format!(" ({reason})"));
        }
        out.push('\n');
        for c in &a.changes {
            out.push_str(&format!(
                "      {}: {} → {}\n",
                c.attr,
                short(&c.from, redact),
                short(&c.to, redact)
            ));
        }
        if a.kind == ActionKind::Create
            && let Some(Value::Object(m)) = &a.item
        {
            for (k, v) in m {
                out.push_str(&format!("      {k}: {}\n", short(v, redact)));
            }
        }
    }
    if !r.unchanged.is_empty() {
        out.push_str(&format!("  = {} unchanged\n", r.unchanged.len()));
    }
    for n in &r.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out.push('\n');
}

fn render_outcome(r: &ApplyReport) -> String {
    let n = |k: ActionKind| r.applied.iter().filter(|a| a.kind == k).count();
    let (created, updated, replaced, deleted) = (
        n(ActionKind::Create),
        n(ActionKind::Update),
        n(ActionKind::Replace),
        n(ActionKind::Delete),
    );
    let head = if r.failed.is_some() {
        "Apply stopped by an error"
    } else {
        "Apply complete"
    };
    format!(
        "{head}: {created} created, {updated} updated, {replaced} replaced, {deleted} deleted.\n"
    )
}

fn verb(k: ActionKind) -> &'static str {
    match k {
        ActionKind::Create => "create",
        ActionKind::Update => "update",
        ActionKind::Replace => "replace",
        ActionKind::Delete => "delete",
    }
}

fn done_verb(k: ActionKind) -> &'static str {
    match k {
        ActionKind::Create => "created",
        ActionKind::Update => "updated",
        ActionKind::Replace => "replaced",
        ActionKind::Delete => "deleted",
    }
}

/// A value for the plan, redacted first and only then cut to 80 characters, so no part of a
/// secret survives the cut.
fn short(v: &Value, redact: &Redactor) -> String {
    let s = redact.text(&v.to_string());
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(79).collect::<String>())
    } else {
        s
    }
}

/// `" (… comes from VAR)"`: where the credential a resource's calls use is set, so a refused
/// key names the variable to check.
fn credential_hint(mapping: &Mapping, resource: &str) -> String {
    let Some(raw) = mapping.raw.setup.iter().find(|r| r.name == resource) else {
        return String::new();
    };
    let auth = match &raw.auth {
        Some(a) => serde_json::to_string(a),
        None => serde_json::to_string(
            &mapping
                .raw
                .systems
                .get(&raw.system)
                .and_then(|s| s.auth.as_ref()),
        ),
    }
    .unwrap_or_default();
    let mut names = referenced_vars(&auth);
    names.dedup();
    if names.is_empty() {
        String::new()
    } else {
        format!(
            " (the credential `{resource}` uses comes from {})",
            names.join(", ")
        )
    }
}

fn fail(message: &str, code: Exit) -> Exit {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    code
}

/// Shows environment values that reach the plan through setup items (e.g. a webhook token in
/// a callback URL) as `${NAME}`, so plans can be shared and logged.
struct Redactor {
    values: Vec<(String, String)>,
}

impl Redactor {
    fn new(mapping: &Mapping, env: &Env) -> Redactor {
        let mut values = Vec::new();
        for r in &mapping.raw.setup {
            let text = serde_json::to_string(&r.items).unwrap_or_default();
            for name in referenced_vars(&text) {
                // Short values (an app id, a flag) would mangle unrelated text.
                if let Some(v) = env.get(&name).filter(|v| v.len() >= 6) {
                    values.push((v, format!("${{{name}}}")));
                }
            }
        }
        Redactor { values }
    }

    /// `s` with every secret value replaced by its variable's name; a secret's beginning cut
    /// off by a `…` (text shortened elsewhere before it reached here) is replaced too.
    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (value, name) in &self.values {
            out = out.replace(value.as_str(), name);
        }
        for (value, name) in &self.values {
            out = redact_cut(&out, value, name);
        }
        out
    }
}

/// Replaces, before each `…` in `text`, a tail of at least 4 characters that is a beginning of
/// `value`.
fn redact_cut(text: &str, value: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('…') {
        let (before, after) = rest.split_at(at);
        let cut = (4..value.len())
            .rev()
            .filter(|n| value.is_char_boundary(*n))
            .find(|n| before.ends_with(&value[..*n]));
        match cut {
            Some(n) => {
                out.push_str(&before[..before.len() - n]);
                out.push_str(name);
            }
            None => out.push_str(before),
        }
        out.push('…');
        rest = &after['…'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_redacted_before_any_cut() {
        let token = "0123456789abcdef0123456789abcdef0123456789";
        let r = Redactor {
            values: vec![(token.to_string(), "${TOKEN}".to_string())],
        };
        let url = Value::String(format!(
            "https://sync.example.com/webhooks/crm/records?key={token}"
        ));
        let shown = short(&url, &r);
        assert!(!shown.contains("0123"), "{shown}");
        assert!(shown.contains("${TOKEN}"), "{shown}");
        // Text shortened elsewhere (a planner label) loses the secret's beginning too.
        let cut = format!("{{\"callback_url\":\"https://h/x?key={}…", &token[..20]);
        let shown = r.text(&cut);
        assert!(!shown.contains("0123"), "{shown}");
        assert_eq!(shown, "{\"callback_url\":\"https://h/x?key=${TOKEN}…");
    }
}
