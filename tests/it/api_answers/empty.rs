//! Finding 2: statuses and empty bodies that mean "no records" for lists and "missing" for
//! reads.

use super::{Dir, Fake, mapping, nonzero};

/// A first sync into an empty account: the contacts list answers 204, which the mapping
/// declares as "no records", so the sync creates every record instead of failing.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_into_an_empty_account_answered_204_creates_everything() {
    let fake = Fake::start(&[
        ("p1", "Ada", "ada@example.com"),
        ("p2", "Bo", "bo@example.com"),
    ])
    .await;
    let dir = Dir::new(&mapping(false));
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(nonzero(&counts), ["created=2", "seen=2"], "{stderr}");
}

/// A read of an unknown (or deleted) id answered 204 is "missing" (the record was deleted),
/// not an error blaming the mapping's paths; a known id is read from its envelope.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_answered_204_means_the_record_is_missing() {
    use mapsync::connector::Connector;
    use mapsync::expr::Vars;
    use mapsync::mapping::EnvMode;
    use mapsync::mapping::env::Env;
    use mapsync::mapping::load::load_str;

    let fake = Fake::start(&[]).await;
    fake.data.lock().unwrap().contacts.insert(
        "7".into(),
        serde_json::json!({"id": "7", "Last_Name": "Ada"}),
    );
    let env = Env::from_map([
        ("HOME_URL", fake.url.as_str()),
        ("CRM_URL", fake.url.as_str()),
    ]);
    // Declared by status, or as "an empty body means missing".
    let by_body = mapping(false).replace("missing: [404, 204]", "missing_when_empty: true");
    for text in [mapping(false), by_body] {
        let loaded = load_str(&text, "mapping.yaml", &env, EnvMode::Strict);
        let m = loaded.mapping.expect("the mapping loads");
        mapsync::init_crypto();
        let crm = Connector::new(&m.systems["crm"]).expect("connector");
        let contacts = &m.collections["contacts"];
        assert_eq!(
            crm.read(contacts, "404404", &Vars::new()).await.unwrap(),
            None
        );
        let found = crm.read(contacts, "7", &Vars::new()).await.unwrap();
        assert_eq!(found.unwrap()["Last_Name"], "Ada");
    }
}
