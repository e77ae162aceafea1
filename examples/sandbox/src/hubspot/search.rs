//! CRM v3 contact search: filterGroups (5 × 6, 18 filters), operators compared by the property's
//! type, sorts, `query`, paging by offset, the 200 page size, the 10,000 results cap, the
//! 3,000-character body limit.

use super::error::{HsError, bad_json, json_response};
use super::store::{Contact, HubStore};
use crate::app::Shared;
use crate::clock::{now_ms, parse_iso_ms};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

/// `POST /crm/v3/objects/contacts/search`.
pub async fn search(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    if body.len() > 3000 {
        return HsError::validation(format!(
            "Request body is too long: {} characters, the maximum is 3000",
            body.len()
        ))
        .into_response();
    }
    let v = match crate::query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let lag_ms = s.cfg.search_lag.as_millis() as i64;
    let h = s.hub();
    match run(&h, &v, now_ms() - lag_ms, &s.hub_root) {
        Ok(body) => json_response(200, &body),
        Err(e) => e.into_response(),
    }
}

fn run(h: &HubStore, v: &Value, visible_before: i64, _root: &str) -> Result<Value, HsError> {
    let groups = match v.get("filterGroups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(HsError::validation("filterGroups must be an array")),
    };
    if groups.len() > 5 {
        return Err(HsError::validation(format!(
            "Too many filter groups: {} (maximum 5)",
            groups.len()
        )));
    }
    let mut total_filters = 0;
    let mut parsed = Vec::new();
    for g in &groups {
        let filters = g
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if filters.len() > 6 {
            return Err(HsError::validation(format!(
                "Too many filters in a group: {} (maximum 6)",
                filters.len()
            )));
        }
        total_filters += filters.len();
        let mut fs = Vec::new();
        for f in &filters {
            fs.push(Filter::parse(f, h)?);
        }
        parsed.push(fs);
    }
    if total_filters > 18 {
        return Err(HsError::validation(format!(
            "Too many filters: {total_filters} (maximum 18)"
        )));
    }
    let limit = match v.get("limit") {
        None | Some(Value::Null) => 10,
        Some(l) => match l.as_u64() {
            Some(n) if (1..=200).contains(&n) => n as usize,
            _ => {
                return Err(HsError::validation(format!(
                    "limit must be between 1 and 200, got {l}"
                )));
            }
        },
    };
    let after = match v.get("after") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
        Some(Value::String(s)) if s.is_empty() => 0,
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| HsError::validation(format!("Invalid after: {s}")))?,
        Some(_) => return Err(HsError::validation("after must be a string")),
    };
    if after >= 10_000 {
        return Err(HsError::validation(
            "Paging beyond 10,000 results is not supported",
        ));
    }
    let text = v
        .get("query")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let props: Option<Vec<String>> = v.get("properties").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    });
    // [H-06] archived never appears; records changed within the lag are not yet indexed.
    let mut hits: Vec<&Contact> = h
        .contacts
        .values()
        .filter(|c| !c.archived && c.updated_ms <= visible_before)
        .filter(|c| parsed.is_empty() || parsed.iter().any(|g| g.iter().all(|f| f.matches(c))))
        .filter(|c| text.as_deref().is_none_or(|t| matches_query(c, t)))
        .collect();
    if let Some(sort) = v
        .get("sorts")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        let name = sort
            .get("propertyName")
            .and_then(Value::as_str)
            .unwrap_or("hs_object_id")
            .to_string();
        let desc = sort.get("direction").and_then(Value::as_str) == Some("DESCENDING");
        let kind = Kind::of(h, &name);
        hits.sort_by(|a, b| {
            let o = kind.cmp(a.get(&name).as_deref(), b.get(&name).as_deref());
            if desc { o.reverse() } else { o }
        });
    }
    let total = hits.len();
    let capped = total.min(10_000);
    let page: Vec<Value> = hits
        .iter()
        .take(capped)
        .skip(after)
        .take(limit)
        .map(|c| h.contact_json(c, props.as_deref()))
        .collect();
    let mut body = json!({ "total": total, "results": page });
    if after + limit < capped {
        body["paging"] = json!({ "next": { "after": (after + limit).to_string() } });
    }
    Ok(body)
}

fn matches_query(c: &Contact, t: &str) -> bool {
    ["email", "firstname", "lastname", "phone", "company"]
        .iter()
        .any(|p| c.get(p).is_some_and(|v| v.to_lowercase().contains(t)))
}

/// How a property's values compare: HubSpot compares by the property's type, so a `datetime`
/// stored as RFC 3339 text compares with a filter value given in epoch milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `date` and `datetime`: epoch milliseconds or ISO 8601 text, compared as instants.
    Date,
    /// `number`: compared as numbers.
    Number,
    /// Everything else: numbers compare as numbers, other text case-insensitively.
    Text,
}

impl Kind {
    fn of(h: &HubStore, prop: &str) -> Kind {
        match h.prop(prop).map(|p| p.kind.as_str()) {
            Some("date" | "datetime") => Kind::Date,
            Some("number") => Kind::Number,
            _ => Kind::Text,
        }
    }

    /// The value as a number this kind compares by, if it reads as one.
    fn number(self, v: &str) -> Option<f64> {
        let v = v.trim();
        match self {
            Kind::Date => v
                .parse::<i64>()
                .ok()
                .or_else(|| parse_iso_ms(v))
                .map(|ms| ms as f64),
            Kind::Number | Kind::Text => v.parse::<f64>().ok().filter(|n| n.is_finite()),
        }
    }

    fn cmp(self, a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
        match (
            a.and_then(|x| self.number(x)),
            b.and_then(|x| self.number(x)),
        ) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            _ => a
                .unwrap_or("")
                .to_lowercase()
                .cmp(&b.unwrap_or("").to_lowercase()),
        }
    }

    /// `EQ`: text case-insensitively; dates and numbers by value (`1.0` = `1`).
    fn eq(self, a: &str, b: &str) -> bool {
        match (self, self.number(a), self.number(b)) {
            (Kind::Date | Kind::Number, Some(x), Some(y)) => x == y,
            _ => a.eq_ignore_ascii_case(b),
        }
    }
}

struct Filter {
    prop: String,
    kind: Kind,
    op: String,
    value: Option<String>,
    values: Vec<String>,
    high: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Filter {
    fn parse(f: &Value, h: &HubStore) -> Result<Filter, HsError> {
        let prop = f
            .get("propertyName")
            .and_then(Value::as_str)
            .ok_or_else(|| HsError::validation("propertyName is required"))?;
        let op = f.get("operator").and_then(Value::as_str).unwrap_or("EQ");
        const OPS: &[&str] = &[
            "EQ",
            "NEQ",
            "LT",
            "LTE",
            "GT",
            "GTE",
            "BETWEEN",
            "IN",
            "NOT_IN",
            "HAS_PROPERTY",
            "NOT_HAS_PROPERTY",
            "CONTAINS_TOKEN",
            "NOT_CONTAINS_TOKEN",
        ];
        if !OPS.contains(&op) {
            return Err(HsError::validation(format!("Unknown operator {op}")));
        }
        let values = f
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default();
        let value = f.get("value").and_then(text);
        let needs_value = !matches!(op, "HAS_PROPERTY" | "NOT_HAS_PROPERTY" | "IN" | "NOT_IN");
        if needs_value && value.is_none() {
            return Err(HsError::validation(format!(
                "Filter on {prop} with operator {op} requires a value"
            )));
        }
        Ok(Filter {
            kind: Kind::of(h, prop),
            prop: prop.into(),
            op: op.into(),
            value,
            values,
            high: f.get("highValue").and_then(text),
        })
    }

    fn matches(&self, c: &Contact) -> bool {
        use std::cmp::Ordering::*;
        let cur = c.get(&self.prop).filter(|v| !v.is_empty());
        let val = self.value.as_deref().unwrap_or("");
        let eq = |a: &str, b: &str| self.kind.eq(a, b);
        let cmp = |a: &str, b: Option<&str>| self.kind.cmp(Some(a), b);
        match self.op.as_str() {
            "EQ" => cur.is_some_and(|x| eq(&x, val)),
            "NEQ" => !cur.is_some_and(|x| eq(&x, val)),
            "IN" => cur.is_some_and(|x| self.values.iter().any(|v| eq(&x, v))),
            "NOT_IN" => !cur.is_some_and(|x| self.values.iter().any(|v| eq(&x, v))),
            "HAS_PROPERTY" => cur.is_some(),
            "NOT_HAS_PROPERTY" => cur.is_none(),
            "LT" => cur.is_some_and(|x| cmp(&x, Some(val)) == Less),
            "LTE" => cur.is_some_and(|x| cmp(&x, Some(val)) != Greater),
            "GT" => cur.is_some_and(|x| cmp(&x, Some(val)) == Greater),
            "GTE" => cur.is_some_and(|x| cmp(&x, Some(val)) != Less),
            "BETWEEN" => cur.is_some_and(|x| {
                cmp(&x, Some(val)) != Less && cmp(&x, self.high.as_deref()) != Greater
            }),
            "CONTAINS_TOKEN" => cur.is_some_and(|x| contains_token(&x, val)),
            "NOT_CONTAINS_TOKEN" => !cur.is_some_and(|x| contains_token(&x, val)),
            _ => false,
        }
    }
}

/// Token match; `*` in the token is a wildcard.
fn contains_token(hay: &str, token: &str) -> bool {
    let hay = hay.to_lowercase();
    let token = token.to_lowercase();
    let parts: Vec<&str> = token.split('*').collect();
    if parts.len() == 1 {
        return hay
            .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.')
            .any(|t| t == token)
            || hay == token;
    }
    let mut pos = 0;
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            continue;
        }
        match hay[pos..].find(p) {
            Some(at) if i > 0 || at == 0 => pos += at + p.len(),
            _ => return false,
        }
    }
    parts.last().is_some_and(|l| l.is_empty()) || pos == hay.len()
}
