//! The 10to8 records: customers and subscriptions, and the rules for writing them.

use crate::config::UnsetCustomFields;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A 10to8 customer as the sandbox stores it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Customer {
    /// Numeric id inside the URI.
    pub id: u64,
    /// [T-03] `<base>/api/enterprise/v2/customer/<id>/`.
    pub resource_uri: String,
    /// [T-19] never null.
    pub name: String,
    /// `emails[0]` is the primary address. [T-13] any string is stored.
    pub emails: Vec<String>,
    /// `numbers[0]` is the primary number.
    pub numbers: Vec<String>,
    /// Label → value; [T-09] every organisation label is stored, `""` when unset (the API
    /// leaves unset ones out unless `UnsetCustomFields::Empty`).
    pub custom_fields: BTreeMap<String, String>,
    /// Deleted customers stay in the store.
    pub deleted: bool,
    /// Sandbox-only knob: future bookings make DELETE without `force` answer 409 [T-10].
    pub future_bookings: u32,
}

impl Customer {
    /// The API representation; `deleted` only when listing with `include_deleted` [T-11];
    /// custom fields without a value left out or shown as `""` [T-09].
    pub fn to_json(&self, with_deleted: bool, unset: UnsetCustomFields) -> Value {
        let custom_fields: BTreeMap<&String, &String> = self
            .custom_fields
            .iter()
            .filter(|(_, v)| unset == UnsetCustomFields::Empty || !v.is_empty())
            .collect();
        let mut v = json!({
            "resource_uri": self.resource_uri,
            "name": self.name,
            "emails": self.emails,
            "numbers": self.numbers,
            "custom_fields": custom_fields,
        });
        if with_deleted && let Some(o) = v.as_object_mut() {
            o.insert("deleted".into(), Value::Bool(self.deleted));
        }
        v
    }
}

/// A notification subscription.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Subscription {
    pub id: u64,
    pub resource_uri: String,
    pub callback_url: String,
    pub scope: String,
}

impl Subscription {
    /// [T-15] `{resource_uri, callback_url, scope}`.
    pub fn to_json(&self) -> Value {
        json!({"resource_uri": self.resource_uri, "callback_url": self.callback_url, "scope": self.scope})
    }
}

/// An error answer: status and DRF-shaped body [T-12].
#[derive(Debug, Clone)]
pub struct TteError {
    pub status: u16,
    pub body: Value,
}

impl TteError {
    pub fn detail(status: u16, msg: &str) -> Self {
        TteError {
            status,
            body: json!({ "detail": msg }),
        }
    }
    pub fn not_found() -> Self {
        Self::detail(404, "Not found.")
    }
    fn fields(errs: BTreeMap<String, Vec<String>>) -> Self {
        TteError {
            status: 400,
            body: serde_json::to_value(errs).unwrap_or(Value::Null),
        }
    }
}

/// All 10to8 state.
pub struct TteStore {
    root: String,
    labels: Vec<String>,
    next_id: u64,
    customers: BTreeMap<u64, Customer>,
    next_sub: u64,
    subs: BTreeMap<u64, Subscription>,
    /// [T-09] how unset custom fields show.
    pub unset_custom_fields: UnsetCustomFields,
}

/// The fields of a create or PATCH body, validated.
#[derive(Default)]
struct Input {
    name: Option<String>,
    emails: Option<Vec<String>>,
    numbers: Option<Vec<String>>,
    custom_fields: Option<Vec<(String, String)>>,
}

impl TteStore {
    /// `root` is `http://host:port` of the 10to8 server.
    pub fn new(root: String, labels: Vec<String>, unset_custom_fields: UnsetCustomFields) -> Self {
        TteStore {
            root,
            labels,
            next_id: 1001,
            customers: BTreeMap::new(),
            next_sub: 1,
            subs: BTreeMap::new(),
            unset_custom_fields,
        }
    }

    /// `<root>/api/enterprise/v2`.
    pub fn api_base(&self) -> String {
        format!("{}/api/enterprise/v2", self.root)
    }

    pub fn customer_uri(&self, id: u64) -> String {
        format!("{}/customer/{id}/", self.api_base())
    }

    /// The numeric id of a customer URI or of a bare id.
    pub fn id_of(&self, uri_or_id: &str) -> Option<u64> {
        let s = uri_or_id.trim_end_matches('/');
        let last = s.rsplit('/').next().unwrap_or(s);
        last.parse().ok()
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn all(&self) -> impl Iterator<Item = &Customer> {
        self.customers.values()
    }

    pub fn get(&self, id: u64) -> Option<&Customer> {
        self.customers.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Customer> {
        self.customers.get_mut(&id)
    }

    fn parse(&self, body: &Value) -> Result<Input, TteError> {
        let Some(obj) = body.as_object() else {
            let got = match body {
                Value::Array(_) => "list",
                Value::String(_) => "str",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                _ => "NoneType",
            };
            return Err(TteError {
                status: 400,
                body: json!({"non_field_errors": [format!("Invalid data. Expected a dictionary, but got {got}.")]}),
            });
        };
        let mut errs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut input = Input::default();
        match obj.get("name") {
            None => {}
            Some(Value::Null) => input.name = Some(String::new()), // [T-19]
            Some(Value::String(s)) => input.name = Some(s.clone()),
            Some(_) => {
                errs.entry("name".into())
                    .or_default()
                    .push("Not a valid string.".into());
            }
        }
        for key in ["emails", "numbers"] {
            match obj.get(key) {
                None => {}
                Some(Value::Array(items)) => {
                    let mut out = Vec::new();
                    for it in items {
                        match it {
                            Value::String(s) => out.push(s.clone()),
                            _ => {
                                errs.entry(key.into())
                                    .or_default()
                                    .push("Not a valid string.".into());
                                break;
                            }
                        }
                    }
                    if key == "emails" {
                        input.emails = Some(out)
                    } else {
                        input.numbers = Some(out)
                    }
                }
                Some(other) => {
                    let t = if other.is_string() { "str" } else { "dict" };
                    errs.entry(key.into())
                        .or_default()
                        .push(format!("Expected a list of items but got type \"{t}\"."));
                }
            }
        }
        match obj.get("custom_fields") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => input.custom_fields = Some(self.parse_custom(m, &mut errs)),
            Some(_) => {
                errs.entry("custom_fields".into())
                    .or_default()
                    .push("Expected a dictionary of items.".into());
            }
        }
        if errs.is_empty() {
            Ok(input)
        } else {
            Err(TteError::fields(errs))
        }
    }

    fn parse_custom(
        &self,
        m: &Map<String, Value>,
        errs: &mut BTreeMap<String, Vec<String>>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (label, v) in m {
            if !self.labels.iter().any(|l| l == label) {
                // [T-09] unknown label rejected (unverified)
                errs.entry("custom_fields".into())
                    .or_default()
                    .push(format!("Unknown custom field: {label}"));
                continue;
            }
            match v {
                Value::String(s) => out.push((label.clone(), s.clone())),
                Value::Null => out.push((label.clone(), String::new())),
                Value::Number(n) => out.push((label.clone(), n.to_string())),
                _ => errs
                    .entry("custom_fields".into())
                    .or_default()
                    .push(format!("Value of {label} must be a string.")),
            }
        }
        out
    }

    /// Create a customer from a POST body [T-07].
    pub fn create(&mut self, body: &Value) -> Result<Customer, TteError> {
        let input = self.parse(body)?;
        let id = self.next_id;
        self.next_id += 1;
        let mut custom_fields: BTreeMap<String, String> = self
            .labels
            .iter()
            .map(|l| (l.clone(), String::new()))
            .collect();
        for (k, v) in input.custom_fields.unwrap_or_default() {
            custom_fields.insert(k, v);
        }
        let c = Customer {
            id,
            resource_uri: self.customer_uri(id),
            name: input.name.unwrap_or_default(),
            emails: input.emails.unwrap_or_default(),
            numbers: input.numbers.unwrap_or_default(),
            custom_fields,
            deleted: false,
            future_bookings: 0,
        };
        self.customers.insert(id, c.clone());
        Ok(c)
    }

    /// [T-08] PATCH: absent keys kept; custom_fields merged per label; arrays replaced.
    pub fn patch(&mut self, id: u64, body: &Value) -> Result<Customer, TteError> {
        match self.customers.get(&id) {
            Some(c) if !c.deleted => {}
            _ => return Err(TteError::not_found()),
        }
        let input = self.parse(body)?;
        let c = self
            .customers
            .get_mut(&id)
            .ok_or_else(TteError::not_found)?;
        if let Some(n) = input.name {
            c.name = n;
        }
        if let Some(e) = input.emails {
            c.emails = e;
        }
        if let Some(n) = input.numbers {
            c.numbers = n;
        }
        for (k, v) in input.custom_fields.unwrap_or_default() {
            c.custom_fields.insert(k, v);
        }
        Ok(c.clone())
    }

    /// [T-10] 204; 404 if already deleted; 409 with future bookings unless `force`.
    pub fn delete(&mut self, id: u64, force: bool) -> Result<Customer, TteError> {
        let c = match self.customers.get_mut(&id) {
            Some(c) if !c.deleted => c,
            _ => return Err(TteError::not_found()),
        };
        if c.future_bookings > 0 && !force {
            return Err(TteError::detail(
                409,
                &format!(
                    "Customer has {} future booking(s). Cancel them first, or delete with force=True.",
                    c.future_bookings
                ),
            ));
        }
        c.deleted = true;
        Ok(c.clone())
    }

    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.subs.values()
    }

    /// [T-15] create a subscription; only scope `customer` exists.
    pub fn create_subscription(&mut self, body: &Value) -> Result<Subscription, TteError> {
        let mut errs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let url = body
            .get("callback_url")
            .and_then(Value::as_str)
            .unwrap_or("");
        let scope = body.get("scope").and_then(Value::as_str).unwrap_or("");
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ if url.is_empty() => errs
                .entry("callback_url".into())
                .or_default()
                .push("This field is required.".into()),
            _ => errs
                .entry("callback_url".into())
                .or_default()
                .push("Enter a valid URL.".into()),
        }
        if scope.is_empty() {
            errs.entry("scope".into())
                .or_default()
                .push("This field is required.".into());
        } else if scope != "customer" {
            errs.entry("scope".into())
                .or_default()
                .push(format!("\"{scope}\" is not a valid choice."));
        }
        if !errs.is_empty() {
            return Err(TteError::fields(errs));
        }
        let id = self.next_sub;
        self.next_sub += 1;
        let s = Subscription {
            id,
            resource_uri: format!("{}/subscription/{id}/", self.api_base()),
            callback_url: url.to_string(),
            scope: scope.to_string(),
        };
        self.subs.insert(id, s.clone());
        Ok(s)
    }

    pub fn subscription(&self, id: u64) -> Option<&Subscription> {
        self.subs.get(&id)
    }

    pub fn delete_subscription(&mut self, id: u64) -> bool {
        self.subs.remove(&id).is_some()
    }

    /// Insert a customer as seeding does (no notification).
    pub fn insert_seeded(&mut self, mut c: Customer) -> Customer {
        let id = self.next_id;
        self.next_id += 1;
        c.id = id;
        c.resource_uri = self.customer_uri(id);
        for l in &self.labels {
            c.custom_fields.entry(l.clone()).or_default();
        }
        self.customers.insert(id, c.clone());
        c
    }
}
