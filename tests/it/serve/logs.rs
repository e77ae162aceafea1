//! Logs a person reads: `serve` logs at info by default, one line per record acted on, warns
//! at start about every webhook whose secret is unset, and `-v` adds mapsync's debug lines
//! without the libraries' noise.

use serde_json::{Value, json};

use super::harness::{Opts, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_one_line_per_record_at_info_by_default() {
    let live = start(Opts {
        quiet: true,
        ..Opts::default()
    })
    .await;
    let contact = live
        .sb
        .ui_create_contact(
            json!({"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace"}),
        )
        .expect("create contact");
    let id = match &contact["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let line = format!("inbound contact {id} → customer/");
    live.until("the create is logged", |_| {
        live.log()
            .lines()
            .any(|l| l.contains(&line) && l.contains(": created ("))
    })
    .await;
    let log = live.log();
    assert!(log.lines().any(|l| l.contains(" INFO ")), "{log}");
    assert!(!log.lines().any(|l| l.contains(" DEBUG ")), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_warns_at_start_about_an_unset_webhook_secret_and_v_hides_library_noise() {
    let live = start(Opts {
        mapping: |m| m.replace("${TTE_WEBHOOK_TOKEN", "${TTE_WEBHOOK_TOKEN_UNSET"),
        subscribe: false,
        ..Opts::default()
    })
    .await;
    let log = live.log();
    let warning = log
        .lines()
        .find(|l| l.contains("The webhook cannot verify deliveries"))
        .unwrap_or_else(|| panic!("no warning about the unset secret:\n{log}"));
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(warning.contains("TTE_WEBHOOK_TOKEN_UNSET"), "{warning}");
    assert!(warning.contains("401"), "{warning}");
    // A notification is refused as the warning said; `-v` (the harness's default) shows
    // mapsync's lines about it, never the HTTP libraries'.
    let answer = live
        .http
        .post(format!(
            "{}/webhooks/10to8/customers?key=anything",
            live.base
        ))
        .json(&json!({"scope": "customer", "items": []}))
        .send()
        .await
        .expect("post a notification");
    assert_eq!(answer.status().as_u16(), 401);
    live.until("the refusal is logged", |_| {
        live.log().contains("Refused an unverified delivery")
    })
    .await;
    let log = live.log();
    for noisy in ["hyper", "reqwest::", "h2::", "tower", "sqlx"] {
        assert!(
            !log.lines().any(|l| l.contains(&format!(" {noisy}"))),
            "library lines from {noisy} in -v:\n{log}"
        );
    }
}
