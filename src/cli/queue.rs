//! `mapsync status` (inbox depth, dead letters, last runs per direction, links) and
//! `mapsync dead-letters list|retry|drop`: read and change the state store only, never an API.

use std::sync::Arc;

use serde_json::json;

use super::state::StateLocation;
use super::sync::load;
use super::{DeadLetterAction, DeadLettersArgs, Exit, StatusArgs, print};
use crate::mapping::Direction;
use crate::store::{DeadLetterQuery, StateStore};

pub(super) fn open(
    mapping: &std::path::Path,
    state: Option<&std::path::PathBuf>,
) -> Result<Arc<dyn StateStore>, Exit> {
    let location = StateLocation::of(state.map(|p| p.as_path()), mapping);
    if !location.exists() {
        eprintln!(
            "error: no state store at {location}; run `mapsync sync` or `mapsync serve` first"
        );
        return Err(Exit::Store);
    }
    location.open().map_err(|e| {
        eprintln!("error: {e}");
        Exit::Store
    })
}

fn all_dead_letters(store: &dyn StateStore) -> Result<Vec<crate::store::DeadLetter>, Exit> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .dead_letters(&DeadLetterQuery {
                source: None,
                after_id: after,
                limit: 1000,
            })
            .map_err(|e| {
                eprintln!("error: {e}");
                Exit::Store
            })?;
        let done = page.len() < 1000;
        after = page.last().map(|d| d.id);
        out.extend(page);
        if done || after.is_none() {
            return Ok(out);
        }
    }
}

/// An instance whose last heartbeat is older than this (three beats missed) is shown silent.
const INSTANCE_ALIVE_SECS: i64 = 15;

/// Runs `mapsync status`.
pub fn status(args: &StatusArgs) -> Exit {
    let Some(mapping) = load(&args.mapping.mapping) else {
        return Exit::Invalid;
    };
    let store = match open(&args.mapping.mapping, args.state.as_ref()) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let pair = mapping.pair_key();
    let result = (|| -> Result<serde_json::Value, crate::store::StoreError> {
        let depth = store.inbox_depth()?;
        let links = store.link_counts(&pair)?;
        let mut runs = serde_json::Map::new();
        for dir in [Direction::Outbound, Direction::Inbound] {
            let run = store.latest_run(&pair, dir)?.map(|r| {
                json!({
                    "id": r.id,
                    "state": r.state.as_str(),
                    "started_at": r.started_at.to_string(),
                    "finished_at": r.finished_at.map(|t| t.to_string()),
                    "counts": r.counters,
                })
            });
            runs.insert(dir.to_string(), run.unwrap_or(serde_json::Value::Null));
        }
        let now = jiff::Timestamp::now();
        let instances: Vec<serde_json::Value> = store
            .instances(now)?
            .into_iter()
            .map(|i| {
                let silent = now.duration_since(i.beat_at).as_secs();
                json!({
                    "name": i.name,
                    "alive": silent < INSTANCE_ALIVE_SECS,
                    "started_at": i.started_at.to_string(),
                    "last_beat": i.beat_at.to_string(),
                    "claims": i.claims,
                })
            })
            .collect();
        Ok(json!({
            "pair": pair,
            "inbox_depth": depth,
            "instances": instances,
            "links": {
                "active": links.active,
                "deleted_on_home": links.deleted_on_home,
                "deleted_on_external": links.deleted_on_external,
                "conflict": links.conflict,
            },
            "last_runs": runs,
        }))
    })();
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    };
    let letters = match all_dead_letters(store.as_ref()) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let dead = letters.len();
    report["dead_letters"] = json!(dead);
    let attention = match attention(&mapping, store.as_ref(), &letters) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    };
    report["needs_attention"] = attention
        .iter()
        .map(|k| (k.name.to_string(), k.json()))
        .collect();
    if args.json {
        print(&format!("{report}\n"));
        return Exit::Ok;
    }
    let mut text = format!(
        "pair:          {pair}\ninbox:         {} record(s) waiting\ndead letters:  {dead}\nlinks:         {} active, {} deleted on home, {} deleted on external, {} held by a conflict\n",
        report["inbox_depth"],
        report["links"]["active"],
        report["links"]["deleted_on_home"],
        report["links"]["deleted_on_external"],
        report["links"]["conflict"],
    );
    for i in report["instances"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "instance       {} {}, {} claim(s), last beat {}\n",
            i["name"].as_str().unwrap_or("?"),
            if i["alive"] == json!(true) {
                "alive"
            } else {
                "silent"
            },
            i["claims"],
            i["last_beat"].as_str().unwrap_or("?"),
        ));
    }
    for dir in ["outbound", "inbound"] {
        let r = &report["last_runs"][dir];
        if r.is_null() {
            text.push_str(&format!("last {dir:<9}never\n"));
        } else {
            text.push_str(&format!(
                "last {dir:<9}{} (started {}, finished {})\n",
                r["state"].as_str().unwrap_or("?"),
                r["started_at"].as_str().unwrap_or("?"),
                r["finished_at"].as_str().unwrap_or("-"),
            ));
        }
    }
    let total: u64 = attention.iter().map(|k| k.count).sum();
    if total == 0 {
        text.push_str("needs a person: nothing\n");
    } else {
        text.push_str("needs a person:\n");
        for k in attention.iter().filter(|k| k.count > 0) {
            text.push_str(&format!(
                "  {} {}  ({})\n",
                k.count,
                k.name.replace('_', " "),
                k.hint
            ));
            for item in &k.newest {
                text.push_str(&format!(
                    "    {}  {}: {}\n",
                    item.at, item.record, item.reason
                ));
            }
        }
    }
    print(&text);
    Exit::Ok
}

/// How many newest items of each kind `status` shows.
const NEWEST: usize = 3;

/// One kind of thing a person must look at: how many, the newest few, and what to do.
struct Attention {
    name: &'static str,
    count: u64,
    newest: Vec<Item>,
    hint: &'static str,
}

struct Item {
    at: String,
    record: String,
    reason: String,
}

impl Attention {
    fn json(&self) -> serde_json::Value {
        json!({
            "count": self.count,
            "hint": self.hint,
            "newest": self.newest.iter().map(|i| json!({
                "at": i.at, "record": i.record, "reason": i.reason,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Conflicts and failed records (the last outcome of each source record, both directions)
/// and dead letters, newest first.
fn attention(
    mapping: &crate::mapping::Mapping,
    store: &dyn StateStore,
    letters: &[crate::store::DeadLetter],
) -> Result<Vec<Attention>, crate::store::StoreError> {
    use crate::store::OutcomeKind;
    let pair = mapping.pair_key();
    let mut conflicts = Vec::new();
    let mut failed = Vec::new();
    for dir in [Direction::Outbound, Direction::Inbound] {
        for o in store.failed_outcomes(&pair, dir, u32::MAX)? {
            let at = o.last_failed_at.unwrap_or(o.updated_at);
            let item = (
                at,
                Item {
                    at: at.to_string(),
                    record: format!(
                        "{dir} {} {}",
                        mapping.collection(dir.source()).title,
                        o.outcome.source_id
                    ),
                    reason: o.outcome.message.clone().unwrap_or_default(),
                },
            );
            match o.outcome.kind {
                OutcomeKind::Conflict | OutcomeKind::Ambiguous => conflicts.push(item),
                _ => failed.push(item),
            }
        }
    }
    let newest = |mut v: Vec<(jiff::Timestamp, Item)>| {
        v.sort_by_key(|b| std::cmp::Reverse(b.0));
        let count = v.len() as u64;
        (count, v.into_iter().take(NEWEST).map(|(_, i)| i).collect())
    };
    let (n_conflicts, conflicts) = newest(conflicts);
    let (n_failed, failed) = newest(failed);
    let mut dead: Vec<&crate::store::DeadLetter> = letters.iter().collect();
    dead.sort_by_key(|d| std::cmp::Reverse(d.last_failed_at));
    Ok(vec![
        Attention {
            name: "conflicts",
            count: n_conflicts,
            newest: conflicts,
            hint: "resolve them in either system; `mapsync explain <id>` shows why",
        },
        Attention {
            name: "failed",
            count: n_failed,
            newest: failed,
            hint: "the next `mapsync sync` retries them; `mapsync explain <id>` shows why",
        },
        Attention {
            name: "dead_letters",
            count: letters.len() as u64,
            newest: dead
                .into_iter()
                .take(NEWEST)
                .map(|d| Item {
                    at: d.last_failed_at.to_string(),
                    record: format!("#{} {} {}", d.id, d.source, d.record_key),
                    reason: d.last_error.clone(),
                })
                .collect(),
            hint: "`mapsync dead-letters retry <id>` once the cause is fixed",
        },
    ])
}

/// Runs `mapsync dead-letters …`.
pub fn dead_letters(args: &DeadLettersArgs) -> Exit {
    let store = match open(&args.mapping.mapping, args.state.as_ref()) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match &args.action {
        DeadLetterAction::List { json } => {
            let all = match all_dead_letters(store.as_ref()) {
                Ok(d) => d,
                Err(e) => return e,
            };
            if *json {
                let items: Vec<serde_json::Value> = all
                    .iter()
                    .map(|d| {
                        json!({
                            "id": d.id,
                            "source": d.source,
                            "record_key": d.record_key,
                            "error": d.last_error,
                            "attempts": d.attempts,
                            "first_failed_at": d.first_failed_at.to_string(),
                            "last_failed_at": d.last_failed_at.to_string(),
                            "payload": d.payload,
                        })
                    })
                    .collect();
                print(&format!("{}\n", serde_json::Value::Array(items)));
            } else if all.is_empty() {
                print("no dead letters\n");
            } else {
                let mut text = String::new();
                for d in &all {
                    text.push_str(&format!(
                        "{}\t{}\t{}\tattempts {}\tlast {}\t{}\n",
                        d.id, d.source, d.record_key, d.attempts, d.last_failed_at, d.last_error
                    ));
                }
                print(&text);
            }
            Exit::Ok
        }
        DeadLetterAction::Retry { id } => {
            match store.retry_dead_letter(*id, jiff::Timestamp::now()) {
                Ok(true) => {
                    print(&format!(
                        "dead letter {id} is back in the inbox; a running `mapsync serve` processes it\n"
                    ));
                    Exit::Ok
                }
                Ok(false) => {
                    eprintln!(
                        "error: no dead letter {id}; `mapsync dead-letters list` shows the ids there are"
                    );
                    Exit::NotFound
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Exit::Store
                }
            }
        }
        DeadLetterAction::Drop { id } => match store.drop_dead_letter(*id) {
            Ok(true) => {
                print(&format!("dead letter {id} dropped\n"));
                Exit::Ok
            }
            Ok(false) => {
                eprintln!(
                    "error: no dead letter {id}; `mapsync dead-letters list` shows the ids there are"
                );
                Exit::NotFound
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Store
            }
        },
    }
}
