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
