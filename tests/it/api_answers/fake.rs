//! A small contacts API in the style of Zoho CRM v2, and a plain home API, on one loopback
//! server: `{"data": [...]}` envelopes even for one record, writes that take `{"data":
//! [record, ...]}` and answer one result per input in input order (201 when all were written,
//! 202 for a single refused record, 400 for a batch with a refused input), 204 for an empty
//! list and for an unknown id. Notification channels (`/crm/v2/actions/watch`) take
//! `{"watch": [channel]}` and list as 204 while there are none. A contact whose `Email` contains `refuse` is refused with
//! `INVALID_DATA`, one containing `busy` with `LIMIT_REACHED`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};
use serde_json::{Value, json};

/// Something done to the fake's data in the middle of answering a request.
pub type Hook = Box<dyn FnOnce(&mut Data) + Send>;

/// The fake's records and request log.
#[derive(Default)]
pub struct Data {
    /// Home people by id: `{id, name, email, crm_id}`.
    pub people: BTreeMap<String, Value>,
    /// Contacts by id: `{id, Last_Name, Email, Home_Id}`.
    pub contacts: BTreeMap<String, Value>,
    /// The `Email` of every contact write, in arrival order.
    pub attempts: Vec<String>,
    /// Notification channels (`/crm/v2/actions/watch`), as posted.
    pub watches: Vec<Value>,
    /// `METHOD path → status` of every request.
    pub log: Vec<String>,
    /// The `Authorization` header of every request to the CRM (`/crm/…`).
    pub crm_auth: Vec<String>,
    /// Run once while the people listing is answered, after it is taken: stands in for another
    /// process working a pair between a sync's listing and its writes.
    pub on_list_people: Option<Hook>,
    next_id: u64,
}

/// The running fake.
pub struct Fake {
    pub url: String,
    pub data: Arc<Mutex<Data>>,
}

impl Fake {
    pub async fn start(people: &[(&str, &str, &str)]) -> Fake {
        let mut d = Data {
            next_id: 9000,
            ..Data::default()
        };
        for (id, name, email) in people {
            d.people.insert(
                id.to_string(),
                json!({"id": id, "name": name, "email": email, "crm_id": null}),
            );
        }
        let data = Arc::new(Mutex::new(d));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(data.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            url: format!("http://{addr}"),
            data,
        }
    }

    /// Writes (non-GET requests) so far, and forgets them.
    pub fn take_writes(&self) -> Vec<String> {
        let mut d = self.data.lock().unwrap();
        let writes = d
            .log
            .iter()
            .filter(|l| !l.starts_with("GET"))
            .cloned()
            .collect();
        d.log.clear();
        writes
    }

    pub fn contacts(&self) -> BTreeMap<String, Value> {
        self.data.lock().unwrap().contacts.clone()
    }

    pub fn people(&self) -> BTreeMap<String, Value> {
        self.data.lock().unwrap().people.clone()
    }
}

/// A per-record result: written, or refused with a code.
fn judge(record: &Value, id: &str) -> (bool, Value) {
    let email = record["Email"].as_str().unwrap_or_default();
    let refused = if email.contains("refuse") {
        Some("INVALID_DATA")
    } else if email.contains("busy") {
        Some("LIMIT_REACHED")
    } else {
        None
    };
    match refused {
        Some(code) => (
            false,
            json!({"code": code, "details": {"api_name": "Email"}, "message": format!("{code}: the record was not saved"), "status": "error"}),
        ),
        None => (
            true,
            json!({"code": "SUCCESS", "details": {"id": id}, "message": "record saved", "status": "success"}),
        ),
    }
}

fn answer(status: u16, body: Option<Value>) -> (u16, Option<Value>) {
    (status, body)
}

/// Writes `inputs` (creates when `ids` is `None`), answering per record in input order.
fn write(d: &mut Data, inputs: Vec<Value>, ids: Option<Vec<String>>) -> (u16, Option<Value>) {
    let n = inputs.len();
    let mut results = Vec::new();
    let mut refused = 0;
    for (i, input) in inputs.into_iter().enumerate() {
        d.attempts
            .push(input["Email"].as_str().unwrap_or_default().to_string());
        let id = match &ids {
            Some(ids) => ids[i].clone(),
            None => {
                d.next_id += 1;
                d.next_id.to_string()
            }
        };
        let (ok, result) = judge(&input, &id);
        if ok {
            let entry = d
                .contacts
                .entry(id.clone())
                .or_insert_with(|| json!({"id": id}));
            for (k, v) in input.as_object().into_iter().flatten() {
                if k != "id" {
                    entry[k] = v.clone();
                }
            }
        } else {
            refused += 1;
        }
        results.push(result);
    }
    let status = match (refused, n) {
        (0, _) if ids.is_some() => 200,
        (0, _) => 201,
        (_, 1) => 202,
        _ => 400,
    };
    answer(status, Some(json!({"data": results})))
}

fn route(
    d: &mut Data,
    method: &Method,
    path: &str,
    query: &str,
    body: &Value,
) -> (u16, Option<Value>) {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let inputs = || body["data"].as_array().cloned().unwrap_or_default();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["people"]) => {
            let listed = json!({"items": d.people.values().collect::<Vec<_>>()});
            if let Some(hook) = d.on_list_people.take() {
                hook(d);
            }
            answer(200, Some(listed))
        }
        ("GET", ["people", id]) => match d.people.get(*id) {
            Some(p) => answer(200, Some(p.clone())),
            None => answer(404, Some(json!({"message": "no such person"}))),
        },
        ("PATCH", ["people", id]) => match d.people.get_mut(*id) {
            Some(p) => {
                for (k, v) in body.as_object().into_iter().flatten() {
                    p[k] = v.clone();
                }
                answer(200, Some(p.clone()))
            }
            None => answer(404, Some(json!({"message": "no such person"}))),
        },
        ("GET", ["crm", "v2", "Contacts"]) => {
            let page: usize = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("page="))
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let all: Vec<Value> = d.contacts.values().cloned().collect();
            let chunk: Vec<Value> = all.iter().skip((page - 1) * 2).take(2).cloned().collect();
            if chunk.is_empty() {
                return answer(204, None);
            }
            let more = all.len() > page * 2;
            answer(
                200,
                Some(json!({"data": chunk, "info": {"more_records": more, "page": page}})),
            )
        }
        ("GET", ["crm", "v2", "Contacts", id]) => match d.contacts.get(*id) {
            Some(c) => answer(200, Some(json!({"data": [c]}))),
            None => answer(204, None),
        },
        ("POST", ["crm", "v2", "Contacts"]) => write(d, inputs(), None),
        ("PUT", ["crm", "v2", "Contacts"]) => {
            let ids = inputs()
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_string())
                .collect();
            write(d, inputs(), Some(ids))
        }
        ("PUT", ["crm", "v2", "Contacts", id]) => {
            if !d.contacts.contains_key(*id) {
                return answer(204, None);
            }
            write(d, inputs(), Some(vec![id.to_string()]))
        }
        ("GET", ["crm", "v2", "actions", "watch"]) if d.watches.is_empty() => answer(204, None),
        ("GET", ["crm", "v2", "actions", "watch"]) => {
            answer(200, Some(json!({"watch": d.watches})))
        }
        ("POST", ["crm", "v2", "actions", "watch"]) => {
            d.watches
                .extend(body["watch"].as_array().cloned().unwrap_or_default());
            answer(
                201,
                Some(json!({"watch": [{"code": "SUCCESS", "status": "success"}]})),
            )
        }
        _ => answer(404, Some(json!({"message": "no such route"}))),
    }
}

async fn handle(
    State(data): State<Arc<Mutex<Data>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response<Body> {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut d = data.lock().unwrap();
    if uri.path().starts_with("/crm/") {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        d.crm_auth.push(auth.unwrap_or("(none)").to_string());
    }
    let (status, out) = route(
        &mut d,
        &method,
        uri.path(),
        uri.query().unwrap_or(""),
        &body,
    );
    d.log.push(format!("{method} {} → {status}", uri.path()));
    let b = Response::builder().status(status);
    match out {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}
