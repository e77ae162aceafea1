//! OAuth 2 against a loopback token endpoint: a 401 refreshes once however many callers see
//! it, an expiring token is refreshed before use, a failed refresh is an `Auth` error saying
//! what to do, and the install flow's code exchange saves its tokens.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;
use mapsync::mapping::model::{ErrorClass, Secret};

fn tokens(access: &str, expires_in_s: i64) -> OAuthTokens {
    OAuthTokens {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new("refresh-1")),
        expires_at: Some(
            jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(expires_in_s))
                .unwrap(),
        ),
        account: None,
    }
}

/// A token endpoint handing out `fresh-N`, and an API accepting only the latest token.
async fn oauth_server(token_status: u16) -> (TestServer, Arc<AtomicUsize>) {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let r2 = refreshes.clone();
    let server = TestServer::start(move |r| {
        if r.path == "/oauth/v1/token" {
            if token_status != 200 {
                return Reply::json(token_status, json!({"error": "invalid_grant", "error_description": "refresh token is revoked"}));
            }
            let n = r2.fetch_add(1, Ordering::SeqCst) + 1;
            let form: Vec<(String, String)> = pairs(&r.body);
            assert!(form.contains(&("client_secret".into(), "client-secret-xyz".into())));
            let grant = form.iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v.clone());
            let body = if grant.as_deref() == Some("authorization_code") {
                assert!(form.contains(&("code".into(), "the-code".into())));
                json!({"access_token": format!("fresh-{n}"), "refresh_token": "refresh-2", "expires_in": 1800, "hub_id": 62515})
            } else {
                assert!(form.contains(&("refresh_token".into(), "refresh-1".into())));
                json!({"access_token": format!("fresh-{n}"), "expires_in": 1800})
            };
            return Reply::json(200, body);
        }
        let current = format!("Bearer fresh-{}", r2.load(Ordering::SeqCst));
        if r.header("authorization") == Some(current.as_str()) {
            Reply::json(200, json!({"id": "55", "properties": {}}))
        } else {
            Reply::json(401, json!({"message": "expired token"}))
        }
    })
    .await;
    (server, refreshes)
}

#[tokio::test]
async fn a_401_refreshes_once_under_concurrency() {
    let (server, refreshes) = oauth_server(200).await;
    let m = reference(&server.base, &[]);
    let store = Arc::new(MemoryTokens::with("hubspot", tokens("stale", 3600)));
    mapsync::init_crypto();
    let c = Connector::builder(&m.systems["hubspot"])
        .token_provider(store.clone())
        .build()
        .unwrap();
    let contacts = m.collections["contacts"].clone();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            let contacts = contacts.clone();
            tokio::spawn(async move {
                let vars = Vars::new().with("mapped_fields", &json!(["email"]));
                c.read(&contacts, "55", &vars).await
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().unwrap().is_some());
    }
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(c.stats().token_refreshes, 1);
    let saved = store.load("hubspot").unwrap().unwrap();
    assert_eq!(saved.access_token.expose(), "fresh-1");
    // The refresh token is kept when the endpoint does not send a new one.
    assert_eq!(saved.refresh_token.unwrap().expose(), "refresh-1");
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_before_use() {
    let (server, refreshes) = oauth_server(200).await;
    let m = reference(&server.base, &[]);
    // Expires in 30 s, within the default refresh_before of 60 s.
    let store = Arc::new(MemoryTokens::with("hubspot", tokens("fresh-0", 30)));
    mapsync::init_crypto();
    let c = Connector::builder(&m.systems["hubspot"])
        .token_provider(store)
        .build()
        .unwrap();
    let vars = Vars::new().with("mapped_fields", &json!(["email"]));
    c.read(&m.collections["contacts"], "55", &vars)
        .await
        .unwrap();
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    let statuses: Vec<_> = server.log().iter().map(|r| r.path.clone()).collect();
    assert_eq!(statuses, ["/oauth/v1/token", "/crm/v3/objects/contacts/55"]);
}

#[tokio::test]
async fn a_failed_refresh_or_no_token_is_an_auth_error_saying_what_to_do() {
    let (server, _) = oauth_server(400).await;
    let m = reference(&server.base, &[]);
    mapsync::init_crypto();
    let vars = Vars::new().with("mapped_fields", &json!(["email"]));
    let store = Arc::new(MemoryTokens::with("hubspot", tokens("stale", 3600)));
    let c = Connector::builder(&m.systems["hubspot"])
        .token_provider(store)
        .build()
        .unwrap();
    let e = c
        .read(&m.collections["contacts"], "55", &vars)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth);
    let text = e.to_string();
    assert!(
        text.contains("refresh token is revoked") && text.contains("reinstall"),
        "{text}"
    );
    assert!(!text.contains("client-secret-xyz"), "{text}");

    let c = Connector::builder(&m.systems["hubspot"])
        .token_provider(Arc::new(MemoryTokens::default()))
        .build()
        .unwrap();
    let e = c
        .read(&m.collections["contacts"], "55", &vars)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth);
    assert!(e.to_string().contains("no OAuth token is installed"), "{e}");
}

#[tokio::test]
async fn the_install_flow_exchanges_a_code_and_uses_its_tokens() {
    let (server, _) = oauth_server(200).await;
    let m = reference(&server.base, &[]);
    let store = Arc::new(MemoryTokens::default());
    mapsync::init_crypto();
    let c = Connector::builder(&m.systems["hubspot"])
        .token_provider(store.clone())
        .build()
        .unwrap();
    let consent = c
        .authorize_url("https://me.example/oauth/hubspot/callback", "st4te")
        .unwrap();
    let q: Vec<(String, String)> = consent.query_pairs().into_owned().collect();
    assert!(q.contains(&("client_id".into(), "client-id".into())));
    assert!(q.contains(&("state".into(), "st4te".into())));
    let t = c
        .exchange_code(
            "the-code",
            "https://me.example/oauth/hubspot/callback",
            false,
        )
        .await
        .unwrap();
    assert_eq!(t.access_token.expose(), "fresh-1");
    assert_eq!(
        store
            .load("hubspot")
            .unwrap()
            .unwrap()
            .refresh_token
            .unwrap()
            .expose(),
        "refresh-2"
    );
    let vars = Vars::new().with("mapped_fields", &json!(["email"]));
    assert!(
        c.read(&m.collections["contacts"], "55", &vars)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_install_into_another_account_than_the_pinned_one_is_refused() {
    let (server, _) = oauth_server(200).await;
    let m = reference(&server.base, &[]);
    let pinned = OAuthTokens {
        account: Some("111".into()),
        ..tokens("stale", 3600)
    };
    let store = Arc::new(MemoryTokens::with("hubspot", pinned));
    mapsync::init_crypto();
    let c = Connector::builder(&m.systems["hubspot"])
        .token_provider(store.clone())
        .build()
        .unwrap();
    let redirect = "https://me.example/oauth/hubspot/callback";
    let e = c
        .exchange_code("the-code", redirect, false)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth);
    assert!(e.to_string().contains("pinned to account 111"), "{e}");
    assert!(e.to_string().contains("--replace-account"), "{e}");
    let kept = store.load("hubspot").unwrap().unwrap();
    assert_eq!(kept.access_token.expose(), "stale", "nothing was saved");
    assert_eq!(kept.account.as_deref(), Some("111"));
    // The operator says so: the install moves the pin.
    let t = c.exchange_code("the-code", redirect, true).await.unwrap();
    assert_eq!(t.account.as_deref(), Some("62515"));
    let saved = store.load("hubspot").unwrap().unwrap();
    assert_eq!(saved.account.as_deref(), Some("62515"));
    assert_eq!(saved.access_token.expose(), t.access_token.expose());
}
