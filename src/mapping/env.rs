//! Environment interpolation in mapping strings: `${VAR}`, `${VAR:-default}`,
//! `${VAR:?message}`, and `$$` for a literal `$`. Secrets only ever enter a mapping this way.

use std::collections::BTreeMap;
use std::fmt;

/// Where variables come from: the process environment, or a fixed map in tests.
#[derive(Clone, Default)]
pub struct Env {
    vars: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: list names only.
        let names: Vec<&String> = self.vars.iter().flat_map(|m| m.keys()).collect();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env { vars: None }
    }

    /// A fixed set of variables (tests, `mapsync test`).
    pub fn from_map<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: Some(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The value of a variable; an empty value counts as set.
    pub fn get(&self, name: &str) -> Option<String> {
        match &self.vars {
            Some(m) => m.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

/// Why interpolation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvProblem {
    /// `${VAR}` or `${VAR:?message}` with VAR unset.
    Unset {
        /// The variable.
        name: String,
        /// The mapping's message for it, if any.
        message: Option<String>,
    },
    /// A `${` that is never closed, or a bad variable name.
    Syntax(String),
}

impl fmt::Display for EnvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvProblem::Unset {
                name,
                message: Some(m),
            } => write!(f, "environment variable {name} is not set: {m}"),
            EnvProblem::Unset {
                name,
                message: None,
            } => write!(f, "environment variable {name} is not set"),
            EnvProblem::Syntax(m) => f.write_str(m),
        }
    }
}

/// The outcome of interpolating one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    /// The text with every reference replaced (unset ones by nothing).
    pub text: String,
    /// Unset variables without a default.
    pub problems: Vec<EnvProblem>,
}

/// Replaces every `${…}` reference in `s`. Defaults may themselves hold references.
pub fn interpolate(s: &str, env: &Env) -> Interpolated {
    let mut problems = Vec::new();
    let text = expand(s, env, &mut problems, 0);
    Interpolated { text, problems }
}

/// The names of the variables `s` refers to (without defaults' own references).
pub fn referenced_vars(s: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            rest = a;
            continue;
        }
        if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(body.len());
            if end > 0 {
                names.push(body[..end].to_string());
            }
            rest = &body[end..];
        } else {
            rest = after;
        }
    }
    names
}

fn expand(s: &str, env: &Env, problems: &mut Vec<EnvProblem>, depth: usize) -> String {
    if depth > 8 {
        problems.push(EnvProblem::Syntax(
            "defaults nest more than 8 deep".to_string(),
        ));
        return String::new();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(close) = matching_brace(body) else {
            problems.push(EnvProblem::Syntax(format!(
                "`${{` is never closed in `{s}`"
            )));
            return out;
        };
        let inner = &body[..close];
        rest = &body[close + 1..];
        let name_end = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let name = &inner[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            problems.push(EnvProblem::Syntax(format!(
                "`${{{inner}}}` does not start with a variable name"
            )));
            continue;
        }
        let op = &inner[name_end..];
        let value = env.get(name);
        if let Some(default) = op.strip_prefix(":-") {
            match value {
                Some(v) if !v.is_empty() => out.push_str(&v),
                _ => out.push_str(&expand(default, env, problems, depth + 1)),
            }
        } else if let Some(message) = op.strip_prefix(":?") {
            match value {
                Some(v) if !v.is_empty() => out.push_str(&v),
                _ => problems.push(EnvProblem::Unset {
                    name: name.to_string(),
                    message: Some(message.trim().to_string()),
                }),
            }
        } else if op.is_empty() {
            match value {
                Some(v) => out.push_str(&v),
                None => problems.push(EnvProblem::Unset {
                    name: name.to_string(),
                    message: None,
                }),
            }
        } else {
            problems.push(EnvProblem::Syntax(format!(
                "`${{{inner}}}`: after the name write `:-default` or `:?message`"
            )));
        }
    }
    out.push_str(rest);
    out
}

/// The index of the `}` closing a reference whose body starts at `body`, skipping nested `${…}`.
fn matching_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_map([("A", "1"), ("EMPTY", ""), ("URL", "http://x")])
    }

    #[test]
    fn forms() {
        let e = env();
        assert_eq!(interpolate("a${A}b", &e).text, "a1b");
        assert_eq!(interpolate("${B:-dflt}", &e).text, "dflt");
        assert_eq!(interpolate("${EMPTY:-dflt}", &e).text, "dflt");
        assert_eq!(interpolate("${EMPTY}", &e).text, "");
        assert_eq!(interpolate("${B:-${URL}/v2}", &e).text, "http://x/v2");
        assert_eq!(interpolate("$$HOME and $x", &e).text, "$HOME and $x");
        assert_eq!(
            interpolate("no refs", &e),
            Interpolated {
                text: "no refs".into(),
                problems: vec![]
            }
        );
    }

    #[test]
    fn problems() {
        let e = env();
        assert_eq!(
            interpolate("${B:?set B please}", &e).problems,
            vec![EnvProblem::Unset {
                name: "B".into(),
                message: Some("set B please".into())
            }]
        );
        assert_eq!(
            interpolate("${B}", &e).problems,
            vec![EnvProblem::Unset {
                name: "B".into(),
                message: None
            }]
        );
        assert!(matches!(
            interpolate("${A", &e).problems[0],
            EnvProblem::Syntax(_)
        ));
        assert!(matches!(
            interpolate("${1A}", &e).problems[0],
            EnvProblem::Syntax(_)
        ));
        assert!(matches!(
            interpolate("${A:x}", &e).problems[0],
            EnvProblem::Syntax(_)
        ));
    }

    #[test]
    fn referenced() {
        assert_eq!(referenced_vars("${A} ${B:-${C}} $$D"), vec!["A", "B", "C"]);
    }

    #[test]
    fn debug_never_prints_values() {
        let e = Env::from_map([("SECRET", "hunter2")]);
        assert!(!format!("{e:?}").contains("hunter2"));
    }
}
