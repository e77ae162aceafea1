//! Finding 6: `oauth2` sends its token with the scheme the API wants
//! (`Authorization: Zoho-oauthtoken …`), not always `Bearer`; a scheme that cannot be a header
//! token is refused by `validate`.

use super::{Dir, Fake, mapping, nonzero};

fn with_oauth(scheme: &str) -> String {
    let oauth = format!(
        "auth:\n      oauth2:\n        authorize_url: https://accounts.example.com/oauth/v2/auth\n        token_url: /oauth/v2/token\n        client_id: client\n        client_secret: secret\n        static_token: tok-123\n{scheme}"
    );
    let out = mapping(false).replace(
        r#"auth: { header: { name: Authorization, value: "Zoho-oauthtoken ${CRM_TOKEN:-t}" } }"#,
        &oauth,
    );
    assert!(out.contains("oauth2"), "the mapping's auth moved");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_oauth_token_goes_with_the_declared_scheme() {
    for (scheme, expected) in [
        (
            "        scheme: Zoho-oauthtoken\n",
            "Zoho-oauthtoken tok-123",
        ),
        ("", "Bearer tok-123"),
    ] {
        let fake = Fake::start(&[("p1", "Ada", "ada@example.com")]).await;
        let dir = Dir::new(&with_oauth(scheme));
        let (code, counts, out) = dir.sync(&fake, "outbound").await;
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(nonzero(&counts), ["created=1", "seen=1"], "{out}");
        let auth = fake.data.lock().unwrap().crm_auth.clone();
        assert!(!auth.is_empty());
        assert!(auth.iter().all(|a| a == expected), "{auth:?}");
    }
}

#[test]
fn a_scheme_with_a_space_is_refused() {
    let dir = Dir::new(&with_oauth("        scheme: \"Zoho oauthtoken\"\n"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .arg("validate")
        .arg(&dir.mapping)
        .env_clear()
        .env("HOME_URL", "http://127.0.0.1:1")
        .env("CRM_URL", "http://127.0.0.1:1")
        .output()
        .expect("run mapsync validate");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("/systems/crm/auth/oauth2/scheme"), "{text}");
}
