//! 10to8 notifications: coalesce changed customer URIs and POST `{"scope":"customer","items":[..]}`
//! to every subscription's callback URL [T-16, T-17, T-18].

use crate::app::Shared;
use crate::config::System;
use crate::outbound::{Outbound, deliver};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

/// The dispatcher loop; ends when the channel closes.
pub async fn run(shared: Arc<Shared>, mut rx: UnboundedReceiver<String>) {
    let cfg = shared.cfg.notifications.clone();
    while let Some(first) = rx.recv().await {
        let mut uris = vec![first];
        // [T-17] changes within the window are coalesced.
        if !cfg.coalesce_window.is_zero() {
            tokio::time::sleep(cfg.coalesce_window).await;
        }
        while let Ok(u) = rx.try_recv() {
            uris.push(u);
        }
        let mut seen = std::collections::HashSet::new();
        uris.retain(|u| seen.insert(u.clone()));
        let callbacks: Vec<String> = shared
            .tte()
            .subscriptions()
            .map(|s| s.callback_url.clone())
            .collect();
        for chunk in uris.chunks(cfg.max_items.max(1)) {
            for url in &callbacks {
                let faults = shared.faults(System::Tte);
                let plan = faults.plan_delivery();
                let mut items = chunk.to_vec();
                if plan.shuffle {
                    faults.shuffle(&mut items);
                }
                let body = json!({ "scope": "customer", "items": items }).to_string();
                let ob = Outbound {
                    system: System::Tte,
                    url: url.clone(),
                    timeout: cfg.timeout,
                    delays: cfg.retry_delays.clone(),
                    max_attempts: cfg.retry_delays.len() as u32 + 1, // [T-18]
                    retry_client_errors: true,
                    basic_from_userinfo: true, // [T-16]
                };
                deliver(
                    &shared,
                    ob,
                    plan,
                    Box::new(move |_| (body.clone(), Vec::new())),
                );
            }
        }
    }
}
