//! Validation stage 2: turns a `RawMapping` into the validated `Mapping`, resolving references,
//! interpolating the environment, parsing JSONPaths and compiling expressions, and reporting
//! every problem at once as `Diagnostic`s with JSON pointers.

mod collection;
mod ctx;
mod interpolate;
mod pair;
mod setup;
mod system;
mod webhook;

use std::collections::BTreeMap;

use super::env::Env;
use super::raw::RawMapping;
use super::{Diagnostic, Mapping, Severity};
use ctx::{Ctx, ptr};
pub use ctx::{KeyKind, KeyUse};

/// How unset environment variables count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvMode {
    /// `mapsync validate`: an unset variable is a warning.
    Lenient,
    /// Commands that call APIs: an unset variable is an error.
    Strict,
}

/// The outcome of stage 2.
#[derive(Debug)]
pub struct Compiled {
    /// The validated mapping, when there are no errors.
    pub mapping: Option<Mapping>,
    /// Every finding, errors and warnings, with pointers but without locations.
    pub diagnostics: Vec<Diagnostic>,
    /// Every key compiled as an expression, template or JSONPath (for the generated
    /// expression-language reference, `mapping::expr_reference`).
    pub keys: Vec<KeyUse>,
}

/// Validates and compiles a raw mapping.
pub fn compile(raw: &RawMapping, env: &Env, mode: EnvMode) -> Compiled {
    let mut ctx = Ctx {
        diags: Vec::new(),
        mode,
        unset: Default::default(),
        keys: Vec::new(),
    };
    let mapping = build(raw, env, &mut ctx);
    let has_errors = ctx.diags.iter().any(|d| d.severity == Severity::Error);
    Compiled {
        mapping: if has_errors { None } else { mapping },
        diagnostics: ctx.diags,
        keys: ctx.keys,
    }
}

fn build(raw: &RawMapping, env: &Env, ctx: &mut Ctx) -> Option<Mapping> {
    let resolved = interpolate::interpolate_mapping(raw, env, ctx)?;
    let mut systems = BTreeMap::new();
    for (name, s) in &resolved.systems {
        if let Some(sys) = system::system(ctx, name, s) {
            systems.insert(name.clone(), sys);
        }
    }
    let mut collections = BTreeMap::new();
    let mut routes: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, c) in &resolved.collections {
        if let Some(w) = &c.webhook
            && let Some(other) = routes.insert(w.path.as_str(), name.as_str())
        {
            ctx.error(
                "duplicate-route",
                ptr("", &["collections", name, "webhook", "path"]),
                format!(
                    "webhook path `{}` is also used by collection `{other}`",
                    w.path
                ),
                "give each webhook its own path",
            );
        }
        if let Some(col) = collection::collection(ctx, name, c, &systems) {
            collections.insert(name.clone(), col);
        }
    }
    let declared: Vec<&str> = resolved.collections.keys().map(String::as_str).collect();
    let pair = pair::pair(ctx, &resolved.pair, &collections, &declared);
    let bases = systems
        .iter()
        .map(|(k, s)| (k.clone(), s.base_url.clone()))
        .collect();
    let setup = setup::setup(ctx, &resolved.setup, &bases);
    if systems.len() != resolved.systems.len() || collections.len() != resolved.collections.len() {
        return None;
    }
    Some(Mapping {
        title: resolved.title.clone(),
        systems,
        collections,
        pair: pair?,
        setup: setup?,
        raw: raw.clone(),
    })
}
