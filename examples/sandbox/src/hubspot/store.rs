//! The HubSpot records: contacts, property schema, webhook settings and subscriptions, OAuth
//! grants, and the write rules (validation, duplicates, change events).

use super::error::HsError;
use super::schema::{self, Group, PropertyDef};
use crate::clock::rfc3339_ms;
use crate::config::Credentials;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

/// Who made a write; decides `changeSource` and `sourceId` of the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The private-app token: `INTEGRATION` + the private app id [H-15].
    PrivateApp,
    /// An OAuth token of the public app: `INTEGRATION` + appId.
    OAuth,
    /// A person in the HubSpot UI: `CRM_UI` + `userId:N`.
    Ui,
}

/// A contact as the sandbox stores it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Contact {
    pub id: u64,
    /// Stored values only (no `null`s); computed ones are added on read.
    pub properties: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived: bool,
    pub archived_ms: Option<i64>,
}

impl Contact {
    /// A property value, including the computed ones.
    pub fn get(&self, name: &str) -> Option<String> {
        match name {
            "hs_object_id" => Some(self.id.to_string()),
            "createdate" => Some(rfc3339_ms(self.created_ms)),
            "lastmodifieddate" => Some(rfc3339_ms(self.updated_ms)),
            _ => self.properties.get(name).cloned(),
        }
    }
}

/// Webhook settings of the app.
#[derive(Clone, Debug, Serialize)]
pub struct WebhookSettings {
    pub target_url: String,
    pub max_concurrent_requests: u64,
    pub period: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A webhook subscription.
#[derive(Clone, Debug, Serialize)]
pub struct WebhookSub {
    pub id: u64,
    pub event_type: String,
    pub property_name: Option<String>,
    pub active: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl WebhookSub {
    /// [H-12] the id is a string here.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "eventType": self.event_type,
            "active": self.active,
            "createdAt": rfc3339_ms(self.created_ms),
            "updatedAt": rfc3339_ms(self.updated_ms),
        });
        if let (Some(p), Some(o)) = (&self.property_name, v.as_object_mut()) {
            o.insert("propertyName".into(), Value::String(p.clone()));
        }
        v
    }
}

/// An OAuth grant in progress or issued.
#[derive(Default)]
pub struct OAuthState {
    /// code → (redirect_uri, granted scopes)
    pub codes: HashMap<String, (String, Vec<String>)>,
    /// access token → (expiry, scopes)
    pub access: HashMap<String, (Instant, Vec<String>)>,
    /// refresh token → scopes
    pub refresh: HashMap<String, Vec<String>>,
}

/// Result of a successful write.
pub struct Written {
    pub contact: Contact,
    /// Properties whose value changed, with the new value (`""` when cleared).
    pub changed: Vec<(String, String)>,
    pub created: bool,
}

/// All HubSpot state.
pub struct HubStore {
    pub creds: Credentials,
    next_id: u64,
    pub contacts: BTreeMap<u64, Contact>,
    pub props: BTreeMap<String, PropertyDef>,
    pub groups: BTreeMap<String, Group>,
    pub settings: Option<WebhookSettings>,
    pub subs: BTreeMap<u64, WebhookSub>,
    next_sub: u64,
    next_event: u64,
    pub oauth: OAuthState,
    pub property_changes_on_create: bool,
    /// (property, value) → live contact holding it, for `email` and unique properties, so the
    /// duplicate checks cost O(1) per write instead of a scan of every contact.
    unique: std::collections::HashMap<(String, String), u64>,
}

impl HubStore {
    pub fn new(
        creds: Credentials,
        precreate_custom: bool,
        property_changes_on_create: bool,
        now: i64,
    ) -> Self {
        let mut props: BTreeMap<String, PropertyDef> = schema::default_properties(now)
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        let mut groups: BTreeMap<String, Group> = schema::default_groups()
            .into_iter()
            .map(|g| (g.name.clone(), g))
            .collect();
        if precreate_custom {
            groups.insert(
                "tte_sync".into(),
                Group {
                    name: "tte_sync".into(),
                    label: "10to8 Sync".into(),
                    display_order: -1,
                    archived: false,
                },
            );
            props.extend(
                schema::custom_properties(now)
                    .into_iter()
                    .map(|p| (p.name.clone(), p)),
            );
        }
        HubStore {
            creds,
            next_id: 101,
            contacts: BTreeMap::new(),
            props,
            groups,
            settings: None,
            subs: BTreeMap::new(),
            next_sub: 1,
            next_event: 1,
            unique: std::collections::HashMap::new(),
            oauth: OAuthState::default(),
            property_changes_on_create,
        }
    }

    /// A defined, unarchived property.
    pub fn prop(&self, name: &str) -> Option<&PropertyDef> {
        self.props.get(name).filter(|p| !p.archived)
    }

    /// The API representation of a contact with the requested properties.
    /// Unset defined properties come back as `null` [H-02]; undefined ones are left out.
    pub fn contact_json(&self, c: &Contact, requested: Option<&[String]>) -> Value {
        let mut props = Map::new();
        let names: Vec<&str> = match requested {
            Some(r) if !r.is_empty() => r.iter().map(String::as_str).collect(),
            _ => schema::DEFAULT_READ.to_vec(),
        };
        for n in names.iter().chain(schema::COMPUTED.iter()) {
            if props.contains_key(*n) || self.prop(n).is_none() {
                continue;
            }
            props.insert(
                n.to_string(),
                c.get(n).map(Value::String).unwrap_or(Value::Null),
            );
        }
        let mut sorted: Vec<(String, Value)> = props.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut v = json!({
            "id": c.id.to_string(),
            "properties": Map::from_iter(sorted),
            "createdAt": rfc3339_ms(c.created_ms),
            "updatedAt": rfc3339_ms(c.updated_ms),
            "archived": c.archived,
        });
        if let (Some(t), Some(o)) = (c.archived_ms, v.as_object_mut()) {
            o.insert("archivedAt".into(), Value::String(rfc3339_ms(t)));
        }
        v
    }

    /// Find a contact by `idProperty` (default `hs_object_id`), archived or not as asked.
    pub fn find(
        &self,
        key: &str,
        id_property: Option<&str>,
        archived: bool,
    ) -> Result<Option<&Contact>, HsError> {
        let prop = id_property.unwrap_or("hs_object_id");
        let hit = match prop {
            "hs_object_id" => key
                .parse::<u64>()
                .ok()
                .and_then(|id| self.contacts.get(&id)),
            "email" if !archived => self
                .unique
                .get(&unique_key("email", key.trim()))
                .and_then(|id| self.contacts.get(id)),
            "email" => self.contacts.values().find(|c| {
                c.archived == archived
                    && c.properties
                        .get("email")
                        .is_some_and(|e| e.eq_ignore_ascii_case(key.trim()))
            }),
            other => match self.prop(other) {
                Some(p) if p.has_unique_value => self.contacts.values().find(|c| {
                    c.archived == archived && c.properties.get(other).is_some_and(|v| v == key)
                }),
                _ => {
                    return Err(HsError::validation(format!(
                        "Property {other} is not a unique identifier property"
                    )));
                }
            },
        };
        Ok(hit.filter(|c| c.archived == archived))
    }

    /// Validate property values; `Some(v)` sets, `Some("")` clears, null entries are ignored.
    fn validate(&self, props: &Map<String, Value>) -> Result<Vec<(String, String)>, HsError> {
        let mut errs: Vec<(String, String, String)> = Vec::new();
        let mut out = Vec::new();
        for (name, v) in props {
            let text = match v {
                Value::Null => continue, // writing null does not clear (FIDELITY.md §2.2)
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    errs.push((
                        name.clone(),
                        "INVALID_VALUE".into(),
                        format!("{name} must be a string"),
                    ));
                    continue;
                }
            };
            let Some(def) = self.prop(name) else {
                errs.push((
                    name.clone(),
                    "PROPERTY_DOESNT_EXIST".into(),
                    format!("Property \"{name}\" does not exist"),
                ));
                continue;
            };
            if def.read_only {
                // inferred: read-only properties reported in the same array form
                errs.push((
                    name.clone(),
                    "READ_ONLY_VALUE".into(),
                    format!("{name} is a read only property; its value cannot be set."),
                ));
                continue;
            }
            let text = if name == "email" {
                text.trim().to_string()
            } else {
                text
            };
            if name == "email" && !text.is_empty() && !crate::email::is_valid(&text) {
                // [H-07] trim, then the demo's syntax rule
                errs.push((
                    name.clone(),
                    "INVALID_EMAIL".into(),
                    format!("Email address {text} is invalid"),
                ));
                continue;
            }
            if def.kind == "enumeration" && !def.options.is_empty() && !text.is_empty() {
                let allowed: Vec<&str> = def
                    .options
                    .iter()
                    .filter_map(|o| o.get("value").and_then(Value::as_str))
                    .collect();
                if let Some(bad) = text.split(';').find(|p| !allowed.contains(p)) {
                    errs.push((
                        name.clone(),
                        "INVALID_OPTION".into(),
                        format!("{bad} was not one of the allowed options"),
                    ));
                    continue;
                }
            }
            if def.kind == "number" && !text.is_empty() && text.parse::<f64>().is_err() {
                errs.push((
                    name.clone(),
                    "INVALID_INTEGER".into(),
                    format!("{text} is not a valid number"),
                ));
                continue;
            }
            out.push((name.clone(), text));
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(HsError::property_values(&errs))
        }
    }

    /// 409 when another live contact holds the email or a unique value.
    fn check_unique(&self, vals: &[(String, String)], except: Option<u64>) -> Result<(), HsError> {
        for (name, v) in vals {
            if v.is_empty() || !self.is_unique(name) {
                continue;
            }
            if let Some(&id) = self.unique.get(&unique_key(name, v))
                && Some(id) != except
            {
                // [H-04] the same 409 on update as on create; inferred for other unique properties
                return Err(HsError::duplicate(id));
            }
        }
        Ok(())
    }

    fn is_unique(&self, name: &str) -> bool {
        name == "email" || self.prop(name).is_some_and(|p| p.has_unique_value)
    }

    /// Indexes (or, with `add` false, unindexes) a live contact's unique values.
    fn index(&mut self, id: u64, add: bool) {
        let Some(c) = self.contacts.get(&id) else {
            return;
        };
        let keys: Vec<(String, String)> = c
            .properties
            .iter()
            .filter(|(n, v)| !v.is_empty() && self.is_unique(n))
            .map(|(n, v)| unique_key(n, v))
            .collect();
        for k in keys {
            if add {
                self.unique.insert(k, id);
            } else if self.unique.get(&k) == Some(&id) {
                self.unique.remove(&k);
            }
        }
    }

    /// Forgets a contact entirely (a batch rolled back).
    pub fn remove_contact(&mut self, id: u64) {
        self.index(id, false);
        self.contacts.remove(&id);
    }

    fn source(&self, actor: Actor) -> (&'static str, String) {
        match actor {
            Actor::OAuth => ("INTEGRATION", self.creds.hubspot_app_id.to_string()),
            Actor::PrivateApp => ("INTEGRATION", self.creds.hubspot_private_app_id.to_string()), // [H-15]
            Actor::Ui => (
                "CRM_UI",
                format!("userId:{}", self.creds.hubspot_ui_user_id),
            ),
        }
    }

    /// Create a contact (201 path).
    pub fn create(
        &mut self,
        props: &Map<String, Value>,
        actor: Actor,
        now: i64,
    ) -> Result<Written, HsError> {
        let vals = self.validate(props)?;
        self.check_unique(&vals, None)?;
        let id = self.next_id;
        self.next_id += 1;
        let (src, src_id) = self.source(actor);
        let mut properties: BTreeMap<String, String> = vals
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        properties.insert(
            "hs_object_source".into(),
            if actor == Actor::Ui {
                "CRM_UI".into()
            } else {
                src.into()
            },
        );
        properties.insert("hs_object_source_id".into(), src_id);
        let c = Contact {
            id,
            properties,
            created_ms: now,
            updated_ms: now,
            archived: false,
            archived_ms: None,
        };
        self.contacts.insert(id, c.clone());
        self.index(id, true);
        let changed = vals.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        Ok(Written {
            contact: c,
            changed,
            created: true,
        })
    }

    /// Update a live contact; `""` clears.
    pub fn update(
        &mut self,
        id: u64,
        props: &Map<String, Value>,
        now: i64,
    ) -> Result<Written, HsError> {
        if self.contacts.get(&id).is_none_or(|c| c.archived) {
            return Err(HsError::not_found());
        }
        let vals = self.validate(props)?;
        self.check_unique(&vals, Some(id))?;
        self.index(id, false);
        let c = self.contacts.get_mut(&id).ok_or_else(HsError::not_found)?;
        let mut changed = Vec::new();
        for (name, v) in vals {
            let old = c.properties.get(&name).cloned().unwrap_or_default();
            if old == v {
                continue;
            }
            if v.is_empty() {
                c.properties.remove(&name);
            } else {
                c.properties.insert(name.clone(), v.clone());
            }
            changed.push((name, v));
        }
        if !changed.is_empty() {
            c.updated_ms = now.max(c.updated_ms + 1);
        }
        let c = c.clone();
        self.index(id, true);
        Ok(Written {
            contact: c,
            changed,
            created: false,
        })
    }

    /// Archive; `None` when unknown or already archived [H-05].
    pub fn archive(&mut self, id: u64, now: i64) -> Option<Contact> {
        if self.contacts.get(&id)?.archived {
            return None;
        }
        self.index(id, false);
        let c = self.contacts.get_mut(&id)?;
        c.archived = true;
        c.archived_ms = Some(now);
        c.updated_ms = now.max(c.updated_ms + 1);
        Some(c.clone())
    }

    /// Un-archive; `None` when unknown or not archived.
    pub fn restore(&mut self, id: u64, now: i64) -> Option<Contact> {
        if !self.contacts.get(&id)?.archived {
            return None;
        }
        let c = self.contacts.get_mut(&id)?;
        c.archived = false;
        c.archived_ms = None;
        c.updated_ms = now.max(c.updated_ms + 1);
        let out = c.clone();
        self.index(id, true);
        Some(out)
    }

    /// Insert a seeded contact (no events).
    pub fn insert_seeded(
        &mut self,
        properties: BTreeMap<String, String>,
        archived: bool,
        now: i64,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let c = Contact {
            id,
            properties,
            created_ms: now,
            updated_ms: now,
            archived,
            archived_ms: archived.then_some(now),
        };
        self.contacts.insert(id, c);
        if !archived {
            self.index(id, true);
        }
        id
    }

    /// Events for a write, for active subscriptions, when a target URL is set.
    /// Each is a complete event with `attemptNumber` 0.
    pub fn events_for(&mut self, w: &Written, actor: Actor, now: i64) -> Vec<Map<String, Value>> {
        let mut out = Vec::new();
        if self.settings.is_none() {
            return out;
        }
        let (src, src_id) = self.source(actor);
        let subs: Vec<WebhookSub> = self.subs.values().filter(|s| s.active).cloned().collect();
        let mut push =
            |this: &mut Self, sub: &WebhookSub, prop: Option<(&str, &str)>, flag: Option<&str>| {
                let mut m = Map::new();
                m.insert("eventId".into(), this.next_event.into());
                this.next_event += 1;
                m.insert("subscriptionId".into(), sub.id.into()); // [H-12] a number in events
                m.insert("portalId".into(), this.creds.hubspot_portal_id.into());
                m.insert("appId".into(), this.creds.hubspot_app_id.into());
                m.insert("occurredAt".into(), now.into());
                m.insert("subscriptionType".into(), sub.event_type.clone().into());
                m.insert("attemptNumber".into(), 0.into());
                m.insert("objectId".into(), w.contact.id.into());
                if let Some((n, v)) = prop {
                    m.insert("propertyName".into(), n.into());
                    m.insert("propertyValue".into(), v.into());
                }
                m.insert("changeSource".into(), src.into());
                if let Some(f) = flag {
                    m.insert("changeFlag".into(), f.into());
                }
                m.insert("sourceId".into(), src_id.clone().into());
                out.push(m);
            };
        for sub in &subs {
            match sub.event_type.as_str() {
                "contact.creation" if w.created => push(self, sub, None, Some("NEW")),
                "contact.deletion" if w.contact.archived => push(self, sub, None, Some("DELETED")),
                "contact.propertyChange"
                    if !w.contact.archived && (!w.created || self.property_changes_on_create) =>
                {
                    // one event per changed subscribed property [demo]; [H-17] none on create by default
                    if let Some(p) = &sub.property_name
                        && let Some((_, v)) = w.changed.iter().find(|(n, _)| n == p)
                    {
                        push(self, sub, Some((p, v)), None);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Create a webhook subscription.
    pub fn add_sub(
        &mut self,
        event_type: String,
        property_name: Option<String>,
        active: bool,
        now: i64,
    ) -> WebhookSub {
        let id = self.next_sub;
        self.next_sub += 1;
        let s = WebhookSub {
            id,
            event_type,
            property_name,
            active,
            created_ms: now,
            updated_ms: now,
        };
        self.subs.insert(id, s.clone());
        s
    }
}

/// The index key of a unique value: emails compare without case.
fn unique_key(name: &str, value: &str) -> (String, String) {
    let v = if name == "email" {
        value.to_ascii_lowercase()
    } else {
        value.to_string()
    };
    (name.to_string(), v)
}
