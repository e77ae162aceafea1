//! SQL for per-record outcomes and their failure streaks.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::codec::{direction, millis, opt_timestamp, timestamp};
use crate::mapping::Direction;
use crate::store::{Outcome, OutcomeRecord, StoreError, StoreResult};

const COLUMNS: &str =
    "direction, source_id, kind, message, attempts, first_failed_at, last_failed_at, updated_at";

type RawOutcome = (
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
);

fn raw(row: &Row<'_>) -> rusqlite::Result<RawOutcome> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

fn decode(raw: RawOutcome) -> StoreResult<OutcomeRecord> {
    let (dir, source_id, kind, message, attempts, first, last, updated) = raw;
    Ok(OutcomeRecord {
        outcome: Outcome {
            direction: direction(&dir)?,
            source_id,
            kind: kind
                .parse()
                .map_err(|e| StoreError::decode("outcome kind", e))?,
            message,
        },
        attempts: u32::try_from(attempts).map_err(|e| StoreError::decode("attempts", e))?,
        first_failed_at: opt_timestamp(first)?,
        last_failed_at: opt_timestamp(last)?,
        updated_at: timestamp(updated)?,
    })
}

pub(super) fn get(
    conn: &Connection,
    pair: &str,
    dir: Direction,
    source_id: &str,
) -> StoreResult<Option<OutcomeRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outcome WHERE pair = ?1 AND direction = ?2 AND source_id = ?3"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![pair, dir.as_str(), source_id], raw)
        .optional()?
        .map(decode)
        .transpose()
}

pub(super) fn record(
    conn: &Connection,
    pair: &str,
    outcomes: &[Outcome],
    at: Timestamp,
) -> StoreResult<()> {
    // ?6 is 1 for a failure: it starts or extends the streak; a success (0) ends it.
    let mut stmt = conn.prepare_cached(
        "INSERT INTO outcome (pair, direction, source_id, kind, message, attempts,
                              first_failed_at, last_failed_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                 CASE WHEN ?6 THEN ?7 END, CASE WHEN ?6 THEN ?7 END, ?7)
         ON CONFLICT (pair, direction, source_id) DO UPDATE SET
             kind = excluded.kind,
             message = excluded.message,
             attempts = CASE WHEN ?6 THEN outcome.attempts + 1 ELSE 0 END,
             first_failed_at = CASE WHEN ?6 THEN coalesce(outcome.first_failed_at, ?7) END,
             last_failed_at = CASE WHEN ?6 THEN ?7 END,
             updated_at = ?7",
    )?;
    for outcome in outcomes {
        stmt.execute(params![
            pair,
            outcome.direction.as_str(),
            outcome.source_id,
            outcome.kind.as_str(),
            outcome.message,
            i64::from(outcome.kind.is_failure()),
            millis(at)
        ])?;
    }
    Ok(())
}

pub(super) fn failed(
    conn: &Connection,
    pair: &str,
    dir: Direction,
    limit: u32,
) -> StoreResult<Vec<OutcomeRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outcome
         WHERE pair = ?1 AND direction = ?2 AND attempts > 0
         ORDER BY last_failed_at, source_id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![pair, dir.as_str(), limit], raw)?;
    rows.map(|row| decode(row?)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{store, t};
    use crate::mapping::Direction;
    use crate::store::{Outcome, OutcomeKind, StateStore};

    fn outcome(id: &str, kind: OutcomeKind) -> Outcome {
        Outcome {
            direction: Direction::Outbound,
            source_id: id.into(),
            kind,
            message: None,
        }
    }

    #[test]
    fn failures_are_listed_for_retry_until_they_succeed() {
        let s = store();
        s.record_outcomes(
            "p",
            &[
                outcome("a", OutcomeKind::Created),
                Outcome {
                    message: Some("503 from target".into()),
                    ..outcome("b", OutcomeKind::Failed)
                },
                outcome("c", OutcomeKind::Invalid),
            ],
            t(1),
        )
        .unwrap();
        s.record_outcomes("p", &[outcome("d", OutcomeKind::NeedsAttention)], t(2))
            .unwrap();
        s.record_outcomes("p", &[outcome("b", OutcomeKind::Failed)], t(3))
            .unwrap();

        let failed = s.failed_outcomes("p", Direction::Outbound, 10).unwrap();
        let ids: Vec<_> = failed
            .iter()
            .map(|r| r.outcome.source_id.as_str())
            .collect();
        assert_eq!(ids, ["d", "b"], "longest-waiting first");
        let b = &failed[1];
        assert_eq!(
            (b.attempts, b.first_failed_at, b.last_failed_at),
            (2, Some(t(1)), Some(t(3)))
        );
        assert_eq!(b.outcome.message, None);
        assert!(
            s.failed_outcomes("p", Direction::Inbound, 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.failed_outcomes("p", Direction::Outbound, 1)
                .unwrap()
                .len(),
            1
        );

        s.record_outcomes("p", &[outcome("b", OutcomeKind::Updated)], t(4))
            .unwrap();
        let b = s.outcome("p", Direction::Outbound, "b").unwrap().unwrap();
        assert_eq!(
            (b.attempts, b.first_failed_at, b.last_failed_at),
            (0, None, None)
        );
        assert_eq!(b.outcome.kind, OutcomeKind::Updated);
        assert_eq!(b.updated_at, t(4));
        let ids: Vec<_> = s
            .failed_outcomes("p", Direction::Outbound, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.outcome.source_id)
            .collect();
        assert_eq!(ids, ["d"]);
    }

    #[test]
    fn every_kind_round_trips() {
        let s = store();
        for (i, kind) in OutcomeKind::ALL.into_iter().enumerate() {
            let o = outcome(&i.to_string(), kind);
            s.record_outcomes("p", std::slice::from_ref(&o), t(1))
                .unwrap();
            assert_eq!(
                s.outcome("p", Direction::Outbound, &o.source_id)
                    .unwrap()
                    .unwrap()
                    .outcome,
                o
            );
        }
    }
}
