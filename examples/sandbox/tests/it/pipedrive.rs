//! Contract tests of the Pipedrive v1 stand-in: auth, offset paging, wrapped bodies, the
//! `{value, primary, label}` lists, custom fields by hash key, deletes, and webhook deliveries
//! with basic auth and retries.

use crate::common::{Answer, Receiver, client, parts, start, wait_until};
use base64::Engine as _;
use reqwest::Method;
use sandbox::{SandboxConfig, SandboxHandle, System};
use serde_json::{Value, json};

struct Pd {
    c: reqwest::Client,
    base: String,
    token: String,
}

impl Pd {
    fn new(sb: &SandboxHandle) -> Pd {
        Pd {
            c: client(),
            base: sb.pipedrive_base_url(),
            token: sb.pipedrive_api_token().to_string(),
        }
    }
    fn url(&self, p: &str) -> String {
        let sep = if p.contains('?') { '&' } else { '?' };
        format!("{}{p}{sep}api_token={}", self.base, self.token)
    }
    async fn send(&self, m: Method, p: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.c.request(m, self.url(p));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let (st, v, _) = parts(r.send().await.expect("request")).await;
        (st, v)
    }
    async fn get(&self, p: &str) -> (u16, Value) {
        self.send(Method::GET, p, None).await
    }
}

async fn sandbox(persons: usize) -> SandboxHandle {
    start(SandboxConfig {
        persons,
        ..SandboxConfig::for_tests()
    })
    .await
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401() {
    let sb = sandbox(2).await;
    let c = client();
    for url in [
        format!("{}/persons", sb.pipedrive_base_url()),
        format!("{}/persons?api_token=nope", sb.pipedrive_base_url()),
    ] {
        let (st, v, _) = parts(c.get(url).send().await.unwrap()).await;
        assert_eq!(st, 401);
        assert_eq!(
            v,
            json!({"success": false, "error": "unauthorized access", "errorCode": 401,
                   "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
                   "data": null, "additional_data": null})
        );
    }
    assert_eq!(sb.count(System::Pipedrive, "persons.list").total, 2);
    assert_eq!(sb.count(System::Pipedrive, "persons.list").ok, 0);
}

#[tokio::test]
async fn offset_paging_walks_every_active_person_once() {
    let sb = sandbox(12).await; // 2 of them deleted (cases 5, 11)
    let pd = Pd::new(&sb);
    let mut start = 0;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let (st, v) = pd.get(&format!("/persons?start={start}&limit=4")).await;
        assert_eq!(st, 200);
        assert_eq!(v["success"], true);
        pages += 1;
        let p = &v["additional_data"]["pagination"];
        assert_eq!(p["start"], start);
        assert_eq!(p["limit"], 4);
        for r in v["data"].as_array().expect("data array") {
            ids.push(r["id"].as_u64().unwrap());
            assert_eq!(r["active_flag"], true);
        }
        if p["more_items_in_collection"] == true {
            start = p["next_start"].as_u64().unwrap();
        } else {
            assert!(p.get("next_start").is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 10);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "id order, no repeats");
    // past the end: data is null
    let (_, v) = pd.get("/persons?start=100").await;
    assert_eq!(v["data"], Value::Null);
    assert_eq!(
        v["additional_data"]["pagination"]["more_items_in_collection"],
        false
    );
    let (st, _) = pd.get("/persons?start=abc").await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn seeded_cases_have_pipedrive_shapes() {
    let sb = sandbox(6).await;
    let rep = sb.seed_report();
    assert_eq!(rep.persons.len(), 6);
    let pd = Pd::new(&sb);
    let (_, v) = pd
        .get(&format!("/persons/{}", rep.persons_several_emails[0]))
        .await;
    let emails = v["data"]["email"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[1]["primary"], true);
    assert_eq!(emails[0]["primary"], false);
    assert_eq!(emails[0]["label"], "other");
    let (_, v) = pd
        .get(&format!("/persons/{}", rep.persons_no_email[0]))
        .await;
    assert_eq!(v["data"]["email"], json!([{"value": "", "primary": true}]));
    assert_eq!(v["data"]["phone"], json!([{"value": "", "primary": true}]));
    let status = sb.pipedrive_field_key("10to8 Sync Status").unwrap();
    assert!(v["data"].as_object().unwrap().contains_key(&status));
    let (st, v) = pd
        .get(&format!("/persons/{}", rep.persons_deleted[0]))
        .await;
    assert_eq!((st, v["errorCode"].clone()), (404, json!(404)));
    let (_, f) = pd.get("/personFields").await;
    let keys: Vec<&str> = f["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"email") && keys.contains(&status.as_str()));
    let env: std::collections::BTreeMap<_, _> = sb.env_vars().into_iter().collect();
    assert_eq!(env["PIPEDRIVE_FIELD_SYNC_STATUS"], status);
    assert_eq!(env["PIPEDRIVE_BASE_URL"], sb.pipedrive_base_url());
}

#[tokio::test]
async fn create_update_delete_round_trip() {
    let sb = sandbox(0).await;
    let pd = Pd::new(&sb);
    let link = sb.pipedrive_field_key("10to8 Customer URI").unwrap();
    let (st, v) = pd
        .send(
            Method::POST,
            "/persons",
            Some(
                json!({"name": " Mary Ann Smith ", "email": ["m@x.io", "m2@x.io"],
                        "phone": [{"value": "123", "primary": "true", "label": "mobile"}],
                        link.clone(): "http://t/1", "unknown_key": 1}),
            ),
        )
        .await;
    assert_eq!(st, 201);
    let p = &v["data"];
    assert_eq!(p["name"], "Mary Ann Smith");
    assert_eq!(p["first_name"], "Mary");
    assert_eq!(
        p["email"],
        json!([{"label": "work", "value": "m@x.io", "primary": true},
               {"label": "work", "value": "m2@x.io", "primary": false}])
    );
    assert_eq!(
        p["phone"],
        json!([{"label": "mobile", "value": "123", "primary": true}])
    );
    assert_eq!(p[&link], "http://t/1");
    assert!(p.get("unknown_key").is_none());
    let id = p["id"].as_u64().unwrap();
    // PUT changes only what is sent
    let (st, v) = pd
        .send(
            Method::PUT,
            &format!("/persons/{id}"),
            Some(json!({"phone": []})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["data"]["name"], "Mary Ann Smith");
    assert_eq!(v["data"]["phone"], json!([{"value": "", "primary": true}]));
    // invalid email and missing name are 400
    let (st, v) = pd
        .send(
            Method::PUT,
            &format!("/persons/{id}"),
            Some(json!({"email": ["not an email"]})),
        )
        .await;
    assert_eq!((st, v["success"].clone()), (400, json!(false)));
    let (st, _) = pd
        .send(Method::POST, "/persons", Some(json!({"email": "a@b.io"})))
        .await;
    assert_eq!(st, 400);
    // delete, then 404 everywhere
    let (st, v) = pd
        .send(Method::DELETE, &format!("/persons/{id}"), None)
        .await;
    assert_eq!((st, v["data"]["id"].clone()), (200, json!(id)));
    assert_eq!(pd.get(&format!("/persons/{id}")).await.0, 404);
    assert_eq!(
        pd.send(Method::DELETE, &format!("/persons/{id}"), None)
            .await
            .0,
        404
    );
    assert_eq!(pd.get("/persons").await.1["data"], Value::Null);
    assert_eq!(sb.person(&id.to_string()).unwrap()["active_flag"], false);
}

#[tokio::test]
async fn webhooks_deliver_with_basic_auth_and_retry() {
    let sb = sandbox(0).await;
    let pd = Pd::new(&sb);
    let rx = Receiver::start("/hook").await;
    rx.script([Answer::Status(500)]);
    let (st, v) = pd
        .send(
            Method::POST,
            "/webhooks",
            Some(
                json!({"subscription_url": rx.url, "event_action": "*", "event_object": "person",
                        "http_auth_user": "u", "http_auth_password": "p w"}),
            ),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(v["data"]["http_auth_password"], "******");
    let (st, _) = pd
        .send(
            Method::POST,
            "/webhooks",
            Some(
                json!({"subscription_url": "nope", "event_action": "*", "event_object": "person"}),
            ),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(
        pd.get("/webhooks").await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let created = sb.ui_create_person(json!({"name": "Ann"})).unwrap();
    let id = created["id"].as_u64().unwrap();
    // the first attempt gets 500, the retry 200
    wait_until(5, "two attempts", || rx.count() >= 2).await;
    let hits = rx.hits();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("u:p w")
    );
    for h in &hits {
        assert_eq!(h.headers["authorization"], expected.as_str());
    }
    let (b0, b1) = (hits[0].json(), hits[1].json());
    assert_eq!(b0["meta"]["action"], "added");
    assert_eq!(b0["meta"]["object"], "person");
    assert_eq!(b0["meta"]["id"], id);
    assert_eq!(b0["meta"]["change_source"], "app");
    assert_eq!(b0["current"]["name"], "Ann");
    assert_eq!(b0["previous"], Value::Null);
    assert_eq!(
        (b0["retry"].clone(), b1["retry"].clone()),
        (json!(0), json!(1))
    );

    // API writes are announced too, with previous and current
    pd.send(
        Method::PUT,
        &format!("/persons/{id}"),
        Some(json!({"name": "Anna"})),
    )
    .await;
    wait_until(5, "update delivery", || rx.count() >= 3).await;
    let u = rx.hits()[2].json();
    assert_eq!(u["meta"]["action"], "updated");
    assert_eq!(u["meta"]["change_source"], "api");
    assert_eq!(
        (u["previous"]["name"].clone(), u["current"]["name"].clone()),
        (json!("Ann"), json!("Anna"))
    );
    // an update that changes nothing is not announced; a delete is
    pd.send(
        Method::PUT,
        &format!("/persons/{id}"),
        Some(json!({"name": "Anna"})),
    )
    .await;
    sb.ui_delete_person(&id.to_string()).unwrap();
    wait_until(5, "delete delivery", || rx.count() >= 4).await;
    let d = rx.hits()[3].json();
    assert_eq!(d["meta"]["action"], "deleted");
    assert_eq!(d["current"], Value::Null);
    assert_eq!(d["previous"]["name"], "Anna");
    // the receiver saw the delete before the sandbox logged its answer: wait for the log
    let succeeded = || {
        sb.deliveries(System::Pipedrive)
            .iter()
            .filter(|d| d.succeeded())
            .count()
    };
    wait_until(5, "three successful deliveries logged", || succeeded() >= 3).await;
    assert_eq!(succeeded(), 3);
}
