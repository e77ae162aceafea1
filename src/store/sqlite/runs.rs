//! SQL for sync runs and their checkpoints. A checkpoint's page never moves backwards (checked
//! here, and by a trigger in the schema).

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::{NoContext, Uuid};

use super::codec::{
    direction, json, json_text, millis, opt_timestamp, signed, timestamp, unsigned,
};
use crate::mapping::Direction;
use crate::store::{
    Checkpoint, Run, RunCheckpoint, RunEnd, RunStart, RunState, StoreError, StoreResult,
};

const COLUMNS: &str = "id, pair, direction, state, started_at, finished_at, counters_json, cursor_json, page, records_done";

struct RawRun {
    id: String,
    pair: String,
    direction: String,
    state: String,
    started_at: i64,
    finished_at: Option<i64>,
    counters: String,
    cursor: Option<String>,
    page: Option<i64>,
    records_done: i64,
}

fn raw(row: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: row.get(0)?,
        pair: row.get(1)?,
        direction: row.get(2)?,
        state: row.get(3)?,
        started_at: row.get(4)?,
        finished_at: row.get(5)?,
        counters: row.get(6)?,
        cursor: row.get(7)?,
        page: row.get(8)?,
        records_done: row.get(9)?,
    })
}

fn decode(raw: RawRun) -> StoreResult<Run> {
    let checkpoint = match (raw.cursor, raw.page) {
        (Some(cursor), Some(page)) => Some(Checkpoint {
            cursor: json("checkpoint cursor", &cursor)?,
            page: unsigned("checkpoint page", page)?,
            records_done: unsigned("records done", raw.records_done)?,
        }),
        _ => None,
    };
    Ok(Run {
        id: raw.id,
        pair: raw.pair,
        direction: direction(&raw.direction)?,
        state: raw
            .state
            .parse()
            .map_err(|e| StoreError::decode("run state", e))?,
        started_at: timestamp(raw.started_at)?,
        finished_at: opt_timestamp(raw.finished_at)?,
        counters: json("run counters", &raw.counters)?,
        checkpoint,
    })
}

pub(super) fn get(conn: &Connection, run_id: &str) -> StoreResult<Option<Run>> {
    let sql = format!("SELECT {COLUMNS} FROM run WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row(params![run_id], raw)
        .optional()?
        .map(decode)
        .transpose()
}

pub(super) fn latest(conn: &Connection, pair: &str, dir: Direction) -> StoreResult<Option<Run>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM run WHERE pair = ?1 AND direction = ?2
         ORDER BY started_at DESC, rowid DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![pair, dir.as_str()], raw)
        .optional()?
        .map(decode)
        .transpose()
}

pub(super) fn begin(
    conn: &Connection,
    pair: &str,
    dir: Direction,
    start: RunStart,
    at: Timestamp,
) -> StoreResult<Run> {
    let resume = match start {
        RunStart::ResumeOrNew => latest(conn, pair, dir)?.filter(|run| run.state != RunState::Done),
        RunStart::New => None,
    };
    // At most one run of a pair and direction is running: any other one died.
    conn.prepare_cached(
        "UPDATE run SET state = 'killed', finished_at = ?4
         WHERE pair = ?1 AND direction = ?2 AND state = 'running' AND id IS NOT ?3",
    )?
    .execute(params![
        pair,
        dir.as_str(),
        resume.as_ref().map(|run| run.id.as_str()),
        millis(at)
    ])?;

    if let Some(run) = resume {
        conn.prepare_cached("UPDATE run SET state = 'running', finished_at = NULL WHERE id = ?1")?
            .execute(params![run.id])?;
        return Ok(Run {
            state: RunState::Running,
            finished_at: None,
            ..run
        });
    }

    let seconds = u64::try_from(at.as_second()).unwrap_or(0);
    let nanos = u32::try_from(at.subsec_nanosecond()).unwrap_or(0);
    let id = Uuid::new_v7(uuid::Timestamp::from_unix(NoContext, seconds, nanos)).to_string();
    let counters = serde_json::json!({});
    conn.prepare_cached(
        "INSERT INTO run (id, pair, direction, state, started_at, counters_json)
         VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
    )?
    .execute(params![
        id,
        pair,
        dir.as_str(),
        millis(at),
        json_text(&counters)
    ])?;
    Ok(Run {
        id,
        pair: pair.to_owned(),
        direction: dir,
        state: RunState::Running,
        started_at: at,
        finished_at: None,
        counters,
        checkpoint: None,
    })
}

pub(super) fn finish(conn: &Connection, run_id: &str, end: &RunEnd) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE run SET state = ?2, counters_json = ?3, finished_at = ?4 WHERE id = ?1",
        )?
        .execute(params![
            run_id,
            end.state.as_str(),
            json_text(&end.counters),
            millis(end.at)
        ])?;
    if changed == 0 {
        return Err(StoreError::RunNotFound {
            run_id: run_id.to_owned(),
        });
    }
    Ok(())
}

pub(super) fn checkpoint(
    conn: &Connection,
    pair: &str,
    next: &RunCheckpoint,
    at: Timestamp,
) -> StoreResult<()> {
    let found = conn
        .prepare_cached("SELECT state, page FROM run WHERE id = ?1 AND pair = ?2")?
        .query_row(params![next.run_id, pair], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<i64>>(1)?))
        })
        .optional()?;
    let Some((state, stored)) = found else {
        return Err(StoreError::RunNotFound {
            run_id: next.run_id.clone(),
        });
    };
    if state != RunState::Running.as_str() {
        return Err(StoreError::RunNotRunning {
            run_id: next.run_id.clone(),
            state,
        });
    }
    let page = signed(next.checkpoint.page);
    if let Some(stored) = stored.filter(|&stored| stored > page) {
        return Err(StoreError::CheckpointBackwards {
            run_id: next.run_id.clone(),
            stored,
            attempted: page,
        });
    }
    conn.prepare_cached(
        "UPDATE run SET cursor_json = ?2, page = ?3, records_done = max(records_done, ?4),
                        counters_json = coalesce(?5, counters_json), checkpointed_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        next.run_id,
        json_text(&next.checkpoint.cursor),
        page,
        signed(next.checkpoint.records_done),
        next.counters.as_ref().map(json_text),
        millis(at)
    ])?;
    Ok(())
}
