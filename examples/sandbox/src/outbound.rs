//! Outbound POSTs with timeouts, retries and delivery faults: 10to8 notifications and HubSpot
//! webhook batches both go through `deliver`.

use crate::app::Shared;
use crate::config::System;
use crate::faults::DeliveryPlan;
use base64::Engine as _;
use std::sync::Arc;
use std::time::Duration;

/// How to send one logical delivery.
#[derive(Clone)]
pub struct Outbound {
    pub system: System,
    pub url: String,
    pub timeout: Duration,
    pub delays: Vec<Duration>,
    pub max_attempts: u32,
    /// false: 400, 401, 403, 404 and 405 end the delivery (HubSpot's older rule, H-14).
    pub retry_client_errors: bool,
    /// [T-16] turn userinfo in the URL into a basic-auth header.
    pub basic_from_userinfo: bool,
}

/// Body and extra headers for attempt `n` (0-based).
pub type Build = Box<dyn Fn(u32) -> (String, Vec<(&'static str, String)>) + Send + Sync>;

/// Send according to `plan`: maybe held back, dropped, or duplicated; retried until a 2xx.
pub fn deliver(shared: &Arc<Shared>, ob: Outbound, plan: DeliveryPlan, build: Build) {
    let delivery_id = shared.next_delivery_id();
    let build = Arc::new(build);
    let copies = if plan.duplicate && !plan.drop { 2 } else { 1 };
    for _ in 0..copies {
        let (s, ob, build, hold, drop) = (
            shared.clone(),
            ob.clone(),
            build.clone(),
            plan.hold,
            plan.drop,
        );
        shared.spawn(async move {
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            if drop {
                let (body, _) = build(0);
                s.journal(ob.system).delivery(
                    delivery_id,
                    &ob.url,
                    0,
                    &body,
                    None,
                    Some("dropped by fault".into()),
                );
                return;
            }
            run(s, ob, delivery_id, build).await;
        });
    }
}

async fn run(s: Arc<Shared>, ob: Outbound, delivery_id: u64, build: Arc<Build>) {
    let (url, basic) = split_userinfo(&ob.url, ob.basic_from_userinfo);
    let max = ob.max_attempts.max(1);
    for attempt in 0..max {
        let (body, headers) = build(attempt);
        let mut req = s
            .http
            .post(&url)
            .timeout(ob.timeout)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(b) = &basic {
            req = req.header("authorization", b.as_str());
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let permit = match ob.system {
            System::Hubspot => s.hub_inflight.acquire().await.ok(),
            System::Tte | System::Pipedrive => None,
        };
        let sent = req.send().await;
        drop(permit);
        let (status, error) = match sent {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) if e.is_timeout() => (None, Some(format!("timeout after {:?}", ob.timeout))),
            Err(e) => (None, Some(format!("connection error: {e}"))),
        };
        s.journal(ob.system)
            .delivery(delivery_id, &ob.url, attempt, &body, status, error);
        match status {
            Some(st) if (200..300).contains(&st) => return,
            Some(400 | 401 | 403 | 404 | 405) if !ob.retry_client_errors => return,
            _ => {}
        }
        if attempt + 1 >= max {
            tracing::warn!(url = %ob.url, delivery_id, "delivery given up after {max} attempts");
            return;
        }
        let delay = ob
            .delays
            .get(attempt as usize)
            .or(ob.delays.last())
            .copied()
            .unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(delay).await;
    }
}

/// Strip userinfo from `raw`, returning `Basic …` for it when asked [T-16].
fn split_userinfo(raw: &str, want_basic: bool) -> (String, Option<String>) {
    let Ok(mut u) = url::Url::parse(raw) else {
        return (raw.to_string(), None);
    };
    if !want_basic || u.username().is_empty() {
        return (raw.to_string(), None);
    }
    let dec = |s: &str| percent_decode(s);
    let creds = format!("{}:{}", dec(u.username()), dec(u.password().unwrap_or("")));
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    );
    (u.to_string(), Some(basic))
}

fn percent_decode(s: &str) -> String {
    let plus_safe = s.replace('+', "%2B");
    form_urlencoded::parse(format!("x={plus_safe}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::split_userinfo;

    #[test]
    fn userinfo_becomes_basic_auth() {
        let (u, b) = split_userinfo("http://user:p%40ss@127.0.0.1:9/hook", true);
        assert_eq!(u, "http://127.0.0.1:9/hook");
        assert_eq!(b.as_deref(), Some("Basic dXNlcjpwQHNz"));
        let (u, b) = split_userinfo("http://127.0.0.1:9/hook", true);
        assert_eq!((u.as_str(), b), ("http://127.0.0.1:9/hook", None));
    }
}
