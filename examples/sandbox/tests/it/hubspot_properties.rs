//! HubSpot properties and groups: create 201, 409 on a taken name, validation, archive.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn properties_and_groups() {
    let sb = start_default().await;
    let h = Hub::new(&sb);
    assert!(
        !sb.property_names()
            .contains(&"tte_customer_uri".to_string()),
        "custom properties not precreated"
    );
    let g = json!({"name": "tte_sync", "label": "10to8 Sync", "displayOrder": -1});
    assert_eq!(
        h.post("/crm/v3/properties/contacts/groups", g.clone())
            .await
            .0,
        201
    );
    let (st, v, _) = h.post("/crm/v3/properties/contacts/groups", g).await;
    assert_eq!(st, 409);
    assert_hs_error(&v, "CONFLICT");
    let p = json!({"name": "tte_customer_uri", "label": "10to8 URI", "type": "string", "fieldType": "text", "groupName": "tte_sync", "hasUniqueValue": true});
    let (st, v, _) = h.post("/crm/v3/properties/contacts", p.clone()).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["hasUniqueValue"], true);
    let (st, v, _) = h.post("/crm/v3/properties/contacts", p).await;
    assert_eq!(st, 409);
    assert_hs_error(&v, "CONFLICT");
    // name rule [H-11] and type/fieldType pairs
    for bad in [
        json!({"name": "Bad-Name", "label": "x", "type": "string", "fieldType": "text", "groupName": "tte_sync"}),
        json!({"name": "ok_name", "label": "x", "type": "number", "fieldType": "text", "groupName": "tte_sync"}),
        json!({"name": "ok_name", "label": "x", "type": "string", "fieldType": "text"}),
    ] {
        let (st, v, _) = h.post("/crm/v3/properties/contacts", bad).await;
        assert_eq!(st, 400, "{v}");
        assert_hs_error(&v, "VALIDATION_ERROR");
    }
    let (st, v, _) = h.get("/crm/v3/properties/contacts/tte_customer_uri").await;
    assert_eq!((st, &v["groupName"]), (200, &json!("tte_sync")));
    let (st, v, _) = h
        .send(
            Method::PATCH,
            "/crm/v3/properties/contacts/tte_customer_uri",
            json!({"label": "URI"}),
        )
        .await;
    assert_eq!((st, &v["label"]), (200, &json!("URI")));
    // a contact can now carry it
    let (st, _, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"tte_customer_uri": "http://x/customer/1/"}}),
        )
        .await;
    assert_eq!(st, 201);
    let (_, v, _) = h.get("/crm/v3/properties/contacts").await;
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "email")
    );
    assert_eq!(
        h.send(
            Method::DELETE,
            "/crm/v3/properties/contacts/tte_customer_uri",
            Value::Null
        )
        .await
        .0,
        204
    );
    assert_eq!(
        h.get("/crm/v3/properties/contacts/tte_customer_uri")
            .await
            .0,
        404
    );
    assert_eq!(
        h.send(
            Method::DELETE,
            "/crm/v3/properties/contacts/groups/tte_sync",
            Value::Null
        )
        .await
        .0,
        204
    );
}

/// The object type in a path may be `Contacts` (the 2021 demo's `setup.py` created its
/// properties under `/crm/v3/properties/Contacts` and re-raised on failure, so real HubSpot
/// accepted it) or the id `0-1`, on the properties and the objects API alike; other object
/// types stay unknown (404).
#[tokio::test]
async fn the_object_type_contacts_is_accepted_capitalised_and_as_its_id() {
    let sb = start_default().await;
    let h = Hub::new(&sb);
    let g = json!({"name": "demo_sync", "label": "Demo Sync"});
    let (st, v, _) = h.post("/crm/v3/properties/Contacts/groups", g).await;
    assert_eq!(st, 201, "{v}");
    let p = json!({"name": "demo_customer_uri", "label": "Demo URI", "type": "string", "fieldType": "text", "groupName": "demo_sync"});
    let (st, v, _) = h.post("/crm/v3/properties/Contacts", p).await;
    assert_eq!(st, 201, "{v}");
    assert!(
        sb.property_names()
            .contains(&"demo_customer_uri".to_string())
    );
    for path in [
        "/crm/v3/properties/Contacts/demo_customer_uri",
        "/crm/v3/properties/CONTACTS/demo_customer_uri?archived=false",
        "/crm/v3/properties/0-1/demo_customer_uri",
        "/crm/v3/properties/contacts/groups/demo_sync",
    ] {
        let (st, v, _) = h.get(path).await;
        assert_eq!(st, 200, "{path}: {v}");
        assert!(
            v["name"].as_str().unwrap().starts_with("demo_"),
            "{path}: {v}"
        );
    }
    let (st, v, _) = h.get("/crm/v3/properties/Contacts").await;
    assert_eq!(st, 200, "{v}");
    assert!(v["results"].as_array().unwrap().len() > 5);
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/Contacts",
            json!({"properties": {"email": "cap@x.com"}}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (st, v, _) = h.get(&format!("/crm/v3/objects/0-1/{id}")).await;
    assert_eq!((st, &v["properties"]["email"]), (200, &json!("cap@x.com")));
    assert_eq!(
        sb.count(sandbox::System::Hubspot, "contacts.create").total,
        1,
        "counted under the canonical route"
    );
    for path in [
        "/crm/v3/properties/companies",
        "/crm/v3/properties/contactz",
        "/crm/v3/objects/0-2",
    ] {
        assert_eq!(h.get(path).await.0, 404, "{path}");
    }
}
