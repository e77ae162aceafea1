//! The Pipedrive stand-in's state: persons (with `{value, primary, label}` email and phone
//! lists and hash-keyed custom fields), person fields, and webhook subscriptions.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// An answer that is not a success: status and Pipedrive's error body.
#[derive(Debug, Clone, PartialEq)]
pub struct PdError {
    pub status: u16,
    pub body: Value,
}

impl std::fmt::Display for PdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl PdError {
    /// [P-03] `{"success": false, "error": msg, "errorCode": status}`.
    pub fn new(status: u16, msg: &str) -> PdError {
        PdError {
            status,
            body: json!({ "success": false, "error": msg, "errorCode": status, "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.", "data": null, "additional_data": null }),
        }
    }
    pub fn not_found(what: &str) -> PdError {
        PdError::new(404, &format!("{what} not found"))
    }
    pub fn bad_request(msg: &str) -> PdError {
        PdError::new(400, msg)
    }
}

/// A person field definition, as `GET /v1/personFields` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonField {
    pub id: u64,
    /// A built-in name (`name`, `email`) or, for custom fields, a 40-hex hash [P-08].
    pub key: String,
    pub name: String,
    pub field_type: String,
    pub custom: bool,
}

impl PersonField {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "field_type": self.field_type,
            "edit_flag": self.custom,
            "active_flag": true,
            "mandatory_flag": self.key == "name",
        })
    }
}

/// A person. `fields` holds `name`, `email`, `phone` and custom values by key.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: u64,
    pub fields: Map<String, Value>,
    pub add_time: String,
    pub update_time: String,
    pub active_flag: bool,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: u64,
    pub subscription_url: String,
    pub event_action: String,
    pub event_object: String,
    pub http_auth_user: Option<String>,
    pub http_auth_password: Option<String>,
    pub add_time: String,
}

impl Webhook {
    pub fn to_json(&self, company_id: u64, user_id: u64) -> Value {
        json!({
            "id": self.id,
            "company_id": company_id,
            "owner_id": user_id,
            "user_id": user_id,
            "event_action": self.event_action,
            "event_object": self.event_object,
            "subscription_url": self.subscription_url,
            "version": "1.0",
            "is_active": 1,
            "add_time": self.add_time,
            "remove_time": null,
            "type": "general",
            "http_auth_user": self.http_auth_user,
            // [P-14] the password is never shown back
            "http_auth_password": self.http_auth_password.as_ref().map(|_| "******"),
            "remove_reason": null,
            "last_delivery_time": null,
            "last_http_status": null,
            "admin_id": user_id,
        })
    }

    /// [P-13] `*` matches every action or object.
    pub fn matches(&self, action: &str, object: &str) -> bool {
        (self.event_action == "*" || self.event_action == action)
            && (self.event_object == "*" || self.event_object == object)
    }
}

/// The whole store.
pub struct PdStore {
    pub persons: BTreeMap<u64, Person>,
    pub fields: Vec<PersonField>,
    pub webhooks: BTreeMap<u64, Webhook>,
    next_person: u64,
    next_webhook: u64,
    pub user_id: u64,
    pub company_id: u64,
}

/// The built-in person fields, by key, name and type.
const BUILT_IN: &[(&str, &str, &str)] = &[
    ("name", "Name", "varchar"),
    ("first_name", "First name", "varchar"),
    ("last_name", "Last name", "varchar"),
    ("email", "Email", "varchar"),
    ("phone", "Phone", "phone"),
    ("org_id", "Organization", "org"),
    ("owner_id", "Owner", "user"),
    ("add_time", "Person created", "date"),
    ("update_time", "Update time", "date"),
];

/// The custom fields every sandbox account has (the integration's link and status fields).
pub const CUSTOM_FIELDS: &[&str] = &["10to8 Customer URI", "10to8 Sync Status"];

/// [P-08] A custom field's key: 40 hex characters, derived from its name so it is the same
/// in every run (real accounts generate them at random).
pub fn field_key(name: &str) -> String {
    let d = Sha256::digest(format!("pipedrive-sandbox-field:{name}").as_bytes());
    hex::encode(&d[..20])
}

/// `YYYY-MM-DD HH:MM:SS` in UTC [P-09].
pub fn pd_time(ms: i64) -> String {
    let s = crate::clock::rfc3339_ms(ms);
    // rfc3339_ms gives 2024-01-02T03:04:05.678Z
    s.get(..19).unwrap_or(&s).replace('T', " ")
}

impl PdStore {
    pub fn new(user_id: u64, company_id: u64) -> PdStore {
        let mut fields: Vec<PersonField> = BUILT_IN
            .iter()
            .enumerate()
            .map(|(i, (k, n, t))| PersonField {
                id: 9000 + i as u64,
                key: (*k).into(),
                name: (*n).into(),
                field_type: (*t).into(),
                custom: false,
            })
            .collect();
        for (i, name) in CUSTOM_FIELDS.iter().enumerate() {
            fields.push(PersonField {
                id: 9100 + i as u64,
                key: field_key(name),
                name: (*name).into(),
                field_type: "varchar".into(),
                custom: true,
            });
        }
        PdStore {
            persons: BTreeMap::new(),
            fields,
            webhooks: BTreeMap::new(),
            next_person: 1,
            next_webhook: 1,
            user_id,
            company_id,
        }
    }

    fn custom_keys(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(|f| f.custom)
            .map(|f| f.key.as_str())
    }

    /// The API representation of a person: every custom key present (null when unset).
    pub fn to_json(&self, p: &Person) -> Value {
        let name = p.fields.get("name").and_then(Value::as_str).unwrap_or("");
        let (first, last) = match name.split_once(' ') {
            Some((f, l)) => (f, l),
            None => (name, ""),
        };
        let mut m = Map::new();
        m.insert("id".into(), json!(p.id));
        m.insert("company_id".into(), json!(self.company_id));
        m.insert("owner_id".into(), json!(self.user_id));
        m.insert("org_id".into(), Value::Null);
        m.insert("name".into(), json!(name));
        m.insert("first_name".into(), json!(first));
        m.insert("last_name".into(), json!(last));
        for k in ["email", "phone"] {
            m.insert(
                k.into(),
                p.fields.get(k).cloned().unwrap_or_else(empty_entries),
            );
        }
        m.insert("add_time".into(), json!(p.add_time));
        m.insert("update_time".into(), json!(p.update_time));
        m.insert("active_flag".into(), json!(p.active_flag));
        m.insert("visible_to".into(), json!("3"));
        for k in self.custom_keys() {
            m.insert(
                k.to_string(),
                p.fields.get(k).cloned().unwrap_or(Value::Null),
            );
        }
        Value::Object(m)
    }

    /// An active person.
    pub fn active(&self, id: u64) -> Result<&Person, PdError> {
        self.persons
            .get(&id)
            .filter(|p| p.active_flag)
            .ok_or_else(|| PdError::not_found("Person"))
    }

    /// Apply a create or update body's known keys to `fields`.
    fn apply(&self, fields: &mut Map<String, Value>, body: &Value) -> Result<(), PdError> {
        let Some(obj) = body.as_object() else {
            return Err(PdError::bad_request("Request body must be a JSON object."));
        };
        for (k, v) in obj {
            match k.as_str() {
                "name" => match v {
                    Value::String(s) if !s.trim().is_empty() => {
                        fields.insert("name".into(), json!(s.trim()));
                    }
                    _ => return Err(PdError::bad_request("Name must be given.")),
                },
                "email" => {
                    let e = entries(v)?;
                    for x in &e {
                        let s = x["value"].as_str().unwrap_or("");
                        // [P-06] malformed addresses are refused
                        if !s.is_empty() && !crate::email::is_valid(s) {
                            return Err(PdError::bad_request(&format!(
                                "Invalid email address: {s}"
                            )));
                        }
                    }
                    fields.insert("email".into(), Value::Array(e));
                }
                "phone" => {
                    fields.insert("phone".into(), Value::Array(entries(v)?));
                }
                key if self.custom_keys().any(|c| c == key) => {
                    let v = match v {
                        Value::Null => Value::Null,
                        Value::String(s) if s.is_empty() => Value::Null,
                        Value::String(s) => json!(s),
                        other => json!(other.to_string()),
                    };
                    fields.insert(key.to_string(), v);
                }
                // [P-07] unknown and read-only keys are ignored
                _ => {}
            }
        }
        Ok(())
    }

    /// `POST /v1/persons`.
    pub fn create(&mut self, body: &Value, now_ms: i64) -> Result<&Person, PdError> {
        if body.get("name").and_then(Value::as_str).is_none() {
            return Err(PdError::bad_request("Name must be given."));
        }
        let mut fields = Map::new();
        self.apply(&mut fields, body)?;
        let id = self.next_person;
        self.next_person += 1;
        let t = pd_time(now_ms);
        self.persons.insert(
            id,
            Person {
                id,
                fields,
                add_time: t.clone(),
                update_time: t,
                active_flag: true,
            },
        );
        Ok(&self.persons[&id])
    }

    /// `PUT /v1/persons/{id}`: only the keys sent change [P-05]. Returns (previous, current).
    pub fn update(
        &mut self,
        id: u64,
        body: &Value,
        now_ms: i64,
    ) -> Result<(Person, Person), PdError> {
        let before = self.active(id)?.clone();
        let mut fields = before.fields.clone();
        self.apply(&mut fields, body)?;
        let p = self
            .persons
            .get_mut(&id)
            .ok_or_else(|| PdError::not_found("Person"))?;
        if p.fields != fields {
            p.fields = fields;
            p.update_time = pd_time(now_ms);
        }
        Ok((before, p.clone()))
    }

    /// `DELETE /v1/persons/{id}`: marks the person deleted [P-10].
    pub fn delete(&mut self, id: u64, now_ms: i64) -> Result<Person, PdError> {
        let before = self.active(id)?.clone();
        if let Some(p) = self.persons.get_mut(&id) {
            p.active_flag = false;
            p.update_time = pd_time(now_ms);
        }
        Ok(before)
    }

    /// Active persons in id order [P-04].
    pub fn list(&self) -> Vec<&Person> {
        self.persons.values().filter(|p| p.active_flag).collect()
    }

    pub fn add_webhook(&mut self, mut w: Webhook) -> &Webhook {
        w.id = self.next_webhook;
        self.next_webhook += 1;
        let id = w.id;
        self.webhooks.insert(id, w);
        &self.webhooks[&id]
    }
}

/// "No entries" as Pipedrive shows it: one empty primary entry [P-11].
pub fn empty_entries() -> Value {
    json!([{ "value": "", "primary": true }])
}

/// [P-11] Normalise an `email` or `phone` value: a string, an array of strings, or an array
/// of `{value, primary, label}` (primary as a boolean or `"true"`/`"false"`). Empty values are
/// dropped; exactly one entry ends up primary (the first flagged, else the first); the label
/// defaults to `work`. Nothing left reads as one empty primary entry.
pub fn entries(v: &Value) -> Result<Vec<Value>, PdError> {
    let raw: Vec<(String, bool, String)> = match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![(s.trim().to_string(), true, "work".into())],
        Value::Array(items) => {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Value::String(s) => out.push((s.trim().to_string(), false, "work".into())),
                    Value::Object(o) => {
                        let value = match o.get("value") {
                            Some(Value::String(s)) => s.trim().to_string(),
                            Some(Value::Number(n)) => n.to_string(),
                            None | Some(Value::Null) => String::new(),
                            _ => return Err(PdError::bad_request("Invalid value.")),
                        };
                        let primary = match o.get("primary") {
                            Some(Value::Bool(b)) => *b,
                            Some(Value::String(s)) => s == "true",
                            _ => false,
                        };
                        let label = o
                            .get("label")
                            .and_then(Value::as_str)
                            .filter(|l| !l.is_empty())
                            .unwrap_or("work")
                            .to_string();
                        out.push((value, primary, label));
                    }
                    _ => return Err(PdError::bad_request("Invalid value.")),
                }
            }
            out
        }
        _ => return Err(PdError::bad_request("Invalid value.")),
    };
    let mut raw: Vec<_> = raw.into_iter().filter(|(v, _, _)| !v.is_empty()).collect();
    if raw.is_empty() {
        return Ok(empty_entries().as_array().cloned().unwrap_or_default());
    }
    let first_primary = raw.iter().position(|(_, p, _)| *p).unwrap_or(0);
    for (i, e) in raw.iter_mut().enumerate() {
        e.1 = i == first_primary;
    }
    Ok(raw
        .into_iter()
        .map(
            |(value, primary, label)| json!({ "label": label, "value": value, "primary": primary }),
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_normalise() {
        assert_eq!(
            entries(&json!(null)).unwrap(),
            vec![empty_entries()[0].clone()]
        );
        let e = entries(&json!(["a@x.io", "b@x.io"])).unwrap();
        assert_eq!(e[0]["primary"], json!(true));
        assert_eq!(e[1]["primary"], json!(false));
        let e = entries(&json!([{"value": "a"}, {"value": "b", "primary": "true"}, {"value": "c", "primary": true}])).unwrap();
        let flags: Vec<bool> = e.iter().map(|x| x["primary"].as_bool().unwrap()).collect();
        assert_eq!(flags, vec![false, true, false]);
    }

    #[test]
    fn field_keys_are_40_hex() {
        let k = field_key("10to8 Sync Status");
        assert_eq!(k.len(), 40);
        assert!(k.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
