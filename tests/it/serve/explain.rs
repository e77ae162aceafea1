//! `mapsync explain` on a record that went through a create, an echo, a conflict and a dead
//! letter under the real `mapsync serve`: all four are in its history, in order, with reasons;
//! and the live view shows the base, both sides' values and the next sync's plan.

use std::time::Duration;

use sandbox::{Faults, ScriptedFault, System};
use serde_json::{Value, json};

use super::harness::{Live, Opts, start};

/// `mapsync explain <id> --json [--offline]`, parsed.
fn explain(live: &Live, id: &str, offline: bool) -> Value {
    let mut args = vec!["explain", "--mapping", "mapping.yaml", id, "--json"];
    if offline {
        args.push("--offline");
    }
    let out = live.mapsync(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "explain --json: {e}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["explain"].clone()
}

fn kinds(x: &Value) -> Vec<String> {
    x["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|e| e["kind"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn until_kind(live: &Live, id: &str, kind: &str, after: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let x = explain(live, id, true);
        if kinds(&x).iter().skip(after).any(|k| k == kind) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no `{kind}` after entry {after} in the history: {x:#}\nlog:\n{}",
            live.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_create_echo_conflict_and_dead_letter_in_order_with_reasons() {
    let live = start(Opts {
        mapping: |m| m.replace("conflicts: newest", "conflicts: report"),
        ..Opts::default()
    })
    .await;
    let sb = live.sb.clone();

    // 1. Created: a HubSpot contact becomes a 10to8 customer; 10to8's notification of that
    //    write comes back and is skipped as an echo.
    let contact = sb
        .ui_create_contact(json!({"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace", "phone": "+44 1"}))
        .expect("create contact");
    let id = contact["id"]
        .as_str()
        .map_or_else(|| contact["id"].to_string(), str::to_string);
    until_kind(&live, &id, "write", 0).await;
    let uri = explain(&live, &id, true)["home_id"]
        .as_str()
        .expect("linked")
        .to_string();
    until_kind(&live, &uri, "echo", 0).await;
    live.settle().await;

    // 2. A conflict (the mapping reports conflicts instead of letting the newest win): the
    //    phone changes in 10to8 while its notification is lost, then in HubSpot.
    let n = kinds(&explain(&live, &uri, true)).len();
    sb.set_faults(
        System::Tte,
        Faults {
            delivery_drop_rate: 1.0,
            ..Faults::default()
        },
    );
    sb.ui_update_customer(&uri, json!({"numbers": ["+44 9"]}))
        .expect("edit customer");
    sb.ui_update_contact(&id, json!({"phone": "+44 8"}))
        .expect("edit contact");
    until_kind(&live, &uri, "conflict", n).await;
    sb.set_faults(System::Tte, Faults::default());
    // The dropped notifications never succeed; forget them so `settle` waits for the rest.
    sb.clear_log(System::Tte);
    live.settle().await;

    // 3. A dead letter: 10to8 refuses the next update for good (422).
    let n = kinds(&explain(&live, &uri, true)).len();
    sb.set_faults(
        System::Tte,
        Faults {
            scripted: vec![ScriptedFault {
                method: Some("PATCH".into()),
                path_contains: Some("/customer/".into()),
                status: 422,
                count: 1,
                retry_after_secs: None,
                ..ScriptedFault::default()
            }],
            ..Faults::default()
        },
    );
    sb.ui_update_contact(&id, json!({"firstname": "Ade"}))
        .expect("edit contact");
    until_kind(&live, &uri, "dead_letter", n).await;

    // The history, asked by either id, has the four steps in time order, each with its reason.
    for asked in [&uri, &id] {
        let x = explain(&live, asked, true);
        assert_eq!(
            (x["home_id"].as_str(), x["external_id"].as_str()),
            (Some(uri.as_str()), Some(id.as_str()))
        );
        let history = x["history"].as_array().expect("history");
        let position = |kind: &str, text: &str| {
            history
                .iter()
                .position(|e| {
                    e["kind"] == kind && e["detail"].as_str().is_some_and(|d| d.contains(text))
                })
                .unwrap_or_else(|| panic!("no {kind} with {text:?}: {x:#}"))
        };
        let created = position("write", ": created (");
        let echo = position("echo", "echo skipped: ");
        let conflict = position("conflict", "numbers");
        let dead = position("dead_letter", "422");
        assert!(
            created < echo && echo < conflict && conflict < dead,
            "{x:#}"
        );
        let times: Vec<&str> = history
            .iter()
            .map(|e| e["at"].as_str().unwrap_or(""))
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "time order: {times:?}"
        );
    }

    // Live: the base and both sides' current values, and what the next sync would do.
    let x = explain(&live, &uri, false);
    assert_eq!(x["live"], true);
    let phone = x["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["side"] == "external" && f["field"] == "phone")
        .unwrap_or_else(|| panic!("no external phone field: {x:#}"));
    assert_eq!(phone["now"], "+44 8", "{x:#}");
    let directions: Vec<&str> = x["next"]
        .as_array()
        .expect("next")
        .iter()
        .filter_map(|n| n["direction"].as_str())
        .collect();
    assert_eq!(directions, ["outbound", "inbound"], "{x:#}");

    // Human output: the pair, the sections, and the history lines.
    let out = live.mapsync(&["explain", "--mapping", "mapping.yaml", &uri]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(&format!("customer {uri} ↔ contact {id}  (link: active)")),
        "{text}"
    );
    for section in [
        "\nfields (base = last synced | now = read just now):",
        "\nnext sync:",
        "\nhistory (oldest first):",
    ] {
        assert!(text.contains(section), "{text}");
    }
    // A record the store does not know: exit 66 with what to give instead.
    let out = live.mapsync(&["explain", "--mapping", "mapping.yaml", "nope", "--offline"]);
    assert_eq!(out.status.code(), Some(66));
}
