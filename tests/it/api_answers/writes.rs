//! Finding 1: a 2xx answer with a per-record error is a failure of that record, classed by the
//! system's error rules, and never recorded as written. Finding 4: batches matched by
//! position, the item built from the fields and the id, partial success read from a 400.

use serde_json::json;

use super::{Dir, Fake, mapping, nonzero};

/// A full sync against an API that answers 202 with one per-record error: that record is
/// reported failed (not created), its status says why, and the next run writes it again (it
/// was never recorded as written, so it is not taken for an echo).
#[tokio::test(flavor = "multi_thread")]
async fn a_202_with_a_per_record_error_fails_that_record_and_is_never_recorded_as_written() {
    let fake = Fake::start(&[
        ("p1", "Ada", "ada@example.com"),
        ("p2", "Bob", "bob-refuse@example.com"),
        ("p3", "Cy", "cy@example.com"),
    ])
    .await;
    let dir = Dir::new(&mapping(false));
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        nonzero(&counts),
        ["created=2", "failed=1", "seen=3"],
        "{stderr}"
    );
    let contacts = fake.contacts();
    assert_eq!(contacts.len(), 2);
    assert!(
        contacts
            .values()
            .all(|c| c["Email"] != "bob-refuse@example.com")
    );
    // The written records are linked back; the refused one is not.
    let people = fake.people();
    assert!(people["p1"]["crm_id"].is_string() && people["p3"]["crm_id"].is_string());
    assert!(people["p2"]["crm_id"].is_null(), "{:?}", people["p2"]);
    let status = people["p2"]["sync_status"].as_str().unwrap_or_default();
    // The other system's status gets a fixed text by error class (never the remote words);
    // `permanent` here, since no error rule matched the per-record error.
    assert_eq!(
        status, "failed: the other system refused this record; see mapsync's dead letters",
        "{status}"
    );
    assert_eq!(people["p1"]["sync_status"], "synced");
    let failures = dir.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (id, streak, message) = &failures[0];
    assert_eq!((id.as_str(), *streak), ("p2", 1));
    assert!(message.contains("answered 202"), "{message}");
    assert!(
        message.contains("INVALID_DATA: the record was not saved"),
        "{message}"
    );
    assert!(message.contains("retrying will not help"), "{message}");
    fake.take_writes();

    // The next run tries the refused record again, and only it.
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        nonzero(&counts),
        ["failed=1", "seen=3", "unchanged=2"],
        "{stderr}"
    );
    assert_eq!(fake.take_writes(), ["POST /crm/v2/Contacts → 202"]);
    assert_eq!(dir.failures()[0].1, 2, "a failure streak of two runs");
}

/// An update answered 202 with a per-record error is a failed update, and an error rule on
/// 202 that matches the result's body classes it (here `transient`, so the connector's error
/// says mapsync retries it later); the contact keeps its old value and the next run updates
/// it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_update_in_a_202_is_failed_and_classed_by_the_error_rules() {
    let fake = Fake::start(&[("p1", "Ada", "ada@example.com")]).await;
    let dir = Dir::new(&mapping(false));
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(
        (code, nonzero(&counts)),
        (Some(0), vec!["created=1".to_string(), "seen=1".into()]),
        "{stderr}"
    );
    let id = fake.contacts().keys().next().cloned().unwrap();
    fake.data.lock().unwrap().people.get_mut("p1").unwrap()["email"] =
        json!("ada-busy@example.com");
    fake.take_writes();
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(nonzero(&counts), ["failed=1", "seen=1"], "{stderr}");
    let status = fake.people()["p1"]["sync_status"].clone();
    let status = status.as_str().unwrap_or_default();
    // The 202 rule classed it `transient`: the status says mapsync retries.
    assert_eq!(
        status, "failed: the other system was unavailable; mapsync retries",
        "{status}"
    );
    let (_, _, message) = &dir.failures()[0];
    assert!(message.contains("LIMIT_REACHED"), "{message}");
    assert!(message.contains("mapsync retries later"), "{message}");
    assert_eq!(fake.contacts()[&id]["Email"], "ada@example.com");
    assert_eq!(
        fake.take_writes(),
        [
            format!("PUT /crm/v2/Contacts/{id} → 202"),
            "PATCH /people/p1 → 200".into()
        ]
    );
    let (_, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(nonzero(&counts), ["failed=1", "seen=1"], "{stderr}");
    assert_eq!(
        fake.take_writes(),
        [format!("PUT /crm/v2/Contacts/{id} → 202")]
    );
}

/// A batch answered 400 because one input was refused: the others were created, and are
/// matched to their records by position (the answer carries no link field); batch updates
/// send the id beside the fields.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answered_400_keeps_the_inputs_it_created_matched_by_position() {
    let fake = Fake::start(&[
        ("p1", "Ada", "ada@example.com"),
        ("p2", "Bob", "bob-refuse@example.com"),
        ("p3", "Cy", "cy@example.com"),
    ])
    .await;
    let dir = Dir::new(&mapping(true));
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        nonzero(&counts),
        ["created=2", "failed=1", "seen=3"],
        "{stderr}"
    );
    assert_eq!(fake.take_writes()[0], "POST /crm/v2/Contacts → 400");
    let contacts = fake.contacts();
    let people = fake.people();
    for p in ["p1", "p3"] {
        let id = people[p]["crm_id"].as_str().expect("linked");
        assert_eq!(contacts[id]["Home_Id"], p, "{contacts:?}");
        assert_eq!(contacts[id]["Email"], people[p]["email"]);
    }
    assert!(people["p2"]["crm_id"].is_null());

    // Two edits go in one batch update with the ids beside the fields.
    {
        let mut d = fake.data.lock().unwrap();
        d.people.get_mut("p1").unwrap()["name"] = json!("Ada L");
        d.people.get_mut("p3").unwrap()["name"] = json!("Cy M");
    }
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        nonzero(&counts),
        ["failed=1", "seen=3", "updated=2"],
        "{stderr}"
    );
    let writes = fake.take_writes();
    assert!(
        writes.contains(&"PUT /crm/v2/Contacts → 200".to_string()),
        "{writes:?}"
    );
    let contacts = fake.contacts();
    let people = fake.people();
    assert_eq!(
        contacts[people["p1"]["crm_id"].as_str().unwrap()]["Last_Name"],
        "Ada L"
    );
    assert_eq!(
        contacts[people["p3"]["crm_id"].as_str().unwrap()]["Last_Name"],
        "Cy M"
    );
}

/// A pair worked by another process between the listing and the writes, on a collection that
/// declares no `read`: the listed copy predates that write and cannot be read again, so the
/// record is skipped (never written from the old copy, which would undo the rename) and the
/// next run finds the pair in step.
#[tokio::test(flavor = "multi_thread")]
async fn a_pair_touched_after_the_listing_without_a_read_is_left_to_the_next_run() {
    use mapsync::mapping::Side;
    use mapsync::store::{LedgerEntry, LedgerKind, SqliteConfig, SqliteStore, StateStore};

    let fake = Fake::start(&[("p1", "Ada", "ada@example.com")]).await;
    let dir = Dir::new(&mapping(false));
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(
        (code, nonzero(&counts)),
        (Some(0), vec!["created=1".to_string(), "seen=1".into()]),
        "{stderr}"
    );
    // Right after the next sync's listing is taken, someone renames Ada and another process
    // syncs the rename: it records having read it and writes it to the contact.
    let state = dir.dir.path().join("state.db");
    fake.data.lock().unwrap().on_list_people = Some(Box::new(move |d| {
        d.people.get_mut("p1").unwrap()["name"] = json!("Ada Lovelace");
        for c in d.contacts.values_mut() {
            c["Last_Name"] = json!("Ada Lovelace");
        }
        let store = SqliteStore::open(&state, &SqliteConfig::default()).expect("open the store");
        let entry = LedgerEntry {
            side: Side::Home,
            record_id: "p1".into(),
            field: "name".into(),
            kind: LedgerKind::Read,
            value: json!("Ada Lovelace"),
        };
        store
            .write_ledger("people<->contacts", &[entry], jiff::Timestamp::now())
            .expect("write the ledger");
    }));
    fake.take_writes();
    let (code, counts, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(nonzero(&counts), ["seen=1", "skipped=1"], "{stderr}");
    assert!(stderr.contains("declares no `read`"), "{stderr}");
    assert!(
        fake.take_writes().is_empty(),
        "nothing written from the listed copy"
    );
    assert_eq!(
        fake.contacts().values().next().unwrap()["Last_Name"],
        "Ada Lovelace"
    );
    // The next run lists the new name: nothing to undo, the rename stays.
    let (code, _, stderr) = dir.sync(&fake, "outbound").await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        fake.contacts().values().next().unwrap()["Last_Name"],
        "Ada Lovelace"
    );
    assert_eq!(fake.people()["p1"]["name"], "Ada Lovelace");
}
