//! The one place bytes go over the wire: an outgoing request, the answer, and the `Transport`
//! trait with its reqwest implementation (no redirects off the base origin, the system's
//! timeout, a bounded body). Tests swap in a scripted transport. It never retries, paces or
//! classifies; the connector does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use url::Url;

use super::error::TransportKind;
use super::url::same_origin;
use crate::mapping::model::Method;

/// The largest answer body read; a bigger one fails rather than exhausting memory.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Redirects followed at most (same origin only).
const MAX_REDIRECTS: usize = 5;

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request body.
#[derive(Clone)]
pub enum Body {
    /// A JSON document.
    Json(serde_json::Value),
    /// An `application/x-www-form-urlencoded` form (OAuth token calls; may hold secrets).
    Form(Vec<(String, String)>),
}

/// A request ready to send.
#[derive(Clone)]
pub struct Outgoing {
    /// The method.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// Headers: name, value, and whether the value is a credential.
    pub headers: Vec<(String, String, bool)>,
    /// The body.
    pub body: Option<Body>,
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never shows credentials: no query, sensitive headers redacted, no body.
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v, s)| (n.as_str(), if *s { "[redacted]" } else { v.as_str() }))
            .collect();
        f.debug_struct("Outgoing")
            .field("method", &self.method.as_str())
            .field("url", &super::url::without_query(&self.url))
            .field("headers", &headers)
            .finish_non_exhaustive()
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// No usable answer.
#[derive(Debug, Clone)]
pub struct TransportError {
    /// What failed.
    pub kind: TransportKind,
    /// An explanation without the URL (which may carry credentials).
    pub message: String,
}

/// Sends one request and reads its answer.
pub trait Transport: Send + Sync {
    /// Sends `req` once.
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>>;
}

/// The real transport.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A client with the system's timeout that follows redirects only within the origin it
    /// started on. Needs `crate::init_crypto()` to have run.
    pub fn new(timeout: Duration) -> Result<HttpTransport, TransportError> {
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let same = attempt
                .previous()
                .first()
                .is_some_and(|first| same_origin(first, attempt.url()));
            if same && attempt.previous().len() <= MAX_REDIRECTS {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(redirects)
            .user_agent(concat!("mapsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError {
                kind: TransportKind::Other,
                message: describe(e),
            })?;
        Ok(HttpTransport { client })
    }
}

impl Transport for HttpTransport {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        Box::pin(async move {
            let method = match req.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
                Method::Patch => reqwest::Method::PATCH,
                Method::Delete => reqwest::Method::DELETE,
            };
            let mut b = self.client.request(method, req.url);
            for (name, value, sensitive) in &req.headers {
                let mut v =
                    reqwest::header::HeaderValue::from_str(value).map_err(|_| TransportError {
                        kind: TransportKind::Other,
                        message: format!("header `{name}` has a value that HTTP cannot carry"),
                    })?;
                v.set_sensitive(*sensitive);
                b = b.header(name.as_str(), v);
            }
            b = match &req.body {
                None => b,
                Some(Body::Json(v)) => b.json(v),
                Some(Body::Form(pairs)) => b.form(pairs),
            };
            let mut resp = b.send().await.map_err(transport_error)?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(TransportError {
                        kind: TransportKind::Other,
                        message: format!("the answer is larger than {} MiB", MAX_BODY >> 20),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Incoming {
                status,
                headers,
                body,
            })
        })
    }
}

fn transport_error(e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_connect() {
        TransportKind::Connect
    } else if e.is_request() {
        TransportKind::Interrupted
    } else {
        TransportKind::Other
    };
    TransportError {
        kind,
        message: describe(e),
    }
}

/// The error and its causes on one line, without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
