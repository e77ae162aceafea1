//! 10to8 customers and subscriptions: auth, paging over ≥ 3 pages, create/PATCH/DELETE rules,
//! error bodies, notifications to a receiver (coalescing, echo, retries, basic auth).

use crate::common::*;
use reqwest::Method;
use sandbox::{SandboxConfig, System, UnsetCustomFields};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn auth_errors_are_drf_401s() {
    let sb = start_default().await;
    let c = client();
    let url = format!("{}/customer/", sb.tte_base_url());
    let r = parts(c.get(&url).send().await.unwrap()).await;
    assert_eq!(r.0, 401);
    assert_eq!(
        r.1,
        json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(r.2["www-authenticate"], "Token");
    let r = parts(
        c.get(&url)
            .header("authorization", "token wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.0, r.1), (401, json!({"detail": "Invalid token."})));
    // [T-02] the keyword is case-insensitive
    let r = parts(
        c.get(&url)
            .header("authorization", format!("Token {}", sb.tte_api_key()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.0, 200);
}

#[tokio::test]
async fn list_pages_over_three_pages_with_next_links() {
    let sb = start(SandboxConfig {
        customers: 25,
        ..SandboxConfig::for_tests()
    })
    .await;
    let t = Tte::new(&sb);
    let report = sb.seed_report();
    let mut url = format!(
        "{}/customer/?include_deleted=True&limit=10",
        sb.tte_base_url()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (st, v, _) = t.get(&url).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["count"], 25);
        assert!(v.get("previous").is_some());
        for c in v["results"].as_array().unwrap() {
            assert!(c["deleted"].is_boolean());
            seen.push(c["resource_uri"].as_str().unwrap().to_string());
        }
        pages += 1;
        match v["next"].as_str() {
            Some(n) => {
                assert!(n.starts_with("http://"), "next is absolute");
                url = n.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, report.customers,
        "creation order, every customer once"
    );
    // without include_deleted, deleted customers are left out [T-11]
    let (_, v, _) = t.get("/customer/?limit=100").await;
    assert_eq!(
        v["count"].as_u64().unwrap() as usize,
        report.live_customers()
    );
    // default page size 10; max 100 [T-04]
    let (_, v, _) = t.get("/customer/").await;
    assert_eq!(v["results"].as_array().unwrap().len(), 10);
    let (st, v, _) = t.get("/customer/?limit=101").await;
    assert_eq!(
        (st, v),
        (
            400,
            json!({"limit": ["Ensure this value is less than or equal to 100."]})
        )
    );
}

#[tokio::test]
async fn create_patch_delete_follow_the_register() {
    let sb = start_default().await;
    let t = Tte::new(&sb);
    let body = json!({"name": "Mary Ann Smith", "emails": ["a@x.com", "b@y.com"], "numbers": [], "custom_fields": {"Sync Status": "new"}});
    let (st, v, h) = t.send(Method::POST, "/customer/", Some(body)).await;
    assert_eq!(st, 201);
    let uri = h["location"].to_str().unwrap().to_string();
    assert_eq!(v["resource_uri"], uri.as_str());
    assert!(uri.starts_with(&sb.tte_base_url()) && uri.ends_with('/'));
    assert_eq!(v["custom_fields"], json!({"Sync Status": "new"}));
    // unknown custom field [T-09]
    let (st, v, _) = t
        .send(
            Method::POST,
            "/customer/",
            Some(json!({"name": "X", "custom_fields": {"Colour": "red"}})),
        )
        .await;
    assert_eq!(
        (st, v),
        (
            400,
            json!({"custom_fields": ["Unknown custom field: Colour"]})
        )
    );
    // PATCH merges custom_fields, replaces arrays, keeps absent keys [T-08]
    let (st, v, _) = t
        .send(
            Method::PATCH,
            &uri,
            Some(json!({"custom_fields": {"External ID": "101"}, "emails": ["c@z.com"]})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        v["custom_fields"],
        json!({"External ID": "101", "Sync Status": "new"})
    );
    assert_eq!(v["emails"], json!(["c@z.com"]));
    assert_eq!(v["name"], "Mary Ann Smith");
    // future bookings: 409 without force, 204 with force, then 404 [T-10]
    assert!(sb.set_future_bookings(&uri, 1));
    let (st, v, _) = t.send(Method::DELETE, &uri, None).await;
    assert_eq!(st, 409);
    assert!(v["detail"].is_string());
    let (st, _, _) = t
        .send(Method::DELETE, &format!("{uri}?force=True"), None)
        .await;
    assert_eq!(st, 204);
    let (st, v, _) = t.get(&uri).await;
    assert_eq!((st, v), (404, json!({"detail": "Not found."})));
    let (st, _, _) = t
        .send(Method::DELETE, &format!("{uri}?force=true"), None)
        .await;
    assert_eq!(st, 404);
    assert_eq!(sb.count(System::Tte, "customers.create").ok, 1);
    assert_eq!(sb.count(System::Tte, "customers.patch").total, 1);
}

#[tokio::test]
async fn subscriptions_create_list_delete() {
    let sb = start_default().await;
    let t = Tte::new(&sb);
    for i in 0..12 {
        let (st, v, _) = t
            .send(Method::POST, "/subscription/", Some(json!({"callback_url": format!("http://127.0.0.1:9/cb{i}"), "scope": "customer"})))
            .await;
        assert_eq!(st, 201, "{v}");
        assert!(
            v["resource_uri"]
                .as_str()
                .unwrap()
                .contains("/subscription/")
        );
    }
    let (_, v, _) = t.get("/subscription/").await;
    assert_eq!(v["count"], 12);
    assert!(v["next"].is_string());
    let (st, v, _) = t
        .send(
            Method::POST,
            "/subscription/",
            Some(json!({"callback_url": "nope", "scope": "booking"})),
        )
        .await;
    assert_eq!(st, 400);
    assert!(v["callback_url"].is_array() && v["scope"].is_array());
    let first = format!("{}/subscription/1/", sb.tte_base_url());
    assert_eq!(t.send(Method::DELETE, &first, None).await.0, 204);
    assert_eq!(t.send(Method::DELETE, &first, None).await.0, 404);
}

#[tokio::test]
async fn notifications_coalesce_echo_and_retry() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.notifications.coalesce_window = Duration::from_millis(300);
    let sb = start(cfg).await;
    let rx = Receiver::start("/tte/hook").await;
    let t = Tte::new(&sb);
    let cb = rx.url.replace("http://", "http://user:s3cret@");
    t.send(
        Method::POST,
        "/subscription/",
        Some(json!({"callback_url": cb, "scope": "customer"})),
    )
    .await;
    // first answer fails: the notification is retried
    rx.script([Answer::Status(500)]);
    let (_, v, _) = t
        .send(Method::POST, "/customer/", Some(json!({"name": "A"})))
        .await;
    let uri = v["resource_uri"].as_str().unwrap().to_string();
    // an API write and a UI write within the window are coalesced into one POST
    t.send(Method::PATCH, &uri, Some(json!({"name": "B"})))
        .await;
    wait_until(10, "retried notification", || rx.count() >= 2).await;
    let hits = rx.hits();
    assert_eq!(hits[0].json(), json!({"scope": "customer", "items": [uri]}));
    assert_eq!(hits[1].body, hits[0].body);
    // [T-16] userinfo became basic auth
    assert_eq!(hits[0].headers["authorization"], "Basic dXNlcjpzM2NyZXQ=");
    let d = sb.deliveries(System::Tte);
    assert_eq!(d.len(), 2);
    assert_eq!((d[0].status, d[1].status), (Some(500), Some(200)));
    assert_eq!(d[0].delivery_id, d[1].delivery_id);
    // a UI edit notifies too
    sb.ui_update_customer(&uri, json!({"name": "C"})).unwrap();
    wait_until(10, "UI notification", || rx.count() >= 3).await;
}

#[tokio::test]
async fn notification_timeout_counts_as_failure() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.notifications.timeout = Duration::from_millis(200);
    let sb = start(cfg).await;
    let rx = Receiver::start("/hook").await;
    rx.script([Answer::Slow(Duration::from_secs(2))]);
    let t = Tte::new(&sb);
    t.send(
        Method::POST,
        "/subscription/",
        Some(json!({"callback_url": rx.url, "scope": "customer"})),
    )
    .await;
    sb.ui_create_customer(json!({"name": "Slow"})).unwrap();
    wait_until(10, "retry after timeout", || {
        sb.deliveries(System::Tte).iter().any(|d| d.succeeded())
    })
    .await;
    let d = sb.deliveries(System::Tte);
    assert!(
        d[0].error.as_deref().unwrap_or("").contains("timeout"),
        "{:?}",
        d[0]
    );
    assert_eq!(d[1].attempt, 1);
}

/// Real 10to8 leaves a custom field without a value out of `custom_fields` (the 2021 demo's code
/// tests `"External ID" in custom_fields`, then splits its value on `", "`), and so does the
/// sandbox by default; clearing a field (`""` or `null`) leaves it out again. The former shape,
/// every label with `""`, stays switchable at start (`tte_unset_custom_fields`) and at run time
/// (`PUT /_sandbox/custom-fields`, `SandboxHandle::set_tte_unset_custom_fields`) [T-09].
#[tokio::test]
async fn unset_custom_fields_are_left_out_unless_switched_to_empty_strings() {
    let sb = start(SandboxConfig {
        customers: 10,
        ..SandboxConfig::for_tests()
    })
    .await;
    let t = Tte::new(&sb);
    let (st, v, _) = t
        .send(
            Method::POST,
            "/customer/",
            Some(json!({"name": "Ann Lee", "emails": [], "numbers": [], "custom_fields": {"Sync Status": "new"}})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["custom_fields"], json!({"Sync Status": "new"}));
    let uri = v["resource_uri"].as_str().unwrap().to_string();
    let (_, v, _) = t
        .send(
            Method::PATCH,
            &uri,
            Some(json!({"custom_fields": {"Sync Status": "", "External ID": "101"}})),
        )
        .await;
    assert_eq!(v["custom_fields"], json!({"External ID": "101"}));
    let (_, v, _) = t
        .send(
            Method::PATCH,
            &uri,
            Some(json!({"custom_fields": {"External ID": null}})),
        )
        .await;
    assert_eq!(v["custom_fields"], json!({}));
    assert_eq!(t.get(&uri).await.1["custom_fields"], json!({}));
    // a seeded merged customer holds its External ID; plain ones have no custom field at all
    let merged = sb.seed_report().merged[0].clone();
    let (_, v, _) = t.get(&merged).await;
    assert!(
        v["custom_fields"]["External ID"]
            .as_str()
            .unwrap()
            .contains(", ")
    );
    assert!(v["custom_fields"].get("Sync Status").is_none(), "{v}");
    let (_, page, _) = t.get("/customer/?limit=100").await;
    let plain = sb.seed_report().plain_customers[0].clone();
    let listed = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["resource_uri"] == plain.as_str())
        .unwrap();
    assert_eq!(listed["custom_fields"], json!({}));
    // switched over HTTP: every label, "" when unset
    let c = client();
    let r: Value = c
        .put(format!("{}/_sandbox/custom-fields", sb.tte_root_url()))
        .json(&json!({"unset": "empty"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"unset": "empty"}));
    assert_eq!(
        t.get(&uri).await.1["custom_fields"],
        json!({"External ID": "", "Sync Status": ""})
    );
    assert_eq!(
        t.get(&merged).await.1["custom_fields"]["Sync Status"],
        json!("")
    );
    // and back with the handle
    sb.set_tte_unset_custom_fields(UnsetCustomFields::Absent);
    assert_eq!(t.get(&uri).await.1["custom_fields"], json!({}));
    // or from the start
    let sb = start(SandboxConfig {
        tte_unset_custom_fields: UnsetCustomFields::Empty,
        ..SandboxConfig::for_tests()
    })
    .await;
    let (_, v, _) = Tte::new(&sb)
        .send(Method::POST, "/customer/", Some(json!({"name": "Bo"})))
        .await;
    assert_eq!(
        v["custom_fields"],
        json!({"External ID": "", "Sync Status": ""})
    );
}
