//! SQL for sync runs and their checkpoints. A checkpoint's page never moves backwards (checked
//! here under the run's row lock, and by a trigger in the schema).

use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;
use uuid::{NoContext, Uuid};

use super::{col, execute, query_opt};
use crate::mapping::Direction;
use crate::store::sqlite::codec::{
    direction, json, json_text, millis, opt_timestamp, signed, timestamp, unsigned,
};
use crate::store::{
    Checkpoint, Run, RunCheckpoint, RunEnd, RunStart, RunState, StoreError, StoreResult,
};

const COLUMNS: &str = "id, pair, direction, state, started_at, finished_at, counters_json, cursor_json, page, records_done";

fn decode(row: &Row) -> StoreResult<Run> {
    let cursor: Option<String> = col(row, 7)?;
    let page: Option<i64> = col(row, 8)?;
    let checkpoint = match (cursor, page) {
        (Some(cursor), Some(page)) => Some(Checkpoint {
            cursor: json("checkpoint cursor", &cursor)?,
            page: unsigned("checkpoint page", page)?,
            records_done: unsigned("records done", col(row, 9)?)?,
        }),
        _ => None,
    };
    let dir: String = col(row, 2)?;
    let state: String = col(row, 3)?;
    let counters: String = col(row, 6)?;
    Ok(Run {
        id: col(row, 0)?,
        pair: col(row, 1)?,
        direction: direction(&dir)?,
        state: state
            .parse()
            .map_err(|e| StoreError::decode("run state", e))?,
        started_at: timestamp(col(row, 4)?)?,
        finished_at: opt_timestamp(col(row, 5)?)?,
        counters: json("run counters", &counters)?,
        checkpoint,
    })
}

pub(super) async fn get(c: &impl GenericClient, run_id: &str) -> StoreResult<Option<Run>> {
    let sql = format!("SELECT {COLUMNS} FROM run WHERE id = $1");
    query_opt(c, &sql, &[&run_id])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(super) async fn latest(
    c: &impl GenericClient,
    pair: &str,
    dir: Direction,
) -> StoreResult<Option<Run>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM run WHERE pair = $1 AND direction = $2
         ORDER BY started_at DESC, seq DESC LIMIT 1"
    );
    query_opt(c, &sql, &[&pair, &dir.as_str()])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(super) async fn begin(
    c: &impl GenericClient,
    pair: &str,
    dir: Direction,
    start: RunStart,
    at: Timestamp,
) -> StoreResult<Run> {
    let resume = match start {
        RunStart::ResumeOrNew => latest(c, pair, dir)
            .await?
            .filter(|run| run.state != RunState::Done),
        RunStart::New => None,
    };
    // At most one run of a pair and direction is running: any other one died.
    execute(
        c,
        "UPDATE run SET state = 'killed', finished_at = $4
         WHERE pair = $1 AND direction = $2 AND state = 'running' AND id IS DISTINCT FROM $3",
        &[
            &pair,
            &dir.as_str(),
            &resume.as_ref().map(|run| run.id.as_str()),
            &millis(at),
        ],
    )
    .await?;
    if let Some(run) = resume {
        execute(
            c,
            "UPDATE run SET state = 'running', finished_at = NULL WHERE id = $1",
            &[&run.id],
        )
        .await?;
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
    execute(
        c,
        "INSERT INTO run (id, pair, direction, state, started_at, counters_json)
         VALUES ($1, $2, $3, 'running', $4, $5)",
        &[
            &id,
            &pair,
            &dir.as_str(),
            &millis(at),
            &json_text(&counters),
        ],
    )
    .await?;
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

pub(super) async fn finish(c: &impl GenericClient, run_id: &str, end: &RunEnd) -> StoreResult<()> {
    let changed = execute(
        c,
        "UPDATE run SET state = $2, counters_json = $3, finished_at = $4 WHERE id = $1",
        &[
            &run_id,
            &end.state.as_str(),
            &json_text(&end.counters),
            &millis(end.at),
        ],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::RunNotFound {
            run_id: run_id.to_owned(),
        });
    }
    Ok(())
}

pub(super) async fn checkpoint(
    c: &impl GenericClient,
    pair: &str,
    next: &RunCheckpoint,
    at: Timestamp,
) -> StoreResult<()> {
    let found = query_opt(
        c,
        "SELECT state, page FROM run WHERE id = $1 AND pair = $2 FOR UPDATE",
        &[&next.run_id, &pair],
    )
    .await?;
    let Some(row) = found else {
        return Err(StoreError::RunNotFound {
            run_id: next.run_id.clone(),
        });
    };
    let state: String = col(&row, 0)?;
    let stored: Option<i64> = col(&row, 1)?;
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
    execute(
        c,
        "UPDATE run SET cursor_json = $2, page = $3, records_done = greatest(records_done, $4),
                        counters_json = coalesce($5, counters_json), checkpointed_at = $6
         WHERE id = $1",
        &[
            &next.run_id,
            &json_text(&next.checkpoint.cursor),
            &page,
            &signed(next.checkpoint.records_done),
            &next.counters.as_ref().map(json_text),
            &millis(at),
        ],
    )
    .await?;
    Ok(())
}
