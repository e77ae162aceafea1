use super::{store, t};
use crate::mapping::Direction;
use crate::store::{CreateIntent, IntentSettlement, StateStore};

fn intent(id: &str, key: &str) -> CreateIntent {
    CreateIntent {
        direction: Direction::Inbound,
        source_id: id.into(),
        attempt_key: key.into(),
    }
}

#[test]
fn unsettled_intents_survive_until_settled() {
    let s = store();
    s.record_intent("p", &intent("e1", "k1"), t(1)).unwrap();
    s.record_intent("p", &intent("e1", "k1"), t(1)).unwrap(); // recorded twice: stored once
    s.record_intent("p", &intent("e1", "k2"), t(2)).unwrap();
    s.record_intent("p", &intent("e2", "k3"), t(3)).unwrap();

    let pending = s.unsettled_intents("p", Direction::Inbound).unwrap();
    let keys: Vec<_> = pending
        .iter()
        .map(|p| p.intent.attempt_key.as_str())
        .collect();
    assert_eq!(keys, ["k1", "k2", "k3"]);
    assert_eq!(pending[0].created_at, t(1));
    assert!(
        s.unsettled_intents("p", Direction::Outbound)
            .unwrap()
            .is_empty()
    );
    assert!(
        s.unsettled_intents("q", Direction::Inbound)
            .unwrap()
            .is_empty()
    );

    s.settle_intents(
        "p",
        &[IntentSettlement {
            direction: Direction::Inbound,
            source_id: "e1".into(),
        }],
    )
    .unwrap();
    let pending = s.unsettled_intents("p", Direction::Inbound).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].intent, intent("e2", "k3"));
}
