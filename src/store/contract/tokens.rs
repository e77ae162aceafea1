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

#[test]
fn expired_states_are_purged_and_live_ones_kept() {
    let s = store();
    let state = |nonce: &str, expires: i64| OAuthState {
        nonce: Secret::new(nonce),
        system: "crm".into(),
        pkce_verifier: None,
        expires_at: t(expires),
    };
    s.create_oauth_state(&state("old", 10), t(0)).unwrap();
    s.create_oauth_state(&state("edge", 20), t(0)).unwrap();
    s.create_oauth_state(&state("live", 600), t(0)).unwrap();
    assert_eq!(s.purge_oauth_states(t(20)).unwrap(), 2);
    assert_eq!(s.purge_oauth_states(t(20)).unwrap(), 0);
    assert!(
        s.consume_oauth_state(&Secret::new("live"), t(21))
            .unwrap()
            .is_some()
    );
    assert!(
        s.consume_oauth_state(&Secret::new("edge"), t(21))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_token_refresh_lock_is_held_once_and_a_waiter_reads_the_refreshed_token() {
    use std::time::Duration;

    use crate::store::StoreError;

    let s = store();
    let stale = OAuthToken {
        access_token: Secret::new("access-old"),
        refresh_token: Some(Secret::new("refresh-1")),
        expires_at: Some(t(0)),
        scopes: vec![],
        account: None,
    };
    s.save_token("crm", &stale, t(0)).unwrap();
    let held = s.lock_token_refresh("crm", Duration::ZERO).unwrap();
    // Held once, whoever asks (another guard of this store, or another process): a short wait
    // ends in `LockHeld` naming the lock; another system's refresh is not held up.
    let other = (*s).clone();
    let err = other
        .lock_token_refresh("crm", Duration::from_millis(50))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::LockHeld { ref lock, .. } if lock == "token-crm"),
        "{err}"
    );
    drop(
        other
            .lock_token_refresh("home system/ü", Duration::ZERO)
            .unwrap(),
    );

    // A refresh waiting for the lock gets it when the holder is done, and then reads the
    // token the holder saved: it has nothing left to refresh.
    let (asking, asked) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        asking.send(()).unwrap();
        let _lock = other
            .lock_token_refresh("crm", Duration::from_secs(30))
            .unwrap();
        other.token("crm").unwrap()
    });
    asked.recv().unwrap();
    let fresh = OAuthToken {
        access_token: Secret::new("access-new"),
        expires_at: Some(t(1800)),
        ..stale
    };
    s.save_token("crm", &fresh, t(1)).unwrap();
    drop(held);
    assert_eq!(waiter.join().unwrap(), Some(fresh));
    // Released with its guard.
    drop(s.lock_token_refresh("crm", Duration::ZERO).unwrap());
}
