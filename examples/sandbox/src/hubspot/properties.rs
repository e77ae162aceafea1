//! CRM v3 properties API for contacts: properties and groups (list, read, create with 409 on a
//! taken name [H-10], PATCH, archive), name [H-11] and type/fieldType validation.

use super::error::{HsError, bad_json, json_response};
use super::schema::{Group, PropertyDef, valid_name, valid_pair};
use crate::app::Shared;
use crate::clock::now_ms;
use crate::query;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

fn parse(body: &Bytes) -> Result<Value, Response> {
    match query::json(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(HsError::validation("body must be a JSON object").into_response()),
        Err(e) => Err(bad_json(&e)),
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

pub async fn list(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let pairs = query::pairs(q.as_deref());
    let archived = query::first(&pairs, "archived").is_some_and(|v| query::boolean(v) == Ok(true));
    let h = s.hub();
    let results: Vec<Value> = h
        .props
        .values()
        .filter(|p| p.archived == archived)
        .map(PropertyDef::to_json)
        .collect();
    json_response(200, &json!({ "results": results }))
}

pub async fn read(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match s.hub().prop(&name) {
        Some(p) => json_response(200, &p.to_json()),
        None => HsError::not_found().into_response(),
    }
}

/// Validate a create body into a definition.
fn definition(h: &super::store::HubStore, v: &Value, now: i64) -> Result<PropertyDef, HsError> {
    let mut missing = Vec::new();
    for k in ["name", "label", "type", "fieldType", "groupName"] {
        if str_field(v, k).is_none_or(str::is_empty) {
            missing.push(k);
        }
    }
    if !missing.is_empty() {
        return Err(HsError::validation(format!(
            "Missing required fields: {}",
            missing.join(", ")
        )));
    }
    let name = str_field(v, "name").unwrap_or_default();
    let kind = str_field(v, "type").unwrap_or_default();
    let field = str_field(v, "fieldType").unwrap_or_default();
    let group = str_field(v, "groupName").unwrap_or_default();
    if !valid_name(name) {
        return Err(HsError::validation(format!(
            "Property name '{name}' is invalid: use lower-case letters, digits and underscores, starting with a letter"
        )));
    }
    if !valid_pair(kind, field) {
        return Err(HsError::validation(format!(
            "fieldType {field} is not valid for type {kind}"
        )));
    }
    let options = v
        .get("options")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if kind == "enumeration" && field != "booleancheckbox" && options.is_empty() {
        return Err(HsError::validation(
            "options are required for enumeration properties",
        ));
    }
    if h.groups.get(group).is_none_or(|g| g.archived) {
        return Err(HsError::validation(format!(
            "Property group {group} does not exist"
        )));
    }
    Ok(PropertyDef {
        name: name.into(),
        label: str_field(v, "label").unwrap_or_default().into(),
        kind: kind.into(),
        field_type: field.into(),
        group_name: group.into(),
        description: str_field(v, "description").unwrap_or_default().into(),
        options,
        display_order: v.get("displayOrder").and_then(Value::as_i64).unwrap_or(-1),
        has_unique_value: v
            .get("hasUniqueValue")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        hidden: v.get("hidden").and_then(Value::as_bool).unwrap_or(false),
        form_field: v.get("formField").and_then(Value::as_bool).unwrap_or(false),
        hubspot_defined: false,
        read_only: false,
        created_ms: now,
        updated_ms: now,
        archived: false,
    })
}

pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut h = s.hub();
    let name = str_field(&v, "name").unwrap_or_default().to_string();
    if h.props.get(&name).is_some_and(|p| !p.archived) {
        // [H-10] general shape, category CONFLICT
        return HsError::new(
            409,
            "CONFLICT",
            format!("A property named '{name}' already exists."),
        )
        .into_response();
    }
    match definition(&h, &v, now_ms()) {
        Ok(p) => {
            let body = p.to_json();
            h.props.insert(p.name.clone(), p);
            json_response(201, &body)
        }
        Err(e) => e.into_response(),
    }
}

pub async fn patch(
    State(s): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut h = s.hub();
    let groups_ok =
        str_field(&v, "groupName").is_none_or(|g| h.groups.get(g).is_some_and(|g| !g.archived));
    let Some(p) = h.props.get_mut(&name).filter(|p| !p.archived) else {
        return HsError::not_found().into_response();
    };
    if v.get("hasUniqueValue").is_some() {
        return HsError::validation("hasUniqueValue cannot be changed after creation")
            .into_response();
    }
    if !groups_ok {
        return HsError::validation("Property group does not exist").into_response();
    }
    let kind = str_field(&v, "type").unwrap_or(&p.kind).to_string();
    let field = str_field(&v, "fieldType")
        .unwrap_or(&p.field_type)
        .to_string();
    if !valid_pair(&kind, &field) {
        return HsError::validation(format!("fieldType {field} is not valid for type {kind}"))
            .into_response();
    }
    if let Some(l) = str_field(&v, "label") {
        p.label = l.into();
    }
    if let Some(d) = str_field(&v, "description") {
        p.description = d.into();
    }
    if let Some(g) = str_field(&v, "groupName") {
        p.group_name = g.into();
    }
    if let Some(o) = v.get("options").and_then(Value::as_array) {
        p.options = o.clone();
    }
    if let Some(b) = v.get("hidden").and_then(Value::as_bool) {
        p.hidden = b;
    }
    p.kind = kind;
    p.field_type = field;
    p.updated_ms = now_ms();
    json_response(200, &p.to_json())
}

pub async fn archive(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let mut h = s.hub();
    match h.props.get_mut(&name) {
        Some(p) if p.hubspot_defined => HsError::validation(format!(
            "{name} is a HubSpot-defined property and cannot be archived"
        ))
        .into_response(),
        Some(p) if !p.archived => {
            p.archived = true;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => HsError::not_found().into_response(),
    }
}

/// `POST /crm/v3/properties/contacts/batch/{read|create|archive}`.
pub async fn batch(State(s): State<Arc<Shared>>, Path(op): Path<String>, body: Bytes) -> Response {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let inputs = v
        .get("inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = now_ms();
    let mut h = s.hub();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for i in &inputs {
        let name = str_field(i, "name").unwrap_or_default().to_string();
        match op.as_str() {
            "read" => match h.prop(&name) {
                Some(p) => results.push(p.to_json()),
                None => errors.push(HsError::not_found().batch_json()),
            },
            "archive" => {
                if let Some(p) = h.props.get_mut(&name).filter(|p| !p.hubspot_defined) {
                    p.archived = true;
                }
            }
            "create" => {
                if h.props.get(&name).is_some_and(|p| !p.archived) {
                    errors.push(
                        HsError::new(
                            409,
                            "CONFLICT",
                            format!("A property named '{name}' already exists."),
                        )
                        .batch_json(),
                    );
                    continue;
                }
                match definition(&h, i, now) {
                    Ok(p) => {
                        results.push(p.to_json());
                        h.props.insert(p.name.clone(), p);
                    }
                    Err(e) => errors.push(e.batch_json()),
                }
            }
            _ => return HsError::not_found().into_response(),
        }
    }
    if op == "archive" {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut body = json!({ "status": "COMPLETE", "results": results });
    let status = if errors.is_empty() {
        if op == "create" { 201 } else { 200 }
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        207
    };
    json_response(status, &body)
}

pub async fn list_groups(State(s): State<Arc<Shared>>) -> Response {
    let h = s.hub();
    let results: Vec<Value> = h
        .groups
        .values()
        .filter(|g| !g.archived)
        .map(Group::to_json)
        .collect();
    json_response(200, &json!({ "results": results }))
}

pub async fn read_group(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match s.hub().groups.get(&name).filter(|g| !g.archived) {
        Some(g) => json_response(200, &g.to_json()),
        None => HsError::not_found().into_response(),
    }
}

pub async fn create_group(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = str_field(&v, "name").unwrap_or_default().to_string();
    let label = str_field(&v, "label").unwrap_or_default().to_string();
    if name.is_empty() || label.is_empty() {
        return HsError::validation("name and label are required").into_response();
    }
    if !valid_name(&name) {
        return HsError::validation(format!("Group name '{name}' is invalid")).into_response();
    }
    let mut h = s.hub();
    if h.groups.get(&name).is_some_and(|g| !g.archived) {
        // [H-10]
        return HsError::new(
            409,
            "CONFLICT",
            format!("A property group named '{name}' already exists."),
        )
        .into_response();
    }
    let g = Group {
        name: name.clone(),
        label,
        display_order: v.get("displayOrder").and_then(Value::as_i64).unwrap_or(-1),
        archived: false,
    };
    let body = g.to_json();
    h.groups.insert(name, g);
    json_response(201, &body)
}

pub async fn patch_group(
    State(s): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut h = s.hub();
    let Some(g) = h.groups.get_mut(&name).filter(|g| !g.archived) else {
        return HsError::not_found().into_response();
    };
    if let Some(l) = str_field(&v, "label") {
        g.label = l.into();
    }
    if let Some(o) = v.get("displayOrder").and_then(Value::as_i64) {
        g.display_order = o;
    }
    json_response(200, &g.to_json())
}

pub async fn archive_group(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let mut h = s.hub();
    match h.groups.get_mut(&name).filter(|g| !g.archived) {
        Some(g) => {
            g.archived = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => HsError::not_found().into_response(),
    }
}
