//! Connector behaviour tests: a scripted transport under paused time for schedules, and a tiny
//! axum server on 127.0.0.1:0 for wire behaviour. Test support only; nothing here is shipped.

mod batch;
mod oauth;
mod oauth_instances;
mod operations;
mod paging;
mod scripted;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::url::Url;
use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{HeaderMap, Method as AxumMethod, Uri};
use serde_json::Value;
use tokio::time::Instant;

pub(super) use mapsync::connector::*;
pub(super) use mapsync::expr::Vars;
use mapsync::mapping::env::Env;
use mapsync::mapping::model::{Mapping, RetryPolicy, System};
use mapsync::mapping::{EnvMode, compile};

/// A request the test server received.
#[derive(Debug, Clone)]
pub(super) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn param(&self, name: &str) -> Option<String> {
        pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// The pairs of a query string or form body.
pub(super) fn pairs(text: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://x/?{text}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// A scripted answer.
pub(super) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: String::new(),
        }
    }

    pub fn with(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

struct ServerState {
    log: Arc<Mutex<Vec<Recorded>>>,
    handler: Box<Handler>,
}

/// A loopback server answering from a script and logging every request.
pub(super) struct TestServer {
    pub base: Url,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ServerState {
            log: log.clone(),
            handler: Box::new(handler),
        });
        let app = axum::Router::new().fallback(serve_one).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer {
            base: Url::parse(&format!("http://{addr}")).unwrap(),
            log,
        }
    }

    pub fn log(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
}

async fn serve_one(
    State(state): State<Arc<ServerState>>,
    method: AxumMethod,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> axum::http::Response<AxumBody> {
    let rec = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body,
        at: Instant::now(),
    };
    state.log.lock().unwrap().push(rec.clone());
    let reply = (state.handler)(&rec);
    let mut b = axum::http::Response::builder().status(reply.status);
    for (n, v) in &reply.headers {
        b = b.header(n.as_str(), v.as_str());
    }
    b.body(AxumBody::from(reply.body)).unwrap()
}

/// A system with fast retries and no auth.
pub(super) fn system(base: &Url) -> System {
    System {
        name: "crm".into(),
        title: "CRM".into(),
        base_url: base.clone(),
        auth: None,
        rate_limit: None,
        retry: fast_retry(),
        timeout: Duration::from_secs(5),
        error_rules: vec![],
        headers: vec![],
    }
}

pub(super) fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

/// The reference mapping with both systems' base URLs on the test server (10to8's under
/// `/api/v2`), fast retries and no rate limits.
pub(super) fn reference(base: &Url, extra_env: &[(&str, &str)]) -> Mapping {
    let raw = serde_saphyr::from_str(include_str!("../../../mappings/hubspot.yaml")).unwrap();
    let root = base.as_str().trim_end_matches('/').to_string();
    let tte = format!("{root}/api/v2");
    let mut env: Vec<(String, String)> = [
        ("TTE_API_KEY", "tte-key-123"),
        ("TTE_WEBHOOK_TOKEN", "t"),
        ("HUBSPOT_CLIENT_SECRET", "client-secret-xyz"),
        ("HUBSPOT_CLIENT_ID", "client-id"),
        ("HUBSPOT_DEVELOPER_API_KEY", "d"),
        ("HUBSPOT_APP_ID", "42"),
        ("HUBSPOT_BASE_URL", root.as_str()),
        ("TTE_BASE_URL", tte.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let compiled = compile(&raw, &Env::from_map(env), EnvMode::Strict);
    let mut m = compiled.mapping.expect("the reference mapping compiles");
    for s in m.systems.values_mut() {
        s.retry = fast_retry();
        s.rate_limit = None;
    }
    m
}

pub(super) fn connector(sys: &System) -> Connector {
    mapsync::init_crypto();
    Connector::builder(sys).build().unwrap()
}
