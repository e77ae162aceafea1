//! OAuth: authorize redirects at once with code and state; token exchange, refresh, expiry.

use crate::common::*;
use sandbox::SandboxHandle;
use serde_json::Value;

/// Run the whole flow with read and write scopes; returns (access, refresh).
pub async fn obtain_token(sb: &SandboxHandle) -> (String, String) {
    obtain_token_with(
        sb,
        "oauth crm.objects.contacts.read crm.objects.contacts.write",
    )
    .await
}

/// Run the whole flow with these scopes.
pub async fn obtain_token_with(sb: &SandboxHandle, scope: &str) -> (String, String) {
    let c = client();
    let redirect = "http://localhost:8080/oauth/callback";
    let r = c
        .get(
            url::Url::parse_with_params(
                &format!("{}/oauth/authorize", sb.hubspot_base_url()),
                [
                    ("client_id", sb.hubspot_client_id()),
                    ("redirect_uri", redirect),
                    ("scope", scope),
                    ("state", "xyz"),
                ],
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.as_str().starts_with(redirect));
    let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", sb.hubspot_client_id()),
        ("client_secret", sb.hubspot_client_secret()),
        ("redirect_uri", redirect),
        ("code", q["code"].as_str()),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let (st, v, _) = parts(
        c.post(format!("{}/oauth/v1/token", sb.hubspot_base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    for k in [
        "token_type",
        "access_token",
        "refresh_token",
        "expires_in",
        "token_use",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    // a code works once
    let (st, _, _) = parts(
        c.post(format!("{}/oauth/v1/token", sb.hubspot_base_url()))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    (
        v["access_token"].as_str().unwrap().into(),
        v["refresh_token"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn token_expiry_and_refresh() {
    let sb = start_default().await;
    let (access, refresh) = obtain_token(&sb).await;
    let h = Hub::with_token(&sb, &access);
    assert_eq!(h.get("/crm/v3/objects/contacts").await.0, 200);
    sb.expire_oauth_tokens();
    let (st, v, _) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 401);
    assert_eq!(v["status"], "error");
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "refresh_token"),
            ("client_id", sb.hubspot_client_id()),
            ("client_secret", sb.hubspot_client_secret()),
            ("refresh_token", refresh.as_str()),
        ])
        .finish();
    let (st, v, _) = parts(
        client()
            .post(format!("{}/oauth/v1/token", sb.hubspot_base_url()))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    let fresh = v["access_token"].as_str().unwrap();
    assert_ne!(fresh, access);
    assert_eq!(
        Hub::with_token(&sb, fresh)
            .get("/crm/v3/objects/contacts")
            .await
            .0,
        200
    );
    let bad = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "refresh_token"),
            ("client_id", sb.hubspot_client_id()),
            ("client_secret", sb.hubspot_client_secret()),
            ("refresh_token", "nope"),
        ])
        .finish();
    let (st, v, _) = parts(
        client()
            .post(format!("{}/oauth/v1/token", sb.hubspot_base_url()))
            .body(bad)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, &v["status"]), (400, &Value::from("BAD_REFRESH_TOKEN")));
}

#[tokio::test]
async fn missing_scopes_is_403() {
    let sb = start_default().await;
    let (access, _) = obtain_token_with(&sb, "oauth crm.objects.contacts.read").await;
    let h = Hub::with_token(&sb, &access);
    assert_eq!(h.get("/crm/v3/objects/contacts").await.0, 200);
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts",
            serde_json::json!({"properties": {}}),
        )
        .await;
    assert_eq!(st, 403);
    assert_hs_error(&v, "MISSING_SCOPES");
    let (st, _, _) = h
        .post(
            "/crm/v3/properties/contacts/groups",
            serde_json::json!({"name": "g", "label": "G"}),
        )
        .await;
    assert_eq!(st, 403);
}

/// `cargo run -p sandbox` prints every variable a person needs: the webhook token, the writer
/// id and the OAuth app URL, so the reference mapping's install sends the browser to this
/// sandbox's consent page (which redirects back at once), not to the real HubSpot.
#[tokio::test]
async fn the_operator_env_has_the_webhook_token_writer_id_and_app_url() {
    let sb = start_default().await;
    let env: std::collections::BTreeMap<_, _> = sb.operator_env().into_iter().collect();
    for (k, v) in sb.env_vars() {
        assert_eq!(env.get(&k), Some(&v), "{k}");
    }
    assert!(env["TTE_WEBHOOK_TOKEN"].len() >= 24, "a long random token");
    assert_eq!(
        env["HUBSPOT_WRITER_ID"],
        sb.hubspot_private_app_id().to_string()
    );
    let app = &env["HUBSPOT_APP_URL"];
    assert_eq!(app, &sb.hubspot_base_url());
    let r = client()
        .get(format!(
            "{app}/oauth/authorize?client_id={}&redirect_uri=http://localhost:1/cb&scope=oauth&state=s",
            sb.hubspot_client_id()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
}

/// Token metadata (§2.12): `GET /oauth/v1/refresh-tokens/{token}` answers the refresh token's
/// metadata (it answered 405), and both kinds name the installing user with `user_id`.
#[tokio::test]
async fn token_metadata_of_both_kinds_names_the_installing_user() {
    let sb = start_default().await;
    let (access, refresh) = obtain_token(&sb).await;
    let c = client();
    let get = |p: String| {
        let c = &c;
        async move { parts(c.get(p).send().await.unwrap()).await }
    };
    let base = sb.hubspot_base_url();
    let (st, v, _) = get(format!("{base}/oauth/v1/refresh-tokens/{refresh}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["token"], refresh.as_str());
    assert_eq!(v["client_id"], sb.hubspot_client_id());
    assert_eq!(v["hub_id"], sb.hubspot_portal_id());
    assert_eq!(v["token_type"], "refresh");
    assert!(v["user_id"].is_u64(), "{v}");
    assert!(v["user"].as_str().unwrap().contains('@'), "{v}");
    assert!(v["hub_domain"].is_string(), "{v}");
    let scopes: Vec<&str> = v["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"crm.objects.contacts.write"), "{v}");
    let user_id = v["user_id"].clone();
    let (st, v, _) = get(format!("{base}/oauth/v1/access-tokens/{access}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["user_id"], user_id);
    assert_eq!(v["app_id"], sb.hubspot_app_id());
    assert_eq!(v["token_type"], "access");
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    // unknown and revoked refresh tokens are 404
    let (st, _, _) = get(format!("{base}/oauth/v1/refresh-tokens/nope")).await;
    assert_eq!(st, 404);
    let r = c
        .delete(format!("{base}/oauth/v1/refresh-tokens/{refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (st, _, _) = get(format!("{base}/oauth/v1/refresh-tokens/{refresh}")).await;
    assert_eq!(st, 404);
}
