use super::{store, t};
use crate::store::{ConsumedState, OAuthState, OAuthToken, Secret, StateStore};

#[test]
fn tokens_round_trip_and_never_show_in_debug() {
    let s = store();
    assert_eq!(s.token("crm").unwrap(), None);
    let token = OAuthToken {
        access_token: Secret::new("access-123"),
        refresh_token: Some(Secret::new("refresh-456")),
        expires_at: Some(t(3600)),
        scopes: vec!["contacts.read".into(), "contacts.write".into()],
        account: Some("62515".into()),
    };
    s.save_token("crm", &token, t(0)).unwrap();
    assert_eq!(s.token("crm").unwrap(), Some(token.clone()));
    let debug = format!("{token:?}");
    assert!(
        !debug.contains("access-123") && !debug.contains("refresh-456"),
        "{debug}"
    );

    let refreshed = OAuthToken {
        access_token: Secret::new("access-789"),
        refresh_token: None,
        account: None,
        ..token
    };
    s.save_token("crm", &refreshed, t(10)).unwrap();
    assert_eq!(s.token("crm").unwrap(), Some(refreshed));
    assert!(s.delete_token("crm").unwrap());
    assert!(!s.delete_token("crm").unwrap());
    assert_eq!(s.token("crm").unwrap(), None);
}

#[test]
fn a_state_nonce_is_consumed_once_and_only_before_it_expires() {
    let s = store();
    let state = OAuthState {
        nonce: Secret::new("nonce-1"),
        system: "crm".into(),
        pkce_verifier: Some(Secret::new("verifier")),
        expires_at: t(600),
    };
    s.create_oauth_state(&state, t(0)).unwrap();
    s.create_oauth_state(
        &OAuthState {
            nonce: Secret::new("nonce-2"),
            pkce_verifier: None,
            ..state.clone()
        },
        t(0),
    )
    .unwrap();

    assert_eq!(
        s.consume_oauth_state(&Secret::new("forged"), t(1)).unwrap(),
        None
    );
    assert_eq!(
        s.consume_oauth_state(&Secret::new("nonce-1"), t(1))
            .unwrap(),
        Some(ConsumedState {
            system: "crm".into(),
            pkce_verifier: Some(Secret::new("verifier"))
        })
    );
    assert_eq!(
        s.consume_oauth_state(&Secret::new("nonce-1"), t(2))
            .unwrap(),
        None,
        "consumed once"
    );
    assert_eq!(
        s.consume_oauth_state(&Secret::new("nonce-2"), t(600))
            .unwrap(),
        None,
        "expired"
    );
}
