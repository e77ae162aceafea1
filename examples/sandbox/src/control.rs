//! In-process control shared by `SandboxHandle` and the HTTP control surface under `/_sandbox`:
//! UI-style edits that fire webhooks / notifications, and the `/_sandbox` routes themselves.

use crate::app::Shared;
use crate::assumptions::ASSUMPTIONS;
use crate::config::{Faults, HubspotRateLimit, System, TteRateLimit, UnsetCustomFields};
use crate::hubspot::error::HsError;
use crate::hubspot::store::Actor;
use crate::tte::store::{Customer, TteError};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A contact as a person in the HubSpot UI would create it.
pub fn ui_create_contact(s: &Shared, props: &Value) -> Result<Value, HsError> {
    let props = as_map(props)?;
    let now = crate::clock::now_ms();
    let (out, events) = {
        let mut h = s.hub();
        let w = h.create(&props, Actor::Ui, now)?;
        let ev = h.events_for(&w, Actor::Ui, now);
        (
            h.contact_json(&w.contact, Some(&props.keys().cloned().collect::<Vec<_>>())),
            ev,
        )
    };
    s.emit(events);
    Ok(out)
}

/// A UI edit of a contact: events say `CRM_UI` and `userId:N`.
pub fn ui_update_contact(s: &Shared, id: &str, props: &Value) -> Result<Value, HsError> {
    let props = as_map(props)?;
    let id: u64 = id.parse().map_err(|_| HsError::not_found())?;
    let now = crate::clock::now_ms();
    let (out, events) = {
        let mut h = s.hub();
        let w = h.update(id, &props, now)?;
        let ev = h.events_for(&w, Actor::Ui, now);
        (
            h.contact_json(&w.contact, Some(&props.keys().cloned().collect::<Vec<_>>())),
            ev,
        )
    };
    s.emit(events);
    Ok(out)
}

/// A UI delete (archive) of a contact; `false` when unknown or already archived.
pub fn ui_delete_contact(s: &Shared, id: &str) -> bool {
    let now = crate::clock::now_ms();
    let events = {
        let mut h = s.hub();
        let live = id
            .parse::<u64>()
            .ok()
            .and_then(|i| h.contacts.get(&i))
            .is_some_and(|c| !c.archived);
        if !live {
            return false;
        }
        crate::hubspot::contacts::archive_one(&mut h, id, Actor::Ui, now)
    };
    s.emit(events);
    true
}

/// A customer created in the 10to8 UI (notifies subscribers).
pub fn ui_create_customer(s: &Shared, body: &Value) -> Result<Customer, TteError> {
    let c = s.tte().create(body)?;
    s.notify_customer(&c.resource_uri);
    Ok(c)
}

/// A customer edited in the 10to8 UI: same merge rules as PATCH; notifies subscribers.
pub fn ui_update_customer(s: &Shared, uri_or_id: &str, body: &Value) -> Result<Customer, TteError> {
    let mut t = s.tte();
    let id = t.id_of(uri_or_id).ok_or_else(TteError::not_found)?;
    let c = t.patch(id, body)?;
    drop(t);
    s.notify_customer(&c.resource_uri);
    Ok(c)
}

/// A customer deleted in the 10to8 UI (always forced); notifies subscribers.
pub fn ui_delete_customer(s: &Shared, uri_or_id: &str) -> Result<Customer, TteError> {
    let mut t = s.tte();
    let id = t.id_of(uri_or_id).ok_or_else(TteError::not_found)?;
    let c = t.delete(id, true)?;
    drop(t);
    s.notify_customer(&c.resource_uri);
    Ok(c)
}

/// Set a customer's future bookings (the 409 knob, T-10).
pub fn set_future_bookings(s: &Shared, uri_or_id: &str, n: u32) -> bool {
    let mut t = s.tte();
    let Some(id) = t.id_of(uri_or_id) else {
        return false;
    };
    match t.get_mut(id) {
        Some(c) => {
            c.future_bookings = n;
            true
        }
        None => false,
    }
}

/// Make every issued OAuth access token expired now (forces a refresh).
pub fn expire_oauth_tokens(s: &Shared) {
    let now = tokio::time::Instant::now();
    for (exp, _) in s.hub().oauth.access.values_mut() {
        *exp = now;
    }
}

fn as_map(v: &Value) -> Result<Map<String, Value>, HsError> {
    match v {
        Value::Object(m) => match m.get("properties") {
            Some(Value::Object(p)) => Ok(p.clone()),
            _ => Ok(m.clone()),
        },
        _ => Err(HsError::validation("properties must be an object")),
    }
}

#[derive(Deserialize)]
struct SeedBody {
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    customers: usize,
    #[serde(default)]
    contacts: usize,
}

/// `PUT /_sandbox/custom-fields` on the 10to8 server: `{"unset": "absent" | "empty"}`.
#[derive(Deserialize)]
struct UnsetBody {
    unset: UnsetCustomFields,
}

#[derive(Deserialize)]
struct Bookings {
    count: u32,
}

fn err_tte(e: TteError) -> Response {
    e.into_response()
}

/// The `/_sandbox` routes of one server.
pub fn router(system: System) -> Router<Arc<Shared>> {
    let mut r =
        Router::new()
            .route(
                "/_sandbox/requests",
                get(move |State(s): State<Arc<Shared>>| async move {
                    Json(s.journal(system).requests())
                })
                .delete(move |State(s): State<Arc<Shared>>| async move {
                    s.journal(system).clear();
                    StatusCode::NO_CONTENT
                }),
            )
            .route(
                "/_sandbox/counters",
                get(move |State(s): State<Arc<Shared>>| async move {
                    Json(s.journal(system).counters())
                }),
            )
            .route(
                "/_sandbox/deliveries",
                get(move |State(s): State<Arc<Shared>>| async move {
                    Json(s.journal(system).deliveries())
                }),
            )
            .route(
                "/_sandbox/faults",
                get(
                    move |State(s): State<Arc<Shared>>| async move { Json(s.faults(system).get()) },
                )
                .put(
                    move |State(s): State<Arc<Shared>>, Json(f): Json<Faults>| async move {
                        s.faults(system).set(f.clone());
                        Json(f)
                    },
                ),
            )
            .route(
                "/_sandbox/seed",
                get(|State(s): State<Arc<Shared>>| async move {
                    Json(s.seed_report.lock().map(|r| r.clone()).unwrap_or_default())
                })
                .post(
                    |State(s): State<Arc<Shared>>, Json(b): Json<SeedBody>| async move {
                        Json(crate::seed::seed(&s, b.seed, b.customers, b.contacts))
                    },
                ),
            )
            .route(
                "/_sandbox/assumptions",
                get(|| async {
                    Json(
                        ASSUMPTIONS
                            .iter()
                            .map(|(id, what)| json!({"id": id, "behaviour": what}))
                            .collect::<Vec<_>>(),
                    )
                }),
            )
            .route(
                "/_sandbox/env",
                get(|State(s): State<Arc<Shared>>| async move {
                    Json(
                        crate::handle::env_vars(&s)
                            .into_iter()
                            .collect::<std::collections::BTreeMap<_, _>>(),
                    )
                }),
            );
    r = match system {
        System::Tte => r
            .route(
                "/_sandbox/records",
                get(|State(s): State<Arc<Shared>>| async move {
                    Json(s.tte().all().cloned().collect::<Vec<_>>())
                }),
            )
            .route(
                "/_sandbox/custom-fields",
                get(|State(s): State<Arc<Shared>>| async move {
                    Json(json!({"unset": s.tte().unset_custom_fields}))
                })
                .put(
                    |State(s): State<Arc<Shared>>, Json(b): Json<UnsetBody>| async move {
                        s.tte().unset_custom_fields = b.unset;
                        Json(json!({"unset": b.unset}))
                    },
                ),
            )
            .route(
                "/_sandbox/ratelimit",
                get(|State(s): State<Arc<Shared>>| async move { Json(s.tte_limiter.get()) }).put(
                    |State(s): State<Arc<Shared>>, Json(c): Json<TteRateLimit>| async move {
                        s.tte_limiter.set(c.clone());
                        Json(c)
                    },
                ),
            )
            .route(
                "/_sandbox/ui/customers",
                post(|State(s): State<Arc<Shared>>, Json(b): Json<Value>| async move {
                    match ui_create_customer(&s, &b) {
                        Ok(c) => (StatusCode::CREATED, Json(c.to_json(false, s.tte().unset_custom_fields))).into_response(),
                        Err(e) => err_tte(e),
                    }
                }),
            )
            .route(
                "/_sandbox/ui/customers/{id}",
                patch(|State(s): State<Arc<Shared>>, Path(id): Path<String>, Json(b): Json<Value>| async move {
                    match ui_update_customer(&s, &id, &b) {
                        Ok(c) => Json(c.to_json(false, s.tte().unset_custom_fields)).into_response(),
                        Err(e) => err_tte(e),
                    }
                })
                .delete(|State(s): State<Arc<Shared>>, Path(id): Path<String>| async move {
                    match ui_delete_customer(&s, &id) {
                        Ok(_) => StatusCode::NO_CONTENT.into_response(),
                        Err(e) => err_tte(e),
                    }
                }),
            )
            .route(
                "/_sandbox/customers/{id}/future_bookings",
                put(|State(s): State<Arc<Shared>>, Path(id): Path<String>, Json(b): Json<Bookings>| async move {
                    if set_future_bookings(&s, &id, b.count) { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
                }),
            ),
        System::Pipedrive => r
            .route(
                "/_sandbox/records",
                get(|State(s): State<Arc<Shared>>| async move {
                    let pd = s.pd();
                    Json(pd.persons.values().map(|p| pd.to_json(p)).collect::<Vec<_>>())
                }),
            )
            .route(
                "/_sandbox/ui/persons",
                post(|State(s): State<Arc<Shared>>, Json(b): Json<Value>| async move {
                    match crate::pipedrive::persons::create_person(&s, &b, "app") {
                        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
                        Err(e) => e.into_response(),
                    }
                }),
            )
            .route(
                "/_sandbox/ui/persons/{id}",
                put(|State(s): State<Arc<Shared>>, Path(id): Path<u64>, Json(b): Json<Value>| async move {
                    match crate::pipedrive::persons::update_person(&s, id, &b, "app") {
                        Ok(v) => Json(v).into_response(),
                        Err(e) => e.into_response(),
                    }
                })
                .delete(|State(s): State<Arc<Shared>>, Path(id): Path<u64>| async move {
                    match crate::pipedrive::persons::delete_person(&s, id, "app") {
                        Ok(_) => StatusCode::NO_CONTENT.into_response(),
                        Err(e) => e.into_response(),
                    }
                }),
            ),
        System::Hubspot => r
            .route(
                "/_sandbox/records",
                get(|State(s): State<Arc<Shared>>| async move {
                    let h = s.hub();
                    let all: Vec<Value> = h
                        .contacts
                        .values()
                        .map(|c| {
                            let names: Vec<String> = h.props.keys().cloned().collect();
                            h.contact_json(c, Some(&names))
                        })
                        .collect();
                    Json(all)
                }),
            )
            .route(
                "/_sandbox/ratelimit",
                get(|State(s): State<Arc<Shared>>| async move { Json(s.hub_limiter.get()) }).put(
                    |State(s): State<Arc<Shared>>, Json(c): Json<HubspotRateLimit>| async move {
                        s.hub_limiter.set(c.clone());
                        Json(c)
                    },
                ),
            )
            .route(
                "/_sandbox/ui/contacts",
                post(|State(s): State<Arc<Shared>>, Json(b): Json<Value>| async move {
                    match ui_create_contact(&s, &b) {
                        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
                        Err(e) => e.into_response(),
                    }
                }),
            )
            .route(
                "/_sandbox/ui/contacts/{id}",
                patch(|State(s): State<Arc<Shared>>, Path(id): Path<String>, Json(b): Json<Value>| async move {
                    match ui_update_contact(&s, &id, &b) {
                        Ok(v) => Json(v).into_response(),
                        Err(e) => e.into_response(),
                    }
                })
                .delete(|State(s): State<Arc<Shared>>, Path(id): Path<String>| async move {
                    if ui_delete_contact(&s, &id) { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
                }),
            )
            .route(
                "/_sandbox/oauth/expire",
                post(|State(s): State<Arc<Shared>>| async move {
                    expire_oauth_tokens(&s);
                    StatusCode::NO_CONTENT
                }),
            ),
    };
    r
}
