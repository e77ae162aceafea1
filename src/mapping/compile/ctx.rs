//! `Ctx`: collects diagnostics while compiling, with one helper per kind of compiled thing.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::super::model::{Method, Request};
use super::super::raw::RawMethod;
use super::super::{Diagnostic, EnvMode};
use crate::expr::{Expr, FieldPath, JsonPath, JsonTemplate, NameKind, NameUse, Template};

/// Diagnostics so far, and how strict the environment checks are.
pub(crate) struct Ctx {
    pub diags: Vec<Diagnostic>,
    pub mode: EnvMode,
    /// Pointers of strings that named an unset variable. Their env-unset diagnostic says
    /// what is wrong, so checks of their (incomplete) value are not reported on top of it.
    pub unset: BTreeSet<String>,
    /// Every key compiled as an expression, template or JSONPath, with the variables it sees
    /// (for the generated expression-language reference).
    pub keys: Vec<KeyUse>,
}

/// What a key of the mapping is compiled as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyKind {
    /// A minijinja expression evaluated to a JSON value.
    Expression,
    /// Text with `{{ expression }}` parts.
    Template,
    /// A JSON body whose string leaves are templates.
    JsonTemplate,
    /// An RFC 9535 JSONPath.
    JsonPath,
}

/// One key compiled while loading a mapping: where, as what, seeing which variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub pointer: String,
    pub kind: KeyKind,
    pub variables: Vec<String>,
}

/// The stand-in field path for one whose environment variable is unset.
pub(crate) const UNSET_FIELD: &str = "(unset)";

/// Where `validate`'s hints send a reader for the expression language.
pub(crate) const EXPR_DOC: &str = "docs/expression-language.md";

/// Joins a pointer and more segments.
pub(crate) fn ptr(base: &str, segs: &[&str]) -> String {
    let mut p = base.to_string();
    for s in segs {
        p.push('/');
        p.push_str(&super::super::pointer_segment(s));
    }
    p
}

impl Ctx {
    pub fn error(&mut self, code: &'static str, pointer: String, message: String, hint: &str) {
        let d = Diagnostic::error(code, pointer, message);
        self.diags.push(if hint.is_empty() {
            d
        } else {
            d.with_hint(hint)
        });
    }

    pub fn warning(&mut self, code: &'static str, pointer: String, message: String, hint: &str) {
        let d = Diagnostic::warning(code, pointer, message);
        self.diags.push(if hint.is_empty() {
            d
        } else {
            d.with_hint(hint)
        });
    }

    fn check_vars(
        &mut self,
        pointer: &str,
        src: &str,
        used: BTreeSet<String>,
        allowed: &[&str],
    ) -> bool {
        let unknown: Vec<String> = used
            .into_iter()
            .filter(|v| !allowed.contains(&v.as_str()))
            .collect();
        if unknown.is_empty() {
            return true;
        }
        let available = if allowed.is_empty() {
            "none".to_string()
        } else {
            allowed.join(", ")
        };
        let guesses: Vec<(&str, &str)> = unknown
            .iter()
            .filter_map(|u| crate::expr::language::nearest(u, allowed).map(|g| (u.as_str(), g)))
            .collect();
        let did_you_mean = match guesses.as_slice() {
            [] => String::new(),
            [(_, g)] if unknown.len() == 1 => format!("did you mean `{g}`? "),
            many => format!(
                "did you mean {}? ",
                many.iter()
                    .map(|(u, g)| format!("`{g}` for `{u}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(
            "unknown-variable",
            pointer.to_string(),
            format!(
                "`{src}` uses {} `{}`, which is not available here",
                plural(unknown.len()),
                unknown.join("`, `")
            ),
            &format!(
                "{did_you_mean}{} available here: {available} (see {EXPR_DOC})",
                if did_you_mean.is_empty() {
                    "variables"
                } else {
                    "Variables"
                }
            ),
        );
        false
    }

    /// Checks every filter, test and function name against the environment; returns the
    /// names called as functions (they are not variables) when all are known.
    fn check_names(
        &mut self,
        pointer: &str,
        src: &str,
        uses: Vec<NameUse>,
    ) -> Option<BTreeSet<String>> {
        let mut ok = true;
        let mut seen = BTreeSet::new();
        let mut functions = BTreeSet::new();
        for u in uses {
            if u.kind == NameKind::Function {
                functions.insert(u.name.clone());
            }
            if crate::expr::is_registered(u.kind, &u.name) || !seen.insert(u.clone()) {
                continue;
            }
            ok = false;
            let code = match u.kind {
                NameKind::Filter => "unknown-filter",
                NameKind::Test => "unknown-test",
                NameKind::Function => "unknown-function",
            };
            let hint = match crate::expr::language::suggest(u.kind, &u.name) {
                Some(best) => format!(
                    "did you mean `{best}`? Every {} is listed in {EXPR_DOC}",
                    u.kind
                ),
                None => format!("every {} is listed in {EXPR_DOC}", u.kind),
            };
            self.error(
                code,
                pointer.to_string(),
                format!(
                    "`{src}` uses the {} `{}`, which does not exist",
                    u.kind, u.name
                ),
                &hint,
            );
        }
        ok.then_some(functions)
    }

    fn check_all(
        &mut self,
        pointer: &str,
        src: &str,
        uses: Vec<NameUse>,
        vars: BTreeSet<String>,
        allowed: &[&str],
    ) -> bool {
        let Some(functions) = self.check_names(pointer, src, uses) else {
            return false;
        };
        let vars = vars
            .into_iter()
            .filter(|v| !functions.contains(v))
            .collect();
        self.check_vars(pointer, src, vars, allowed)
    }

    fn note(&mut self, pointer: &str, kind: KeyKind, allowed: &[&str]) {
        self.keys.push(KeyUse {
            pointer: pointer.to_string(),
            kind,
            variables: allowed.iter().map(|v| v.to_string()).collect(),
        });
    }

    pub fn expr(&mut self, pointer: &str, src: &str, allowed: &[&str]) -> Option<Expr> {
        self.note(pointer, KeyKind::Expression, allowed);
        match Expr::compile(src) {
            Ok(e) => self
                .check_all(pointer, src, e.names_used(), e.variables(), allowed)
                .then_some(e),
            Err(err) => {
                self.error(
                    "bad-expression",
                    pointer.to_string(),
                    err.to_string(),
                    "expressions use minijinja syntax, e.g. `record.emails | first | default('')`",
                );
                None
            }
        }
    }

    pub fn template(&mut self, pointer: &str, src: &str, allowed: &[&str]) -> Option<Template> {
        self.note(pointer, KeyKind::Template, allowed);
        match Template::compile(src) {
            Ok(t) => self
                .check_all(pointer, src, t.names_used(), t.variables(), allowed)
                .then_some(t),
            Err(err) => {
                self.error(
                    "bad-template",
                    pointer.to_string(),
                    err.to_string(),
                    "templates are text with `{{ expression }}` parts, e.g. `/contacts/{{ id }}`",
                );
                None
            }
        }
    }

    pub fn json_template(
        &mut self,
        pointer: &str,
        v: &serde_json::Value,
        allowed: &[&str],
    ) -> Option<JsonTemplate> {
        self.note(pointer, KeyKind::JsonTemplate, allowed);
        match JsonTemplate::compile(v) {
            Ok(t) => self
                .check_all(
                    pointer,
                    &v.to_string(),
                    t.names_used(),
                    t.variables(),
                    allowed,
                )
                .then_some(t),
            Err(err) => {
                self.error("bad-template", pointer.to_string(), err.to_string(), "");
                None
            }
        }
    }

    pub fn json_path(&mut self, pointer: &str, src: &str) -> Option<JsonPath> {
        self.note(pointer, KeyKind::JsonPath, &[]);
        match JsonPath::compile(src) {
            Ok(p) => Some(p),
            Err(err) => {
                self.error(
                    "bad-jsonpath",
                    pointer.to_string(),
                    err.to_string(),
                    "JSONPaths start with `$`, e.g. `$.results` or `$.paging.next.after` (RFC 9535)",
                );
                None
            }
        }
    }

    pub fn opt_json_path(
        &mut self,
        pointer: &str,
        src: Option<&String>,
    ) -> Option<Option<JsonPath>> {
        match src {
            None => Some(None),
            Some(s) => self.json_path(pointer, s).map(Some),
        }
    }

    pub fn field_path(&mut self, pointer: &str, src: &str) -> Option<FieldPath> {
        match FieldPath::parse(src) {
            Ok(p) => Some(p),
            // e.g. `'"${FIELD_KEY:?…}"'` with FIELD_KEY unset: already reported as env-unset
            Err(_) if self.unset.contains(pointer) => Some(FieldPath::single(UNSET_FIELD)),
            Err(err) => {
                self.error(
                    "bad-field-path",
                    pointer.to_string(),
                    err.to_string(),
                    "field paths are names joined by dots; quote names with spaces: custom_fields.\"External ID\"",
                );
                None
            }
        }
    }

    pub fn regex(&mut self, pointer: &str, src: &str) -> Option<Regex> {
        match Regex::new(src) {
            Ok(r) => Some(r),
            Err(err) => {
                self.error(
                    "bad-regex",
                    pointer.to_string(),
                    format!("`{src}` is not a valid regular expression: {err}"),
                    "",
                );
                None
            }
        }
    }

    pub fn pairs(
        &mut self,
        pointer: &str,
        m: &BTreeMap<String, String>,
        allowed: &[&str],
    ) -> Option<Vec<(String, Template)>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (k, v) in m {
            match self.template(&ptr(pointer, &[k]), v, allowed) {
                Some(t) => out.push((k.clone(), t)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Compiles a request's parts; `body_vars` are the extra variables the body may use.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        pointer: &str,
        method: Option<RawMethod>,
        default_method: Method,
        path: &str,
        query: &BTreeMap<String, String>,
        headers: &BTreeMap<String, String>,
        body: Option<&serde_json::Value>,
        vars: &[&str],
        body_vars: &[&str],
    ) -> Option<Request> {
        let path = self.template(&ptr(pointer, &["path"]), path, vars);
        let query = self.pairs(&ptr(pointer, &["query"]), query, vars);
        let headers = self.pairs(&ptr(pointer, &["headers"]), headers, vars);
        let all: Vec<&str> = vars.iter().chain(body_vars).copied().collect();
        let body = match body {
            None => Some(None),
            Some(b) => self
                .json_template(&ptr(pointer, &["body"]), b, &all)
                .map(Some),
        };
        Some(Request {
            method: method.map(method_of).unwrap_or(default_method),
            path: path?,
            query: query?,
            headers: headers?,
            body: body?,
        })
    }
}

pub(crate) fn method_of(m: RawMethod) -> Method {
    match m {
        RawMethod::Get => Method::Get,
        RawMethod::Post => Method::Post,
        RawMethod::Put => Method::Put,
        RawMethod::Patch => Method::Patch,
        RawMethod::Delete => Method::Delete,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "the variable"
    } else {
        "the variables"
    }
}
