//! `mapsync setup` with the example mapping registers the Pipedrive webhook (with its basic-auth
//! credentials) and the 10to8 subscription, and a second run changes nothing.

use sandbox::System;

use super::world;

const URL: &str = "https://sync.example.com";

async fn setup(w: &crate::sync::World) -> (Option<i32>, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["setup", "--mapping"])
        .arg(&w.mapping)
        .arg("--state")
        .arg(&w.state)
        .args(["--public-url", URL, "--yes", "--json"])
        .current_dir(w.dir.path())
        .env_clear()
        .envs(w.sb.env_vars())
        .env("TTE_WEBHOOK_TOKEN", "setup-token-0123456789")
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run mapsync setup");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_registers_the_basic_auth_webhook_once() {
    let w = world(1, 0, 0).await;
    let (code, out, err) = setup(&w).await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    let hooks = w.sb.pipedrive_webhooks();
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    let h = &hooks[0];
    assert_eq!(
        h["subscription_url"],
        format!("{URL}/webhooks/pipedrive/persons")
    );
    assert_eq!(
        (h["event_action"].as_str(), h["event_object"].as_str()),
        (Some("*"), Some("person"))
    );
    let env: std::collections::BTreeMap<String, String> = w.sb.env_vars().into_iter().collect();
    assert_eq!(h["http_auth_user"], env["PIPEDRIVE_WEBHOOK_USER"].as_str());
    assert_eq!(w.sb.count(System::Tte, "subscriptions.create").ok, 1);

    w.sb.clear_log(System::Pipedrive);
    let (code, out, err) = setup(&w).await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    let writes: Vec<_> =
        w.sb.requests(System::Pipedrive)
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect();
    assert!(writes.is_empty(), "{writes:#?}");
    assert_eq!(w.sb.pipedrive_webhooks().len(), 1);
}
