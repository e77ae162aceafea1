//! HubSpot contacts, single-object endpoints: auth, paging over ≥ 3 pages, properties, archived,
//! create/PATCH/archive, and every error body.

use crate::common::*;
use reqwest::Method;
use sandbox::{SandboxConfig, System};
use serde_json::{Value, json};

#[tokio::test]
async fn bad_token_is_401_general_shape() {
    let sb = start_default().await;
    let h = Hub::with_token(&sb, "nope");
    let (st, v, _) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 401);
    assert_hs_error(&v, "INVALID_AUTHENTICATION");
}

#[tokio::test]
async fn list_pages_with_after_cursor() {
    let sb = start(SandboxConfig {
        contacts: 25,
        ..SandboxConfig::for_tests()
    })
    .await;
    let h = Hub::new(&sb);
    let report = sb.seed_report();
    let mut after: Option<String> = None;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let q = after
            .as_ref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let (st, v, _) = h
            .get(&format!(
                "/crm/v3/objects/contacts?limit=7&properties=email&properties=phone,lastname{q}"
            ))
            .await;
        assert_eq!(st, 200, "{v}");
        for c in v["results"].as_array().unwrap() {
            assert!(
                c["id"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .all(|ch| ch.is_ascii_digit())
            );
            let p = &c["properties"];
            assert_eq!(p["hs_object_id"], c["id"]);
            for k in [
                "email",
                "phone",
                "lastname",
                "createdate",
                "lastmodifieddate",
            ] {
                assert!(p.get(k).is_some(), "{k} present (maybe null)");
            }
            assert!(p.get("firstname").is_none(), "not requested");
            assert_eq!(c["archived"], false);
            assert!(c["createdAt"].as_str().unwrap().ends_with('Z'));
            ids.push(c["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        match v["paging"]["next"]["after"].as_str() {
            Some(a) => {
                assert_ne!(Some(a.to_string()), after, "cursor changes");
                after = Some(a.to_string());
            }
            None => break,
        }
    }
    assert!(pages >= 3);
    assert_eq!(ids.len(), report.live_contacts());
    // archived=True returns only archived ones
    let (_, v, _) = h
        .get("/crm/v3/objects/contacts?archived=True&limit=100")
        .await;
    let archived: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(archived, report.archived);
    // [H-03]
    let (st, v, _) = h.get("/crm/v3/objects/contacts?limit=101").await;
    assert_eq!(st, 400);
    assert_hs_error(&v, "VALIDATION_ERROR");
    // unset requested property is null [H-02]
    let no_email = &report.no_email[0];
    let (_, v, _) = h
        .get(&format!(
            "/crm/v3/objects/contacts/{no_email}?properties=email"
        ))
        .await;
    assert_eq!(v["properties"]["email"], Value::Null);
}

#[tokio::test]
async fn create_read_update_archive() {
    let sb = start_default().await;
    let h = Hub::new(&sb);
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": " a@x.com ", "firstname": "Mary"}, "associations": []}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["properties"]["email"], "a@x.com", "trimmed [H-07]");
    // read by email
    let (st, v, _) = h
        .get("/crm/v3/objects/contacts/a%40x.com?idProperty=email&properties=firstname")
        .await;
    assert_eq!((st, v["id"].as_str()), (200, Some(id.as_str())));
    assert_eq!(v["properties"]["firstname"], "Mary");
    // "" clears; null is ignored
    let (st, v, _) = h
        .send(
            Method::PATCH,
            &format!("/crm/v3/objects/contacts/{id}"),
            json!({"properties": {"firstname": "", "lastname": null}}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["properties"]["firstname"], Value::Null);
    // archive: 204, idempotent [H-05]; readable with archived=true
    for _ in 0..2 {
        let (st, _, _) = h
            .send(
                Method::DELETE,
                &format!("/crm/v3/objects/contacts/{id}"),
                Value::Null,
            )
            .await;
        assert_eq!(st, 204);
    }
    let (st, v, _) = h.get(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(st, 404);
    assert_eq!(v["message"], "resource not found");
    assert_hs_error(&v, "OBJECT_NOT_FOUND");
    let (st, v, _) = h
        .get(&format!("/crm/v3/objects/contacts/{id}?archived=true"))
        .await;
    assert_eq!((st, &v["archived"]), (200, &json!(true)));
    assert!(v["archivedAt"].is_string());
    assert_eq!(sb.count(System::Hubspot, "contacts.create").ok, 1);
    assert_eq!(sb.count(System::Hubspot, "contacts.archive").total, 2);
}

#[tokio::test]
async fn error_bodies_match_the_documented_ones() {
    let sb = start_default().await;
    let h = Hub::new(&sb);
    // invalid email: 400 VALIDATION_ERROR, INVALID_EMAIL array serialised in message
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "example.lcom "}}),
        )
        .await;
    assert_eq!(st, 400);
    assert_hs_error(&v, "VALIDATION_ERROR");
    let msg = v["message"].as_str().unwrap();
    let arr: Value = serde_json::from_str(
        msg.strip_prefix("Property values were not valid: ")
            .expect("prefix"),
    )
    .unwrap();
    assert_eq!(
        arr,
        json!([{"isValid": false, "message": "Email address example.lcom is invalid", "error": "INVALID_EMAIL", "name": "email"}])
    );
    // unknown property: same form, PROPERTY_DOESNT_EXIST
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"tte_customer_uri": "x"}}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains(r#""error":"PROPERTY_DOESNT_EXIST","name":"tte_customer_uri""#),
        "{v}"
    );
    // duplicate email on create and on update [H-04]
    let (_, a, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "dup@x.com"}}),
        )
        .await;
    let (_, b, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "other@x.com"}}),
        )
        .await;
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "DUP@x.com"}}),
        )
        .await;
    assert_eq!(st, 409);
    assert_hs_error(&v, "CONFLICT");
    assert_eq!(
        v["message"],
        format!(
            "Contact already exists. Existing ID: {}",
            a["id"].as_str().unwrap()
        )
    );
    let (st, v, _) = h
        .send(
            Method::PATCH,
            &format!("/crm/v3/objects/contacts/{}", b["id"].as_str().unwrap()),
            json!({"properties": {"email": "dup@x.com"}}),
        )
        .await;
    assert_eq!(st, 409);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .ends_with(a["id"].as_str().unwrap())
    );
    // 404 on PATCH of an unknown id
    let (st, v, _) = h
        .send(
            Method::PATCH,
            "/crm/v3/objects/contacts/999999",
            json!({"properties": {}}),
        )
        .await;
    assert_eq!(st, 404);
    assert_hs_error(&v, "OBJECT_NOT_FOUND");
    // invalid JSON never panics
    let r = parts(
        h.c.post(format!("{}/crm/v3/objects/contacts", h.base))
            .bearer_auth(&h.token)
            .body("{nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.0, 400);
    assert_hs_error(&r.1, "VALIDATION_ERROR");
}

/// `paging.next.link` repeats the request's query with the next cursor, so a client that follows
/// it keeps `archived` and `properties` (it listed live contacts with default properties before).
#[tokio::test]
async fn the_next_link_keeps_archived_and_properties() {
    let sb = start(SandboxConfig {
        contacts: 30,
        ..SandboxConfig::for_tests()
    })
    .await;
    let h = Hub::new(&sb);
    let report = sb.seed_report();
    assert!(report.archived.len() >= 2, "the seed archives a few");
    let walk = |first: String| {
        let h = &h;
        async move {
            let mut ids = Vec::new();
            let mut next = Some(first);
            while let Some(p) = next.take() {
                let (st, v, _) = h.get(&p).await;
                assert_eq!(st, 200, "{p}: {v}");
                for c in v["results"].as_array().unwrap() {
                    let props = c["properties"].as_object().unwrap();
                    assert!(props.contains_key("email"), "{p}: {c}");
                    assert!(!props.contains_key("firstname"), "{p}: not requested: {c}");
                    ids.push((c["id"].as_str().unwrap().to_string(), c["archived"].clone()));
                }
                next = v["paging"]["next"]["link"].as_str().map(|link| {
                    link.strip_prefix(&h.base)
                        .expect("the link is on this server")
                        .to_string()
                });
            }
            ids
        }
    };
    let archived =
        walk("/crm/v3/objects/contacts?limit=1&archived=true&properties=email".into()).await;
    assert_eq!(
        archived
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>(),
        report.archived
    );
    assert!(archived.iter().all(|(_, a)| a == &Value::Bool(true)));
    let live =
        walk("/crm/v3/objects/contacts?limit=4&properties=email&properties=phone".into()).await;
    assert_eq!(live.len(), report.live_contacts());
    assert!(live.iter().all(|(_, a)| a == &Value::Bool(false)));
}
