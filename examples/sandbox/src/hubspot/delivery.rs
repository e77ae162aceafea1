//! Webhook deliveries to the settings' `targetUrl`: batch events (≤ `max_events` [H-13]), sign each
//! attempt with v1 and v3 (v3 over the target URL with the documented escapes decoded), retry on
//! non-2xx or timeout [H-14], apply delivery faults.

use crate::app::Shared;
use crate::clock::now_ms;
use crate::config::System;
use crate::outbound::{Outbound, deliver};
use crate::signature;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

/// The dispatcher loop; ends when the channel closes.
pub async fn run(shared: Arc<Shared>, mut rx: UnboundedReceiver<Map<String, Value>>) {
    let cfg = shared.cfg.webhooks.clone();
    while let Some(first) = rx.recv().await {
        let mut events = vec![first];
        if !cfg.batch_window.is_zero() {
            tokio::time::sleep(cfg.batch_window).await;
        }
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        let Some(target) = shared.hub().settings.as_ref().map(|s| s.target_url.clone()) else {
            continue; // settings deleted: deliveries paused, events dropped
        };
        for chunk in events.chunks(cfg.max_events.max(1)) {
            let faults = shared.faults(System::Hubspot);
            let plan = faults.plan_delivery();
            let mut batch = chunk.to_vec();
            if plan.shuffle {
                faults.shuffle(&mut batch);
            }
            let secret = shared.cfg.credentials.hubspot_client_secret.clone();
            // HubSpot signs the target URL with the escapes of §2.11 decoded
            let uri = signature::v3_uri(&target);
            let build = move |attempt: u32| {
                let arr: Vec<Value> = batch
                    .iter()
                    .map(|e| {
                        let mut e = e.clone();
                        e.insert("attemptNumber".into(), attempt.into());
                        Value::Object(e)
                    })
                    .collect();
                let body = Value::Array(arr).to_string();
                let ts = now_ms().to_string();
                // [H-16] no timeout header; v1 and v3 on every request
                let headers = vec![
                    (
                        "x-hubspot-signature",
                        signature::v1(&secret, body.as_bytes()),
                    ),
                    ("x-hubspot-signature-version", "v1".to_string()),
                    (
                        "x-hubspot-signature-v3",
                        signature::v3(&secret, "POST", &uri, body.as_bytes(), &ts),
                    ),
                    ("x-hubspot-request-timestamp", ts),
                ];
                (body, headers)
            };
            let ob = Outbound {
                system: System::Hubspot,
                url: target.clone(),
                timeout: cfg.timeout,
                delays: cfg.retry_delays.clone(),
                max_attempts: cfg.max_attempts.min(cfg.retry_delays.len() as u32 + 1),
                retry_client_errors: cfg.retry_client_errors,
                basic_from_userinfo: false,
            };
            deliver(&shared, ob, plan, Box::new(build));
        }
    }
}
