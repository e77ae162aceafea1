//! `Vars`: the named values an expression or template is evaluated with (`record`, `value`,
//! `now`, …), converted to minijinja's representation once and shared by every evaluation.

use std::collections::BTreeMap;

use minijinja::Value;

/// The variables of one evaluation. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    map: BTreeMap<String, Value>,
    value: Value,
}

impl Vars {
    /// No variables.
    pub fn new() -> Vars {
        Vars {
            map: BTreeMap::new(),
            value: Value::from(BTreeMap::<String, Value>::new()),
        }
    }

    /// Adds or replaces a variable holding a JSON value.
    pub fn with(mut self, name: &str, json: &serde_json::Value) -> Vars {
        self.map
            .insert(name.to_string(), Value::from(minijinja::value::Serde(json)));
        self.value = Value::from(self.map.clone());
        self
    }

    /// Adds or replaces a variable holding only the given top-level keys of a JSON object (all
    /// of it when it is not an object). For expressions that read nothing of the variable but
    /// those attributes ([`super::Expr::attribute_reads`]) the result is the same as [`Vars::with`]
    /// and much cheaper: the rest of the record is never converted.
    pub fn with_keys(mut self, name: &str, json: &serde_json::Value, keys: &[String]) -> Vars {
        let Some(object) = json.as_object() else {
            return self.with(name, json);
        };
        let projected: BTreeMap<&str, Value> = keys
            .iter()
            .filter_map(|k| {
                let v = object.get(k)?;
                Some((k.as_str(), Value::from(minijinja::value::Serde(v))))
            })
            .collect();
        self.map.insert(name.to_string(), Value::from(projected));
        self.value = Value::from(self.map.clone());
        self
    }

    /// Adds or replaces a variable holding a string.
    pub fn with_str(mut self, name: &str, s: &str) -> Vars {
        self.map.insert(name.to_string(), Value::from(s));
        self.value = Value::from(self.map.clone());
        self
    }

    /// Adds or replaces a variable holding a boolean.
    pub fn with_bool(mut self, name: &str, b: bool) -> Vars {
        self.map.insert(name.to_string(), Value::from(b));
        self.value = Value::from(self.map.clone());
        self
    }

    /// True when a variable of that name is set.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub(crate) fn value(&self) -> &Value {
        &self.value
    }
}
