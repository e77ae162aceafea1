//! Finding 6: setup items see `now` and `now_ms` (a notification channel's expiry), and a
//! setup listing answered 204 ("none yet") is empty, not an error.

use super::{Dir, Fake, mapping};

const SETUP: &str = r#"setup:
  - name: watch
    system: crm
    list: { path: /crm/v2/actions/watch, records: $.watch, no_records: [204] }
    key: "{{ item.channel_id }}"
    compare: [notify_url]
    create: { path: /crm/v2/actions/watch, body: { watch: ["{{ item }}"] } }
    items:
      - channel_id: "1000"
        notify_url: "{{ public_url }}/webhooks/crm"
        channel_expiry: "{{ now_ms + 86400000 }}"
        token: "set at {{ now }}"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_channel_expires_a_day_after_now_and_an_empty_list_answered_204_is_none_yet() {
    let fake = Fake::start(&[]).await;
    let dir = Dir::new(&format!("{}{SETUP}", mapping(false)));
    let before = jiff::Timestamp::now().as_millisecond();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args([
            "setup",
            "--yes",
            "--public-url",
            "https://sync.example.com",
            "--mapping",
        ])
        .arg(&dir.mapping)
        .arg("--state")
        .arg(dir.dir.path().join("state.db"))
        .env_clear()
        .env("HOME_URL", &fake.url)
        .env("CRM_URL", &fake.url)
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run mapsync setup");
    let after = jiff::Timestamp::now().as_millisecond();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let watches = fake.data.lock().unwrap().watches.clone();
    assert_eq!(watches.len(), 1, "{watches:?}");
    let w = &watches[0];
    assert_eq!(w["notify_url"], "https://sync.example.com/webhooks/crm");
    let expiry = w["channel_expiry"].as_i64().expect("a number");
    assert!(
        (before + 86_400_000..=after + 86_400_000).contains(&expiry),
        "{expiry} not a day after [{before}, {after}]"
    );
    let token = w["token"].as_str().unwrap_or_default();
    let at: jiff::Timestamp = token
        .strip_prefix("set at ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{token}"));
    assert!(
        (before / 1000 - 1..=after / 1000).contains(&at.as_second()),
        "{token}"
    );
}
