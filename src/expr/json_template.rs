//! `JsonTemplate`: a JSON value whose string leaves are templates, e.g. a request body
//! `{inputs: "{{ inputs }}"}`. A leaf that is exactly one `{{ expression }}` becomes that
//! expression's JSON value; other leaves become text.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{ExprError, Template, Vars};

/// A compiled JSON template.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    /// A string leaf.
    Text(Template),
    /// An array of templates.
    Array(Vec<JsonTemplate>),
    /// An object of templates (keys are literal).
    Object(Vec<(String, JsonTemplate)>),
    /// A literal non-string leaf.
    Literal(Value),
}

impl JsonTemplate {
    /// Compiles every string leaf.
    pub fn compile(v: &Value) -> Result<JsonTemplate, ExprError> {
        Ok(match v {
            Value::String(s) => JsonTemplate::Text(Template::compile(s)?),
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(JsonTemplate::compile)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => JsonTemplate::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::compile(v)?)))
                    .collect::<Result<_, ExprError>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// Renders to JSON.
    pub fn render(&self, vars: &Vars) -> Result<Value, ExprError> {
        Ok(match self {
            JsonTemplate::Text(t) => t.render_value(vars)?,
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(vars))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(entries) => {
                let mut m = Map::new();
                for (k, t) in entries {
                    m.insert(k.clone(), t.render(vars)?);
                }
                Value::Object(m)
            }
            JsonTemplate::Literal(v) => v.clone(),
        })
    }

    /// The top-level variables any leaf reads.
    pub fn variables(&self) -> BTreeSet<String> {
        match self {
            JsonTemplate::Text(t) => t.variables(),
            JsonTemplate::Array(items) => items.iter().flat_map(|i| i.variables()).collect(),
            JsonTemplate::Object(entries) => {
                entries.iter().flat_map(|(_, t)| t.variables()).collect()
            }
            JsonTemplate::Literal(_) => BTreeSet::new(),
        }
    }

    /// The filter, test and function names the template's expressions use.
    pub fn names_used(&self) -> Vec<super::NameUse> {
        match self {
            JsonTemplate::Text(t) => t.names_used(),
            JsonTemplate::Array(items) => items.iter().flat_map(|i| i.names_used()).collect(),
            JsonTemplate::Object(entries) => {
                entries.iter().flat_map(|(_, t)| t.names_used()).collect()
            }
            JsonTemplate::Literal(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn single_expression_leaves_keep_their_type() {
        let t = JsonTemplate::compile(
            &json!({"inputs": "{{ inputs }}", "n": 3, "label": "x {{ id }}"}),
        )
        .unwrap();
        let vars = Vars::new()
            .with("inputs", &json!([{"a": 1}]))
            .with("id", &json!(7));
        assert_eq!(
            t.render(&vars).unwrap(),
            json!({"inputs": [{"a": 1}], "n": 3, "label": "x 7"})
        );
        assert_eq!(
            t.variables(),
            ["id".to_string(), "inputs".to_string()].into()
        );
    }
}
