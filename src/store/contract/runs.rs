use serde_json::json;

use super::*;
use crate::mapping::Direction;
use crate::store::{
    Checkpoint, PageCommit, RunCheckpoint, RunEnd, RunStart, RunState, StateStore, StoreError,
};

pub(crate) fn page(run_id: &str, page: u64, cursor: serde_json::Value) -> PageCommit {
    PageCommit {
        checkpoint: Some(RunCheckpoint {
            run_id: run_id.to_owned(),
            checkpoint: Checkpoint {
                cursor,
                page,
                records_done: page * 100,
            },
            counters: Some(json!({"created": page})),
        }),
        ..PageCommit::new(t(page as i64))
    }
}

#[test]
fn a_killed_run_is_resumed_from_its_checkpoint() {
    let s = store();
    let run = s
        .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(0))
        .unwrap();
    assert_eq!(
        (run.state, run.checkpoint.clone()),
        (RunState::Running, None)
    );
    s.commit_page("p", &page(&run.id, 1, json!({"after": "100"})))
        .unwrap();
    s.commit_page("p", &page(&run.id, 2, json!({"after": "200"})))
        .unwrap();

    // The process dies; the next sync resumes the same run.
    let resumed = s
        .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(10))
        .unwrap();
    assert_eq!(resumed.id, run.id);
    assert_eq!(
        resumed.checkpoint,
        Some(Checkpoint {
            cursor: json!({"after": "200"}),
            page: 2,
            records_done: 200
        })
    );
    assert_eq!(resumed.counters, json!({"created": 2}));
    // Other directions and pairs are untouched.
    let inbound = s
        .begin_run("p", Direction::Inbound, RunStart::ResumeOrNew, t(10))
        .unwrap();
    assert_ne!(inbound.id, run.id);
    assert_eq!(inbound.checkpoint, None);

    s.finish_run(
        &run.id,
        &RunEnd {
            state: RunState::Done,
            counters: json!({"created": 3}),
            at: t(20),
        },
    )
    .unwrap();
    let done = s.run(&run.id).unwrap().unwrap();
    assert_eq!(
        (done.state, done.finished_at),
        (RunState::Done, Some(t(20)))
    );
    let err = s
        .commit_page("p", &page(&run.id, 3, json!(null)))
        .unwrap_err();
    assert!(matches!(err, StoreError::RunNotRunning { .. }), "{err:?}");

    // A finished run is not resumed.
    let next = s
        .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(30))
        .unwrap();
    assert_ne!(next.id, run.id);
    assert_eq!(
        s.latest_run("p", Direction::Outbound).unwrap().unwrap().id,
        next.id
    );
}

#[test]
fn a_fresh_start_marks_the_running_one_killed() {
    let s = store();
    let first = s
        .begin_run("p", Direction::Outbound, RunStart::New, t(0))
        .unwrap();
    let second = s
        .begin_run("p", Direction::Outbound, RunStart::New, t(1))
        .unwrap();
    assert_eq!(s.run(&first.id).unwrap().unwrap().state, RunState::Killed);
    let err = s
        .commit_page("p", &page(&first.id, 1, json!(1)))
        .unwrap_err();
    assert!(matches!(err, StoreError::RunNotRunning { .. }), "{err:?}");

    // A failed run is resumable too.
    s.finish_run(
        &second.id,
        &RunEnd {
            state: RunState::Failed,
            counters: json!({}),
            at: t(2),
        },
    )
    .unwrap();
    let resumed = s
        .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(3))
        .unwrap();
    assert_eq!(resumed.id, second.id);
    assert_eq!(s.run(&second.id).unwrap().unwrap().state, RunState::Running);

    let err = s
        .commit_page("other-pair", &page(&second.id, 1, json!(1)))
        .unwrap_err();
    assert!(matches!(err, StoreError::RunNotFound { .. }), "{err:?}");
}

#[test]
fn a_checkpoint_never_moves_backwards() {
    let s = store();
    let run = s
        .begin_run("p", Direction::Inbound, RunStart::New, t(0))
        .unwrap();
    s.commit_page("p", &page(&run.id, 5, json!("c5"))).unwrap();
    // Re-committing the same page after a resume re-read it is fine.
    s.commit_page("p", &page(&run.id, 5, json!("c5"))).unwrap();
    let err = s
        .commit_page("p", &page(&run.id, 4, json!("c4")))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::CheckpointBackwards {
                stored: 5,
                attempted: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        s.run(&run.id).unwrap().unwrap().checkpoint.unwrap().cursor,
        json!("c5")
    );
}
