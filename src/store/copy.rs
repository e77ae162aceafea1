//! Copying one store into another (`mapsync state migrate`, e.g. SQLite to PostgreSQL) through
//! the `StateStore` trait alone: links, the ledger and status marks of every linked record,
//! unsettled create intents, OAuth tokens and dead letters — what a move must not lose. Runs,
//! outcomes and the snapshot are not copied: the next full sync rebuilds them.

use jiff::Timestamp;

use crate::mapping::{Direction, Side};
use crate::store::{
    DeadLetterQuery, LedgerEntry, LedgerKind, LinkQuery, NewDeadLetter, StateStore, StoreResult,
};

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub links: u64,
    pub ledger_entries: u64,
    pub status_marks: u64,
    pub intents: u64,
    pub tokens: u64,
    pub dead_letters: u64,
}

/// Copies the pair `pair` and the tokens of `systems` from `from` into `to`, at `at`.
pub fn copy_store(
    from: &dyn StateStore,
    to: &dyn StateStore,
    pair: &str,
    systems: &[String],
    at: Timestamp,
) -> StoreResult<CopyReport> {
    let mut report = CopyReport::default();
    let mut after = None;
    loop {
        let page = from.links(
            pair,
            &LinkQuery {
                after_home_id: after.clone(),
                limit: 500,
                ..LinkQuery::default()
            },
        )?;
        let Some(last) = page.last() else { break };
        after = Some(last.home_id.clone());
        for link in &page {
            to.upsert_link(pair, link, at)?;
            report.links += 1;
            for side in [Side::Home, Side::External] {
                let id = link.id_on(side);
                for (field, shadow) in from.record_shadow(pair, side, id)? {
                    for (kind, value) in [
                        (LedgerKind::Written, shadow.written),
                        (LedgerKind::Read, shadow.read),
                    ] {
                        let Some(value) = value else { continue };
                        let entry = LedgerEntry {
                            side,
                            record_id: id.to_owned(),
                            field: field.clone(),
                            kind,
                            value: value.value,
                        };
                        to.write_ledger(pair, std::slice::from_ref(&entry), value.at)?;
                        report.ledger_entries += 1;
                    }
                }
                if let Some(mark) = from.status_mark(pair, side, id)? {
                    to.set_status_mark(pair, &mark, at)?;
                    report.status_marks += 1;
                }
            }
        }
    }
    for direction in [Direction::Outbound, Direction::Inbound] {
        for pending in from.unsettled_intents(pair, direction)? {
            to.record_intent(pair, &pending.intent, pending.created_at)?;
            report.intents += 1;
        }
    }
    for system in systems {
        if let Some(token) = from.token(system)? {
            to.save_token(system, &token, at)?;
            report.tokens += 1;
        }
    }
    let mut after_id = None;
    loop {
        let page = from.dead_letters(&DeadLetterQuery {
            after_id,
            limit: 500,
            ..DeadLetterQuery::default()
        })?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        for letter in page {
            to.add_dead_letter(&NewDeadLetter {
                source: letter.source,
                record_key: letter.record_key,
                payload: letter.payload,
                error: letter.last_error,
                attempts: letter.attempts,
                first_failed_at: letter.first_failed_at,
                at: letter.last_failed_at,
            })?;
            report.dead_letters += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{
        CreateIntent, Link, OAuthToken, Secret, SqliteStore, StatusKind, StatusMark,
    };

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn a_copy_moves_links_ledger_marks_intents_tokens_and_dead_letters() {
        let from = SqliteStore::open_in_memory().unwrap();
        for i in 0..1200 {
            from.upsert_link(
                "p",
                &Link::active(format!("h{i:04}"), format!("e{i}")),
                t(0),
            )
            .unwrap();
        }
        let entry = |kind, value| LedgerEntry {
            side: Side::External,
            record_id: "e7".into(),
            field: "email".into(),
            kind,
            value,
        };
        from.write_ledger("p", &[entry(LedgerKind::Written, json!("a@x"))], t(5))
            .unwrap();
        from.write_ledger("p", &[entry(LedgerKind::Read, json!("A@x"))], t(6))
            .unwrap();
        let mark = StatusMark {
            side: Side::Home,
            record_id: "h0003".into(),
            kind: StatusKind::Error,
            message: Some("invalid email".into()),
        };
        from.set_status_mark("p", &mark, t(1)).unwrap();
        let intent = CreateIntent {
            direction: Direction::Outbound,
            source_id: "h9999".into(),
            attempt_key: "k".into(),
        };
        from.record_intent("p", &intent, t(2)).unwrap();
        let token = OAuthToken {
            access_token: Secret::new("a"),
            refresh_token: Some(Secret::new("r")),
            expires_at: Some(t(3600)),
            scopes: vec![],
            account: Some("portal-1".into()),
        };
        from.save_token("crm", &token, t(0)).unwrap();
        for n in 0..3 {
            from.add_dead_letter(&NewDeadLetter {
                source: "contacts".into(),
                record_key: format!("r{n}"),
                payload: json!([{"n": n}]),
                error: "422".into(),
                attempts: 2,
                first_failed_at: t(1),
                at: t(2),
            })
            .unwrap();
        }

        let to = SqliteStore::open_in_memory().unwrap();
        let systems = vec!["crm".to_owned(), "shop".to_owned()];
        let report = copy_store(&from, &to, "p", &systems, t(100)).unwrap();
        assert_eq!(
            report,
            CopyReport {
                links: 1200,
                ledger_entries: 2,
                status_marks: 1,
                intents: 1,
                tokens: 1,
                dead_letters: 3,
            }
        );
        assert_eq!(to.link_counts("p").unwrap().active, 1200);
        let shadow = to.record_shadow("p", Side::External, "e7").unwrap();
        assert_eq!(
            shadow["email"].written.as_ref().unwrap().value,
            json!("a@x")
        );
        assert_eq!(shadow["email"].read.as_ref().unwrap().at, t(6));
        assert_eq!(
            to.status_mark("p", Side::Home, "h0003").unwrap(),
            Some(mark)
        );
        assert_eq!(
            to.unsettled_intents("p", Direction::Outbound).unwrap()[0].intent,
            intent
        );
        assert_eq!(to.token("crm").unwrap(), Some(token));
        let letters = to.dead_letters(&DeadLetterQuery::default()).unwrap();
        assert_eq!(letters.len(), 3);
        assert_eq!((letters[2].attempts, letters[2].last_failed_at), (2, t(2)));
    }
}
