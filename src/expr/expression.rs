//! `Expr`: a minijinja expression compiled once, evaluated to a JSON value.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use minijinja::Expression;

use super::environment::ENV;
use super::{ExprError, Vars};

/// A compiled expression, e.g. `record.emails | first | default('')`.
#[derive(Clone)]
pub struct Expr {
    source: Arc<str>,
    compiled: Arc<Expression<'static, 'static>>,
    /// What variable tracking looks at: the expression itself, or, when it has slices (which
    /// minijinja's tracking skips), the same with slices written as subscripts.
    tracking: Arc<Expression<'static, 'static>>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Expr {
    /// Compiles an expression; a syntax error names the expression.
    pub fn compile(source: &str) -> Result<Expr, ExprError> {
        let compiled = ENV
            .compile_expression_owned(source.to_string())
            .map_err(|e| ExprError::Syntax {
                source_text: source.to_string(),
                message: describe(&e),
            })?;
        let compiled = Arc::new(compiled);
        let tracking = super::names::slices_as_subscripts(source)
            .and_then(|s| ENV.compile_expression_owned(s).ok())
            .map_or_else(|| compiled.clone(), Arc::new);
        Ok(Expr {
            source: source.into(),
            compiled,
            tracking,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a JSON value; an undefined result is `null`.
    pub fn eval(&self, vars: &Vars) -> Result<serde_json::Value, ExprError> {
        let v = self.eval_raw(vars)?;
        if v.is_undefined() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::to_value(&v).map_err(|e| self.eval_error(e.to_string()))
    }

    /// Evaluates as a condition (minijinja truthiness).
    pub fn eval_bool(&self, vars: &Vars) -> Result<bool, ExprError> {
        Ok(self.eval_raw(vars)?.is_true())
    }

    fn eval_raw(&self, vars: &Vars) -> Result<minijinja::Value, ExprError> {
        self.compiled
            .eval(vars.value().clone())
            .map_err(|e| self.eval_error(describe(&e)))
    }

    fn eval_error(&self, message: String) -> ExprError {
        ExprError::Eval {
            source_text: self.source.to_string(),
            message,
        }
    }

    /// The top-level variables the expression reads (`record`, `value`, …).
    pub fn variables(&self) -> BTreeSet<String> {
        self.tracking
            .undeclared_variables(false)
            .into_iter()
            .collect()
    }

    /// The filter, test and function names the expression uses.
    pub fn names_used(&self) -> Vec<super::NameUse> {
        super::names_used(&self.source)
    }

    /// The attributes of `var` the expression reads, when that is all it does with `var` (so
    /// evaluating it over just those attributes gives the same result); `None` when it uses
    /// `var` itself (a filter over it, a subscript, iteration) or calls a method of it.
    pub fn attribute_reads(&self, var: &str) -> Option<BTreeSet<String>> {
        const MAP_METHODS: [&str; 4] = ["get", "items", "keys", "values"];
        let prefix = format!("{var}.");
        let mut out = BTreeSet::new();
        // `tracking` sees slices too (they are written as subscripts there).
        for v in self.tracking.undeclared_variables(true) {
            if v == var {
                return None;
            }
            if let Some(rest) = v.strip_prefix(&prefix) {
                out.insert(rest.split('.').next().unwrap_or(rest).to_string());
            }
        }
        if out.iter().any(|a| MAP_METHODS.contains(&a.as_str())) {
            return None;
        }
        Some(out)
    }

    /// The attributes of variable `var` the expression reads, e.g. `firstname` for
    /// `record.firstname`.
    pub fn attributes_of(&self, var: &str) -> BTreeSet<String> {
        let prefix = format!("{var}.");
        self.tracking
            .undeclared_variables(true)
            .into_iter()
            .filter_map(|v| {
                v.strip_prefix(&prefix)
                    .map(|rest| rest.split('.').next().unwrap_or(rest).to_string())
            })
            .collect()
    }
}

/// minijinja's error text without the `(in <expression>:1)` suffix noise.
pub(crate) fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        s.push_str(": ");
        s.push_str(d);
    }
    s
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn eval(src: &str, record: serde_json::Value) -> serde_json::Value {
        Expr::compile(src)
            .unwrap()
            .eval(&Vars::new().with("record", &record))
            .unwrap()
    }

    #[test]
    fn reference_expressions() {
        let c = json!({"name": "Mary Ann Smith", "emails": ["a@x.com", "b@y.com", "c@z.com"], "numbers": []});
        assert_eq!(
            eval("(record.name or '') | split_once(' ') | first", c.clone()),
            json!("Mary")
        );
        assert_eq!(
            eval("(record.name or '') | split_once(' ') | last", c.clone()),
            json!("Ann Smith")
        );
        assert_eq!(
            eval("record.emails | first | default('')", c.clone()),
            json!("a@x.com")
        );
        assert_eq!(
            eval("record.emails[1:] | join(',\\n')", c.clone()),
            json!("b@y.com,\nc@z.com")
        );
        assert_eq!(eval("record.numbers | first | default('')", c), json!(""));
        let h = json!({"firstname": "Mary", "lastname": null, "email": "", "tte_customer_secondary_emails": "b@y.com, c@z.com"});
        assert_eq!(
            eval(
                "[record.firstname, record.lastname] | compact | join(' ')",
                h.clone()
            ),
            json!("Mary")
        );
        assert_eq!(
            eval(
                "([record.email] + (record.tte_customer_secondary_emails | split_list)) | compact",
                h
            ),
            json!(["b@y.com", "c@z.com"])
        );
    }

    #[test]
    fn strict_undefined_is_an_error() {
        let e = Expr::compile("record.missing | lower").unwrap();
        assert!(matches!(
            e.eval(&Vars::new().with("record", &json!({}))),
            Err(ExprError::Eval { .. })
        ));
    }

    #[test]
    fn syntax_errors_name_the_expression() {
        let err = Expr::compile("record.name |").unwrap_err();
        assert!(err.to_string().contains("record.name |"), "{err}");
    }

    #[test]
    fn attribute_reads_are_all_an_expression_sees_of_its_variable() {
        let record = serde_json::json!({
            "name": "Ada Lovelace", "emails": ["a@x.com", "b@x.com"], "deleted": false,
            "External ID": "7", "custom_fields": {"External ID": "9"}, "get": "g"
        });
        let projectable = [
            "record.name | split_once(' ') | first",
            "record.emails[1:] | join(',')",
            "record.deleted",
            "record.custom_fields['External ID']",
            "record.missing is defined",
            "record.emails[1:] + [record.name]",
            "'record' ~ record.name",
            "[record.name, record.nope] | compact | join(' ')",
        ];
        for src in projectable {
            let e = Expr::compile(src).unwrap();
            let keys: Vec<String> = e
                .attribute_reads("record")
                .unwrap_or_else(|| panic!("{src} reads only attributes"))
                .into_iter()
                .collect();
            let whole = e.eval(&Vars::new().with("record", &record));
            let part = e.eval(&Vars::new().with_keys("record", &record, &keys));
            assert_eq!(format!("{whole:?}"), format!("{part:?}"), "{src}");
        }
        let whole_record = [
            "record | length",
            "record['External ID']",
            "record.get('name')",
            "record.items() | list | length",
            "record",
            "record[1:]",
            "(record)[1:] | length",
        ];
        for src in whole_record {
            let e = Expr::compile(src).unwrap();
            assert_eq!(
                e.attribute_reads("record"),
                None,
                "{src} uses the whole record"
            );
        }
    }

    #[test]
    fn variables_inside_slices_are_seen() {
        let e = Expr::compile("recrod.emails[1:] | join(sep[:1])").unwrap();
        assert_eq!(
            e.variables(),
            ["recrod".to_string(), "sep".to_string()].into()
        );
        assert_eq!(e.attributes_of("recrod"), ["emails".to_string()].into());
    }

    #[test]
    fn variables_and_attributes() {
        let e = Expr::compile("[record.firstname, record.lastname] | compact | join(sep)").unwrap();
        assert_eq!(
            e.variables(),
            ["record".to_string(), "sep".to_string()].into()
        );
        assert_eq!(
            e.attributes_of("record"),
            ["firstname".to_string(), "lastname".to_string()].into()
        );
    }

    #[test]
    fn the_email_test() {
        let e = Expr::compile("not value or value is email").unwrap();
        let ok = |v: serde_json::Value| e.eval_bool(&Vars::new().with("value", &v)).unwrap();
        assert!(ok(json!("")));
        assert!(ok(json!("a@b.co")));
        assert!(!ok(json!("not-an-email")));
    }
}
