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
