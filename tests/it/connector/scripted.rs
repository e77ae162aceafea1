//! Schedules under paused time with a scripted transport: backoff between attempts,
//! `Retry-After` pauses for the whole system, budget headers, network failures, attempt limits.

use std::sync::Mutex;

use serde_json::json;

use super::*;
use mapsync::expr::Template;
use mapsync::mapping::model::{ErrorClass, Method, RateLimit, RateLimitHeaders, Request};

type Answer =
    dyn Fn(usize, &Outgoing) -> std::result::Result<Incoming, TransportError> + Send + Sync;

/// Answers from a script, recording when each request left (paused time).
struct Scripted {
    log: Mutex<Vec<(Instant, Outgoing)>>,
    answer: Box<Answer>,
}

impl Scripted {
    fn new(
        answer: impl Fn(usize, &Outgoing) -> std::result::Result<Incoming, TransportError>
        + Send
        + Sync
        + 'static,
    ) -> Arc<Scripted> {
        Arc::new(Scripted {
            log: Mutex::new(Vec::new()),
            answer: Box::new(answer),
        })
    }

    /// Milliseconds since `start` at which each request left.
    fn times(&self, start: Instant) -> Vec<u64> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.duration_since(start).as_millis() as u64)
            .collect()
    }
}

impl Transport for Scripted {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, std::result::Result<Incoming, TransportError>> {
        let mut log = self.log.lock().unwrap();
        let n = log.len();
        let answer = (self.answer)(n, &req);
        log.push((Instant::now(), req));
        Box::pin(async move { answer })
    }
}

fn answer(status: u16, headers: &[(&str, &str)], body: Value) -> Incoming {
    Incoming {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.to_string().into_bytes(),
    }
}

fn get(path: &str) -> Request {
    Request {
        method: Method::Get,
        path: Template::compile(path).unwrap(),
        query: vec![],
        headers: vec![],
        body: None,
    }
}

fn scripted_system(retry: RetryPolicy) -> System {
    let mut s = system(&Url::parse("https://api.example.com/v1").unwrap());
    s.retry = retry;
    s
}

fn with(sys: &System, t: Arc<Scripted>, jitter: Jitter, random: f64) -> Connector {
    Connector::builder(sys)
        .transport(t)
        .jitter(jitter)
        .random(Arc::new(FixedRandom(random)))
        .build()
        .unwrap()
}

fn slow_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(6),
        ..RetryPolicy::default()
    }
}

#[tokio::test(start_paused = true)]
async fn the_whole_backoff_schedule_in_paused_time() {
    let t = Scripted::new(|n, _| {
        Ok(if n < 5 {
            answer(503, &[], json!({"message": "busy"}))
        } else {
            answer(200, &[], json!({"ok": true}))
        })
    });
    let c = with(
        &scripted_system(slow_retry(6)),
        t.clone(),
        Jitter::None,
        0.0,
    );
    let start = Instant::now();
    let r = c.send(&get("/x"), &Vars::new(), None).await.unwrap();
    assert_eq!(r.body, json!({"ok": true}));
    // 500 ms doubling, capped at 6 s.
    assert_eq!(t.times(start), [0, 500, 1500, 3500, 7500, 13500]);
    let s = c.stats();
    assert_eq!((s.requests, s.retries, s.rate_limited), (6, 5, 0));

    // With ±20 % jitter at its low end every delay is 0.8 × the nominal one.
    let t = Scripted::new(|n, _| Ok(answer(if n < 3 { 502 } else { 204 }, &[], Value::Null)));
    let c = with(
        &scripted_system(slow_retry(6)),
        t.clone(),
        Jitter::Proportional(0.2),
        0.0,
    );
    let start = Instant::now();
    c.send(&get("/x"), &Vars::new(), None).await.unwrap();
    assert_eq!(t.times(start), [0, 400, 1200, 2800]);
}

#[tokio::test(start_paused = true)]
async fn attempts_are_limited_and_the_error_is_classified() {
    let t = Scripted::new(|_, _| Ok(answer(503, &[], json!({"message": "down for maintenance"}))));
    let c = with(
        &scripted_system(slow_retry(3)),
        t.clone(),
        Jitter::None,
        0.0,
    );
    let e = c.send(&get("/x"), &Vars::new(), None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient);
    assert_eq!((e.status(), e.attempts()), (Some(503), 3));
    assert!(e.to_string().contains("down for maintenance"), "{e}");

    // A status outside the policy is not retried.
    let t = Scripted::new(|_, _| Ok(answer(422, &[], json!({"message": "bad email"}))));
    let c = with(
        &scripted_system(slow_retry(5)),
        t.clone(),
        Jitter::None,
        0.0,
    );
    let e = c.send(&get("/x"), &Vars::new(), None).await.unwrap_err();
    assert_eq!((e.class(), e.attempts()), (ErrorClass::Permanent, 1));
    assert_eq!(t.times(Instant::now()).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn network_failures_are_retried_then_transient() {
    let t = Scripted::new(|n, _| {
        if n < 2 {
            Err(TransportError {
                kind: if n == 0 {
                    TransportKind::Connect
                } else {
                    TransportKind::Timeout
                },
                message: "connection reset".into(),
            })
        } else {
            Ok(answer(200, &[], json!({})))
        }
    });
    let c = with(
        &scripted_system(slow_retry(4)),
        t.clone(),
        Jitter::None,
        0.0,
    );
    let start = Instant::now();
    c.send(&get("/x"), &Vars::new(), None).await.unwrap();
    assert_eq!(t.times(start), [0, 500, 1500]);
    assert_eq!(c.stats().transport_errors, 2);

    let t = Scripted::new(|_, _| {
        Err(TransportError {
            kind: TransportKind::Timeout,
            message: "timed out".into(),
        })
    });
    let c = with(&scripted_system(slow_retry(2)), t, Jitter::None, 0.0);
    let e = c.send(&get("/x"), &Vars::new(), None).await.unwrap_err();
    assert!(matches!(
        e,
        ConnectorError::Transport {
            kind: TransportKind::Timeout,
            attempts: 2,
            ..
        }
    ));
    assert_eq!(e.class(), ErrorClass::Transient);
}

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_every_request_to_the_system() {
    // The first request gets 429 with Retry-After: 3; four other callers are in flight.
    let t = Scripted::new(|n, _| {
        Ok(if n == 0 {
            answer(
                429,
                &[("Retry-After", "3")],
                json!({"message": "slow down"}),
            )
        } else {
            answer(200, &[], json!({}))
        })
    });
    let c = with(
        &scripted_system(slow_retry(4)),
        t.clone(),
        Jitter::None,
        0.0,
    );
    let start = Instant::now();
    c.send(&get("/first"), &Vars::new(), None).await.unwrap();
    let others: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.send(&get("/other"), &Vars::new(), None).await })
        })
        .collect();
    for o in others {
        o.await.unwrap().unwrap();
    }
    let times = t.times(start);
    assert_eq!(times[0], 0);
    assert!(times[1..].iter().all(|&ms| ms >= 3000), "{times:?}");
    let s = c.stats();
    assert_eq!((s.rate_limited, s.retries, s.requests), (1, 1, 6));
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_capped_and_reported() {
    let t = Scripted::new(|_, _| Ok(answer(429, &[("retry-after", "3600")], json!({}))));
    let mut retry = slow_retry(3);
    retry.max_retry_after = Duration::from_secs(10);
    let c = with(&scripted_system(retry), t.clone(), Jitter::None, 0.0);
    let start = Instant::now();
    let e = c.send(&get("/x"), &Vars::new(), None).await.unwrap_err();
    // 429s have their own budget (as many as `max_attempts`) and never use up an attempt: 3
    // attempts, plus 3 more for the 429s, each after the capped `Retry-After`.
    assert_eq!(t.times(start), [0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    assert_eq!(e.class(), ErrorClass::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(10)));
    assert!(c.rate_limiter().paused_until().is_some());
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_budget_header_waits_for_the_window() {
    let t = Scripted::new(|n, _| {
        let remaining = if n == 0 { "0" } else { "50" };
        Ok(answer(
            200,
            &[
                ("X-Budget-Remaining", remaining),
                ("X-Budget-Window", "2500"),
            ],
            json!({}),
        ))
    });
    let mut sys = scripted_system(slow_retry(3));
    sys.rate_limit = Some(RateLimit {
        requests: 100,
        per: Duration::from_secs(10),
        burst: 100,
        headers: Some(RateLimitHeaders {
            remaining: "x-budget-remaining".into(),
            interval_ms: Some("x-budget-window".into()),
        }),
    });
    let c = with(&sys, t.clone(), Jitter::None, 0.0);
    let start = Instant::now();
    c.send(&get("/a"), &Vars::new(), None).await.unwrap();
    c.send(&get("/b"), &Vars::new(), None).await.unwrap();
    c.send(&get("/c"), &Vars::new(), None).await.unwrap();
    // The window restarts the bucket nearly empty: the third request waits for a token.
    assert_eq!(t.times(start), [0, 2500, 2600]);
}

#[tokio::test(start_paused = true)]
async fn the_declared_rate_limit_paces_requests() {
    let t = Scripted::new(|_, _| Ok(answer(200, &[], json!({}))));
    let mut sys = scripted_system(slow_retry(3));
    sys.rate_limit = Some(RateLimit {
        requests: 5,
        per: Duration::from_secs(1),
        burst: 1,
        headers: None,
    });
    let c = with(&sys, t.clone(), Jitter::None, 0.0);
    let start = Instant::now();
    for _ in 0..4 {
        c.send(&get("/a"), &Vars::new(), None).await.unwrap();
    }
    assert_eq!(t.times(start), [0, 200, 400, 600]);
}

#[tokio::test(start_paused = true)]
async fn credentials_are_never_in_errors_or_debug_output() {
    let t = Scripted::new(|_, req| {
        let echoed = req.url.query().unwrap_or("").to_string();
        Ok(answer(
            400,
            &[],
            json!({"message": format!("bad request {echoed}")}),
        ))
    });
    let mut sys = scripted_system(slow_retry(1));
    sys.auth = Some(mapsync::mapping::model::Auth::Query {
        name: "apikey".into(),
        value: mapsync::mapping::model::Secret::new("sup3rsecret"),
    });
    let c = with(&sys, t.clone(), Jitter::None, 0.0);
    let e = c.send(&get("/x"), &Vars::new(), None).await.unwrap_err();
    let text = e.to_string();
    assert!(!text.contains("sup3rsecret"), "{text}");
    assert!(text.contains("apikey=[redacted]"), "{text}");
    let (_, sent) = &t.log.lock().unwrap()[0];
    assert_eq!(sent.url.query(), Some("apikey=sup3rsecret"));
    assert!(!format!("{sent:?} {c:?}").contains("sup3rsecret"));
}
