//! Checks, before any request, that each system a command calls can authenticate, and names
//! the environment variables to set when it cannot.

use crate::mapping::env::{Env, EnvProblem, interpolate, referenced_vars};
use crate::mapping::model::{Auth, Mapping};
use crate::mapping::raw::RawAuth;
use crate::store::StateStore;

/// Where a system's base URL comes from, for an error about reaching it: the variables its
/// `base_url` names and whether each is set, e.g. "`base_url` comes from TTE_BASE_URL (set)".
pub fn base_url_origin(mapping: &Mapping, system: &str) -> Option<String> {
    let raw = &mapping.raw.systems.get(system)?.base_url;
    let names = referenced_vars(raw);
    if names.is_empty() {
        return Some(format!(
            "`base_url` is written in the mapping (systems.{system}.base_url)"
        ));
    }
    let env = Env::process();
    let described: Vec<String> = names
        .iter()
        .map(|n| match env.get(n) {
            Some(_) => format!("{n} (set)"),
            None => format!("{n} (unset, so the mapping's default applies)"),
        })
        .collect();
    Some(format!("`base_url` comes from {}", described.join(", ")))
}

/// `Err` with a message that says which variables to set (or which install flow to run).
pub fn check_credentials(
    mapping: &Mapping,
    system: &str,
    store: &dyn StateStore,
) -> Result<(), String> {
    let Some(sys) = mapping.systems.get(system) else {
        return Err(format!("the mapping declares no system `{system}`"));
    };
    let raw = mapping
        .raw
        .systems
        .get(system)
        .and_then(|s| s.auth.as_ref());
    let vars = |strings: &[&str]| -> String {
        let mut names: Vec<String> = strings.iter().flat_map(|s| referenced_vars(s)).collect();
        names.dedup();
        if names.is_empty() {
            "the credential in the mapping".to_string()
        } else {
            names.join(" or ")
        }
    };
    // A variable the credential names but the environment lacks (`${VAR}`, `${VAR:?…}`) is
    // missing even when the rest of the value is not empty (`token ${API_KEY}`).
    let env = Env::process();
    let fixed: Vec<&str> = match raw {
        Some(RawAuth::Header(h)) => vec![&h.value],
        Some(RawAuth::Query(q)) => vec![&q.value],
        Some(RawAuth::Bearer(b)) => vec![&b.token],
        Some(RawAuth::Basic(b)) => vec![&b.username, &b.password],
        _ => Vec::new(),
    };
    for text in fixed {
        for p in interpolate(text, &env).problems {
            if let EnvProblem::Unset { name, message } = p {
                let fix = message.unwrap_or_else(|| format!("export {name}=…"));
                return Err(format!(
                    "{} has no credential: {name} is not set ({fix})",
                    sys.title
                ));
            }
        }
    }
    let empty = match (&sys.auth, raw) {
        (None, _) => return Ok(()),
        (Some(Auth::Header { value, .. }), Some(RawAuth::Header(h))) => {
            value.is_empty().then(|| vars(&[&h.value]))
        }
        (Some(Auth::Query { value, .. }), Some(RawAuth::Query(q))) => {
            value.is_empty().then(|| vars(&[&q.value]))
        }
        (Some(Auth::Bearer { token }), Some(RawAuth::Bearer(b))) => {
            token.is_empty().then(|| vars(&[&b.token]))
        }
        (Some(Auth::Basic { password, .. }), Some(RawAuth::Basic(b))) => {
            password.is_empty().then(|| vars(&[&b.password]))
        }
        (Some(Auth::OAuth2(o)), Some(RawAuth::Oauth2(r))) => {
            if o.static_token.is_some() {
                None
            } else {
                let stored = store.token(system).map_err(|e| e.to_string())?;
                if stored.is_some() {
                    None
                } else {
                    let token_vars = r
                        .static_token
                        .as_deref()
                        .map(|t| vars(&[t]))
                        .unwrap_or_default();
                    return Err(format!(
                        "{} has no access token: set {token_vars} (a private app's token), or install the app with \
                         `mapsync serve` and open /oauth/{system}/start",
                        sys.title
                    ));
                }
            }
        }
        _ => None,
    };
    match empty {
        Some(names) => Err(format!("{} has no credential: set {names}", sys.title)),
        None => Ok(()),
    }
}

/// `Err` naming every environment variable the setup resources need (a developer key, an app
/// id, a webhook token) that is unset and has no default, with the mapping's hint for it.
pub fn check_setup_variables(mapping: &Mapping, env: &Env) -> Result<(), String> {
    fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(m) => m.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for r in &mapping.raw.setup {
        let Ok(json) = serde_json::to_value(r) else {
            continue;
        };
        let mut texts = Vec::new();
        strings(&json, &mut texts);
        for t in texts {
            for p in interpolate(t, env).problems {
                if let EnvProblem::Unset { name, message } = p {
                    if seen.contains(&name) {
                        continue;
                    }
                    let fix = message.unwrap_or_else(|| format!("export {name}=…"));
                    lines.push(format!(
                        "setup resource `{}` needs the environment variable {name}, which is not set: {fix}",
                        r.name
                    ));
                    seen.push(name);
                }
            }
        }
    }
    if lines.is_empty() {
        Ok(())
    } else {
        Err(lines.join("\n"))
    }
}
