//! The reference mapping's declared operations against a loopback server: reads (missing
//! statuses), creates (id from `Location` or the body, duplicates), updates, deletes (forced,
//! refused, already gone), and refusing URLs off the base origin without sending.

use serde_json::json;

use super::*;
use mapsync::mapping::model::ErrorClass;

fn tte_server_handler(r: &Recorded) -> Reply {
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/api/v2/customer/1/") => {
            Reply::json(200, json!({"resource_uri": "u1", "name": "Ann"}))
        }
        ("GET", _) => Reply::json(404, json!({"detail": "Not found."})),
        ("POST", "/api/v2/customer/") => {
            Reply::json(201, json!({"name": "New"})).with("Location", "/api/v2/customer/7/")
        }
        ("PATCH", "/api/v2/customer/1/") => Reply::json(200, r.json()),
        ("DELETE", "/api/v2/customer/1/") => Reply::empty(204),
        ("DELETE", "/api/v2/customer/2/") => {
            Reply::json(409, json!({"detail": "Customer has future bookings"}))
        }
        ("DELETE", _) => Reply::json(404, json!({"detail": "Not found."})),
        _ => Reply::empty(500),
    }
}

#[tokio::test]
async fn absolute_url_ids_read_create_update_delete() {
    let server = TestServer::start(tte_server_handler).await;
    let m = reference(&server.base, &[]);
    let customers = &m.collections["customers"];
    let c = connector(&m.systems["tte"]);
    let uri = |n: u32| format!("{}api/v2/customer/{n}/", server.base);
    let v = Vars::new();

    let got = c.read(customers, &uri(1), &v).await.unwrap();
    assert_eq!(got, Some(json!({"resource_uri": "u1", "name": "Ann"})));
    assert_eq!(c.read(customers, &uri(9), &v).await.unwrap(), None);

    let created = c
        .create(customers, json!({"name": "New"}), &v)
        .await
        .unwrap();
    assert_eq!(
        created,
        CreateOutcome::Created {
            id: uri(7),
            record: Some(json!({"name": "New"}))
        }
    );

    let updated = c
        .update(customers, &uri(1), json!({"name": "Ann B"}), &v)
        .await
        .unwrap();
    assert_eq!(updated, Some(json!({"name": "Ann B"})));

    assert_eq!(
        c.delete(customers, &uri(1), false).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        c.delete(customers, &uri(2), true).await.unwrap(),
        DeleteOutcome::Refused {
            status: 409,
            message: "Customer has future bookings".into()
        }
    );
    assert_eq!(
        c.delete(customers, &uri(3), false).await.unwrap(),
        DeleteOutcome::AlreadyGone
    );

    let log = server.log();
    assert!(
        log.iter()
            .all(|r| r.header("authorization") == Some("token tte-key-123"))
    );
    let deletes: Vec<String> = log
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(deletes, ["force=False", "force=True", "force=False"]);
    let create = log.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(create.json(), json!({"name": "New"}));
    // A missing read and a refused delete are answers, not retried.
    assert_eq!(log.len(), 7);
}

#[tokio::test]
async fn an_id_on_another_host_is_refused_without_a_request() {
    let server = TestServer::start(tte_server_handler).await;
    let m = reference(&server.base, &[]);
    let customers = &m.collections["customers"];
    let c = connector(&m.systems["tte"]);
    let foreign = "http://127.0.0.2:9/api/v2/customer/1/";
    let e = c.read(customers, foreign, &Vars::new()).await.unwrap_err();
    assert!(matches!(e, ConnectorError::ForeignUrl { .. }), "{e}");
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(
        e.to_string()
            .contains("credentials are never sent elsewhere"),
        "{e}"
    );
    let e = c
        .delete(customers, "https://evil.example/x", true)
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::ForeignUrl { .. }), "{e}");
    assert!(server.log().is_empty());
    assert_eq!(c.stats().requests, 0);
}

#[tokio::test]
async fn body_ids_duplicates_and_fields_wrapping() {
    let server = TestServer::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/crm/v3/objects/contacts") => {
            let email = r.json()["properties"]["email"].as_str().unwrap_or("").to_string();
            match email.as_str() {
                "dup@example.com" => Reply::json(
                    409,
                    json!({"status": "error", "message": "Contact already exists. Existing ID: 123", "category": "CONFLICT"}),
                ),
                "bad" => Reply::json(400, json!({"message": "Property values were not valid"})),
                _ => Reply::json(201, json!({"id": "55", "properties": r.json()["properties"]})),
            }
        }
        ("GET", "/crm/v3/objects/contacts/55") => {
            Reply::json(200, json!({"id": "55", "properties": {"email": "a@example.com"}}))
        }
        ("PATCH", "/crm/v3/objects/contacts/55") => Reply::json(200, json!({"id": "55"})),
        _ => Reply::json(404, json!({"message": "not found"})),
    })
    .await;
    let m = reference(&server.base, &[("HUBSPOT_ACCESS_TOKEN", "static-tok")]);
    let contacts = &m.collections["contacts"];
    let c = connector(&m.systems["hubspot"]);
    let v = Vars::new().with("mapped_fields", &json!(["email", "firstname"]));

    let created = c
        .create(contacts, json!({"email": "a@example.com"}), &v)
        .await
        .unwrap();
    assert!(matches!(created, CreateOutcome::Created { ref id, record: Some(_) } if id == "55"));
    let dup = c
        .create(contacts, json!({"email": "dup@example.com"}), &v)
        .await
        .unwrap();
    assert_eq!(dup, CreateOutcome::Exists { id: "123".into() });
    let e = c
        .create(contacts, json!({"email": "bad"}), &v)
        .await
        .unwrap_err();
    assert_eq!((e.class(), e.status()), (ErrorClass::Permanent, Some(400)));
    assert!(
        e.to_string().contains("Property values were not valid"),
        "{e}"
    );

    let got = c.read(contacts, "55", &v).await.unwrap().unwrap();
    assert_eq!(got["id"], "55");
    c.update(contacts, "55", json!({"firstname": "Ann"}), &v)
        .await
        .unwrap();

    let log = server.log();
    assert!(
        log.iter()
            .all(|r| r.header("authorization") == Some("Bearer static-tok"))
    );
    assert_eq!(
        log[0].json(),
        json!({"properties": {"email": "a@example.com"}})
    );
    let read = log.iter().find(|r| r.method == "GET").unwrap();
    assert_eq!(read.param("properties").as_deref(), Some("email,firstname"));
    let patch = log.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.json(), json!({"properties": {"firstname": "Ann"}}));
}

#[tokio::test]
async fn retries_over_the_wire_and_connection_refused() {
    // 503 twice, then 200, counted per server.
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let server = TestServer::start(move |_| {
        if h.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            Reply::json(503, json!({"message": "busy"}))
        } else {
            Reply::json(200, json!({"ok": 1}))
        }
    })
    .await;
    let sys = system(&server.base);
    let c = connector(&sys);
    let req = mapsync::mapping::model::Request {
        method: mapsync::mapping::model::Method::Get,
        path: mapsync::expr::Template::compile("/flaky").unwrap(),
        query: vec![],
        headers: vec![],
        body: None,
    };
    let r = c.send(&req, &Vars::new(), None).await.unwrap();
    assert_eq!((r.status, r.body.clone()), (200, json!({"ok": 1})));
    assert_eq!(server.log().len(), 3);
    assert_eq!(c.stats().retries, 2);

    // Nothing listens on a port just released: a transient connection error after the attempts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let c = connector(&system(&dead));
    let e = c.send(&req, &Vars::new(), None).await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::Transport { attempts: 4, .. }),
        "{e}"
    );
    assert_eq!(e.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn retry_after_on_the_wire_holds_the_next_request() {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let server = TestServer::start(move |_| {
        if h.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::json(429, json!({"message": "too many"})).with("Retry-After", "1")
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await;
    let c = connector(&system(&server.base));
    let req = mapsync::mapping::model::Request {
        method: mapsync::mapping::model::Method::Get,
        path: mapsync::expr::Template::compile("/x").unwrap(),
        query: vec![],
        headers: vec![],
        body: None,
    };
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            let req = req.clone();
            tokio::spawn(async move { c.send(&req, &Vars::new(), None).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let log = server.log();
    let (first, rest) = log.split_first().unwrap();
    // Requests already in flight when the 429 was sent may land before it; every request
    // that left after the 429 arrived waited out its Retry-After.
    let after: Vec<_> = rest
        .iter()
        .filter(|r| r.at > first.at + Duration::from_millis(50))
        .collect();
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .all(|r| r.at >= first.at + Duration::from_secs(1)),
        "{log:?}"
    );
    assert_eq!(c.stats().rate_limited, 1);
}

/// A create is sent once when its outcome is unknown (a 503 after it may have landed), sent
/// again after a 429 (not processed), carries the declared idempotency key, and a 409 without
/// an "already exists" id is a conflict, never retried. A PATCH answered 503 is retried: an
/// update sets values, so sending it again has the same effect.
#[tokio::test]
async fn creates_are_sent_once_after_an_unknown_outcome_and_updates_are_retried() {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let patched = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = hits.clone();
    let server = TestServer::start(move |r| {
        let n = h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match (r.method.as_str(), r.json()["properties"]["email"].as_str()) {
            ("POST", Some("lost@example.com")) => Reply::json(503, json!({"message": "busy"})),
            ("POST", Some("slow@example.com")) if n < 2 => {
                Reply::json(429, json!({"message": "slow down"})).with("retry-after", "0")
            }
            ("POST", Some("taken@example.com")) => {
                Reply::json(409, json!({"message": "the value is taken"}))
            }
            ("POST", _) => Reply::json(201, json!({"id": "77"})),
            ("PATCH", _) if !patched.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                Reply::json(503, json!({"message": "busy"}))
            }
            _ => Reply::json(200, json!({"id": "77"})),
        }
    })
    .await;
    let mut m = reference(&server.base, &[("HUBSPOT_ACCESS_TOKEN", "tok")]);
    let contacts = m.collections.get_mut("contacts").unwrap();
    contacts.create.as_mut().unwrap().idempotency = Some("Idempotency-Key".into());
    let contacts = &m.collections["contacts"];
    let c = connector(&m.systems["hubspot"]);
    let v = Vars::new().with("mapped_fields", &json!(["email"]));
    let create = |email: &'static str| {
        let c = c.clone();
        let v = v.clone();
        async move {
            c.create_keyed(contacts, json!({"email": email}), &v, Some("intent-1"))
                .await
        }
    };

    let e = create("lost@example.com").await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert_eq!((e.status(), e.attempts()), (Some(503), 1));
    assert_eq!(
        server.log().len(),
        1,
        "a create answered 503 is not repeated"
    );

    let made = create("slow@example.com").await.unwrap();
    assert!(matches!(made, CreateOutcome::Created { ref id, .. } if id == "77"));
    let log = server.log();
    assert_eq!(log.len(), 3, "a create answered 429 is sent again");
    assert!(
        log.iter()
            .all(|r| r.header("idempotency-key") == Some("intent-1"))
    );

    let before = server.log().len();
    let e = create("taken@example.com").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Conflict);
    assert!(!e.outcome_unknown());
    assert_eq!(server.log().len(), before + 1, "a conflict is not retried");

    let before = server.log().len();
    c.update(contacts, "77", json!({"email": "x@example.com"}), &v)
        .await
        .unwrap();
    assert_eq!(
        server.log().len(),
        before + 2,
        "a PATCH answered 503 is retried"
    );
}
