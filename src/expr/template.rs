//! `Template`: literal text with `{{ expression }}` parts, rendered to a string; a template that
//! is exactly one `{{ expression }}` can also render to that expression's JSON value.

use std::collections::BTreeSet;

use super::{Expr, ExprError, Vars};

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Expr(Expr),
}

/// A compiled template, e.g. `Last synced: {{ now }}` or `/contacts/{{ id }}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Compiles a template. Block tags (`{% %}`) and comments are not supported: use inline
    /// expressions such as `{{ 'a' if x else 'b' }}`.
    pub fn compile(source: &str) -> Result<Template, ExprError> {
        if source.contains("{%") || source.contains("{#") {
            return Err(ExprError::Block {
                source_text: source.to_string(),
            });
        }
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| ExprError::Syntax {
                source_text: source.to_string(),
                message: "a `{{` is never closed by `}}`".to_string(),
            })?;
            parts.push(Part::Expr(Expr::compile(after[..end].trim())?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the template has no expression parts.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The expression when the template is exactly one `{{ expression }}`.
    pub fn single_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// Renders to text like [`Template::render`], passing each expression part's text through
    /// `escape` (literal parts are kept as written), e.g. to percent-encode values that enter a
    /// URL path.
    pub fn render_escaped(
        &self,
        vars: &Vars,
        escape: impl Fn(&str) -> String,
    ) -> Result<String, ExprError> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Expr(e) => {
                    let mut text = String::new();
                    push_text(&mut text, &e.eval(vars)?);
                    out.push_str(&escape(&text));
                }
            }
        }
        Ok(out)
    }

    /// Renders to text: strings as they are, `null` as nothing, other values as JSON.
    pub fn render(&self, vars: &Vars) -> Result<String, ExprError> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Expr(e) => push_text(&mut out, &e.eval(vars)?),
            }
        }
        Ok(out)
    }

    /// Renders to a JSON value: the expression's value for a single-expression template, the
    /// rendered text otherwise.
    pub fn render_value(&self, vars: &Vars) -> Result<serde_json::Value, ExprError> {
        match self.single_expr() {
            Some(e) => e.eval(vars),
            None => self.render(vars).map(serde_json::Value::String),
        }
    }

    /// The top-level variables the template reads.
    pub fn variables(&self) -> BTreeSet<String> {
        self.exprs().flat_map(|e| e.variables()).collect()
    }

    /// The expressions in the template.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Lit(_) => None,
        })
    }
}

/// Appends a JSON value as text.
pub(crate) fn push_text(out: &mut String, v: &serde_json::Value) {
    match v {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => out.push_str(s),
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_text_and_values() {
        let vars = Vars::new()
            .with("id", &json!("123"))
            .with("force", &json!(false))
            .with("xs", &json!([1, 2]));
        assert_eq!(
            Template::compile("/contacts/{{ id }}")
                .unwrap()
                .render(&vars)
                .unwrap(),
            "/contacts/123"
        );
        assert_eq!(
            Template::compile("{{ 'True' if force else 'False' }}")
                .unwrap()
                .render(&vars)
                .unwrap(),
            "False"
        );
        assert_eq!(
            Template::compile("{{ xs }}")
                .unwrap()
                .render_value(&vars)
                .unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            Template::compile("a{{ xs }}")
                .unwrap()
                .render_value(&vars)
                .unwrap(),
            json!("a[1,2]")
        );
        assert!(Template::compile("plain").unwrap().is_literal());
    }

    #[test]
    fn rejects_blocks_and_unclosed_parts() {
        assert!(matches!(
            Template::compile("{% if x %}y{% endif %}"),
            Err(ExprError::Block { .. })
        ));
        assert!(matches!(
            Template::compile("a {{ b"),
            Err(ExprError::Syntax { .. })
        ));
    }
}
