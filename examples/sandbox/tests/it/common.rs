//! Helpers: start a sandbox, HTTP clients with the right auth, a webhook receiver, polling.

use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub async fn start(cfg: SandboxConfig) -> SandboxHandle {
    Sandbox::start(cfg).await.expect("sandbox starts")
}

pub async fn start_default() -> SandboxHandle {
    start(SandboxConfig::for_tests()).await
}

pub fn client() -> reqwest::Client {
    sandbox::init_crypto();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A response's status and JSON body (Null when empty).
pub async fn parts(r: reqwest::Response) -> (u16, Value, HeaderMap) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v, headers)
}

pub struct Tte {
    pub c: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Tte {
    pub fn new(sb: &SandboxHandle) -> Self {
        Tte {
            c: client(),
            base: sb.tte_base_url(),
            key: sb.tte_api_key().to_string(),
        }
    }
    pub fn url(&self, p: &str) -> String {
        if p.starts_with("http") {
            p.to_string()
        } else {
            format!("{}{p}", self.base)
        }
    }
    pub async fn get(&self, p: &str) -> (u16, Value, HeaderMap) {
        parts(
            self.c
                .get(self.url(p))
                .header("authorization", format!("token {}", self.key))
                .send()
                .await
                .expect("send"),
        )
        .await
    }
    pub async fn send(
        &self,
        m: reqwest::Method,
        p: &str,
        body: Option<Value>,
    ) -> (u16, Value, HeaderMap) {
        let mut r = self
            .c
            .request(m, self.url(p))
            .header("authorization", format!("token {}", self.key));
        if let Some(b) = body {
            r = r.json(&b);
        }
        parts(r.send().await.expect("send")).await
    }
}

pub struct Hub {
    pub c: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Hub {
    pub fn new(sb: &SandboxHandle) -> Self {
        Hub {
            c: client(),
            base: sb.hubspot_base_url(),
            token: sb.hubspot_access_token().to_string(),
        }
    }
    pub fn with_token(sb: &SandboxHandle, token: &str) -> Self {
        Hub {
            c: client(),
            base: sb.hubspot_base_url(),
            token: token.to_string(),
        }
    }
    pub async fn get(&self, p: &str) -> (u16, Value, HeaderMap) {
        parts(
            self.c
                .get(format!("{}{p}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("send"),
        )
        .await
    }
    pub async fn send(&self, m: reqwest::Method, p: &str, body: Value) -> (u16, Value, HeaderMap) {
        parts(
            self.c
                .request(m, format!("{}{p}", self.base))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await
                .expect("send"),
        )
        .await
    }
    pub async fn post(&self, p: &str, body: Value) -> (u16, Value, HeaderMap) {
        self.send(reqwest::Method::POST, p, body).await
    }
}

/// Poll `f` every 10 ms until it is true, or panic after `secs`.
pub async fn wait_until<F: FnMut() -> bool>(secs: u64, what: &str, mut f: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the receiver does with one request.
#[derive(Clone, Debug)]
pub enum Answer {
    Status(u16),
    /// Answer 200 after this long (longer than the sandbox's timeout = "no answer").
    Slow(Duration),
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

#[derive(Clone, Default)]
pub struct RecvState {
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub script: Arc<Mutex<VecDeque<Answer>>>,
    pub inflight: Arc<AtomicUsize>,
    pub max_inflight: Arc<AtomicUsize>,
}

/// A tiny webhook receiver on 127.0.0.1:0; answers 200 unless scripted.
pub struct Receiver {
    pub url: String,
    pub state: RecvState,
}

impl Receiver {
    pub async fn start(path: &str) -> Receiver {
        let state = RecvState::default();
        let app = axum::Router::new()
            .route(path, axum::routing::post(receive))
            .with_state(state.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}{path}", l.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        Receiver { url, state }
    }
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().unwrap().extend(answers);
    }
    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }
    pub fn count(&self) -> usize {
        self.state.hits.lock().unwrap().len()
    }
}

async fn receive(
    State(s): State<RecvState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    s.hits.lock().unwrap().push(Hit { headers, body });
    let now = s.inflight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_inflight.fetch_max(now, Ordering::SeqCst);
    let next = s.script.lock().unwrap().pop_front();
    let status = match next {
        Some(Answer::Status(st)) => axum::http::StatusCode::from_u16(st).unwrap(),
        Some(Answer::Slow(d)) => {
            tokio::time::sleep(d).await;
            axum::http::StatusCode::OK
        }
        None => axum::http::StatusCode::OK,
    };
    s.inflight.fetch_sub(1, Ordering::SeqCst);
    status
}

/// The correlationId is a UUID.
pub fn assert_uuid(v: &Value) {
    let s = v.as_str().expect("correlationId string");
    assert!(uuid::Uuid::parse_str(s).is_ok(), "not a uuid: {s}");
}

/// Every HubSpot error body has status, message, category, correlationId.
pub fn assert_hs_error(v: &Value, category: &str) {
    assert_eq!(v["status"], "error", "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert_eq!(v["category"], category, "{v}");
    assert_uuid(&v["correlationId"]);
}
