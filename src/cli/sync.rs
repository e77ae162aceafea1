//! `mapsync sync`: loads the mapping, checks credentials, opens the state store, runs the full
//! sync with a progress bar on a terminal, and prints the plan and the summary.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::state::StateLocation;
use super::{DirectionArg, Exit, SyncArgs, print};
use crate::connector::Connector;
use crate::engine::{PlanKind, RecordPlan};
use crate::mapping::env::Env;
use crate::mapping::model::Mapping;
use crate::mapping::{Direction, EnvMode, Side, load_file};
use crate::runner::StoreBudget;
use crate::runner::{
    self, Connectors, Counts, Observer, RunnerError, StoreTokens, SyncOptions, SyncReport,
};
use crate::store::{BudgetPriority, StateStore};

/// Runs `mapsync sync`.
pub fn run(args: &SyncArgs) -> Exit {
    let Some(mapping) = load(&args.mapping.mapping) else {
        return Exit::Invalid;
    };
    let store = match open_store(args.state.as_deref(), &args.mapping.mapping) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    };
    let direction = match args.direction {
        DirectionArg::Inbound => Direction::Inbound,
        DirectionArg::Outbound => Direction::Outbound,
    };
    let connectors = match connectors(&mapping, &store) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Unavailable;
        }
    };
    let opts = SyncOptions {
        dry_run: args.dry_run,
        limit: args.limit,
        max_creates: args.max_creates,
        max_deletes: args.max_deletes,
        allow_unmatched: args.allow_unmatched,
        fresh: args.fresh,
        ..SyncOptions::new(direction)
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Unavailable;
        }
    };
    let mut observer = Terminal::new(&mapping, direction, args);
    let result = runtime.block_on(async {
        tokio::select! {
            r = runner::sync(&mapping, store.as_ref(), &connectors, &opts, &mut observer) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    observer.finish();
    let Some(result) = result else {
        if args.dry_run {
            eprintln!("Interrupted: a dry run writes nothing.");
        } else {
            eprintln!(
                "Interrupted: {} records are committed (their pages are in the state store). Run the same command again to resume after them.",
                observer.committed
            );
        }
        return Exit::Interrupted;
    };
    match result {
        Ok(report) => {
            if args.json {
                print(&format!("{}\n", serde_json::json!({ "report": report })));
            } else {
                print(&summary(&mapping, &report));
            }
            if report.counts.failed + report.counts.conflicts + report.counts.refused > 0 {
                Exit::Partial
            } else {
                Exit::Ok
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let RunnerError::List { source, .. } = &e
                && let crate::connector::ConnectorError::Transport { system, .. } = source.as_ref()
                && let Some(origin) = runner::base_url_origin(&mapping, system)
            {
                eprintln!("hint: {origin}; check that URL, and that the API is up");
            }
            match e {
                RunnerError::Refused(_) => Exit::Refused,
                RunnerError::Busy(_) => Exit::Busy,
                RunnerError::Store(_) => Exit::Store,
                RunnerError::List { .. } | RunnerError::Internal(_) => Exit::Unavailable,
            }
        }
    }
}

/// Loads a mapping for a command that calls APIs; prints its problems.
pub(super) fn load(path: &Path) -> Option<Mapping> {
    load_with_warnings(path).map(|(m, _)| m)
}

/// Like `load`, and returns the warnings too (the caller decides which to show).
pub(super) fn load_with_warnings(
    path: &Path,
) -> Option<(Mapping, Vec<crate::mapping::Diagnostic>)> {
    let loaded = load_file(path, &Env::process(), EnvMode::Lenient);
    let name = path.display().to_string();
    let style = super::render::Style {
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut text = String::new();
    for d in loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::mapping::Severity::Error)
    {
        text.push_str(&super::render::human(d, &name, style));
    }
    if loaded.mapping.is_none() {
        text.push_str(&format!(
            "{name}: the mapping is invalid; `mapsync validate {name}` explains every problem\n"
        ));
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    let warnings = loaded
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == crate::mapping::Severity::Warning)
        .collect();
    loaded.mapping.map(|m| (m, warnings))
}

/// The key OAuth tokens are sealed with, from `MAPSYNC_STATE_KEY` (unset or empty: none).
pub(super) fn state_key() -> Result<Option<Arc<crate::store::seal::SealKey>>, String> {
    match std::env::var("MAPSYNC_STATE_KEY") {
        Ok(text) if !text.is_empty() => crate::store::seal::SealKey::from_text(&text)
            .map(|k| Some(Arc::new(k)))
            .map_err(|e| e.to_string()),
        _ => Ok(None),
    }
}

/// Opens the state store `--state` names (a SQLite file or a `postgres://` URL), or the
/// default file next to the mapping.
pub(super) fn open_store(
    state: Option<&Path>,
    mapping: &Path,
) -> Result<Arc<dyn StateStore>, crate::store::StoreError> {
    StateLocation::of(state, mapping).open()
}

/// One connector per system of the pair, after checking each can authenticate.
pub(super) fn connectors(
    mapping: &Mapping,
    store: &Arc<dyn StateStore>,
) -> Result<Connectors, String> {
    let mut out = Connectors::new();
    for side in [Side::Home, Side::External] {
        let name = mapping.collection(side).system.clone();
        if out.contains_key(&name) {
            continue;
        }
        runner::check_credentials(mapping, &name, store.as_ref())?;
        // A full sync is the back-fill: it spends the declared limit, shared with a `serve` on
        // the same store, only while live work has its reserve.
        let budget = StoreBudget::new(store.clone(), &name, BudgetPriority::Backfill);
        let c = Connector::builder(&mapping.systems[&name])
            .token_provider(Arc::new(StoreTokens::new(store.clone(), state_key()?)))
            .budget(Arc::new(budget))
            .build()
            .map_err(|e| e.to_string())?;
        out.insert(name, c);
    }
    Ok(out)
}

/// Progress on a terminal, and the plan of a dry run.
struct Terminal {
    bar: Option<ProgressBar>,
    /// Source records whose page is committed, this run and the one it resumed.
    committed: u64,
    dry_run: bool,
    json: bool,
    source_title: String,
    target_title: String,
}

impl Terminal {
    fn new(mapping: &Mapping, direction: Direction, args: &SyncArgs) -> Terminal {
        let bar = (std::io::stderr().is_terminal() && !args.json).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} {pos} records  {per_sec}  elapsed {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message("indexing the target…");
            bar
        });
        Terminal {
            bar,
            committed: 0,
            dry_run: args.dry_run,
            json: args.json,
            source_title: mapping.collection(direction.source()).title.clone(),
            target_title: mapping.collection(direction.target()).title.clone(),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn emit(&self, text: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| print(text)),
            None => print(text),
        }
    }
}

impl Observer for Terminal {
    fn resumed(&mut self, records_done: u64) {
        self.committed = records_done;
        if let Some(b) = &self.bar {
            b.set_position(records_done);
        }
    }

    fn indexed(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{n} {}s indexed; syncing", self.target_title));
        }
    }

    fn page(&mut self, records: u64, _counts: &Counts) {
        self.committed += records;
        if let Some(b) = &self.bar {
            b.inc(records);
        }
    }

    fn total(&mut self, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} records  {per_sec}  ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
        }
    }

    fn plan(&mut self, plan: &RecordPlan) {
        if !self.dry_run && plan.kind != PlanKind::Failed && plan.kind != PlanKind::Conflict {
            return;
        }
        if self.json {
            self.emit(&format!("{}\n", serde_json::json!({ "plan": plan })));
        } else if plan.kind != PlanKind::Unchanged || plan.write.is_some() {
            self.emit(&describe(plan, &self.source_title, &self.target_title));
        }
    }

    /// A write that failed is named like a failed plan, with the API's answer as its reason.
    fn failed(&mut self, plan: &RecordPlan, message: &str) {
        let what = match plan.kind {
            PlanKind::Create => format!("creating the {}", self.target_title),
            PlanKind::Delete => format!(
                "deleting {} {}",
                self.target_title,
                plan.target_id.as_deref().unwrap_or("")
            ),
            _ => format!(
                "writing {} {}",
                self.target_title,
                plan.target_id.as_deref().unwrap_or("")
            ),
        };
        let failed = RecordPlan {
            kind: PlanKind::Failed,
            reason: Some(format!("{what}: {message}")),
            changes: Vec::new(),
            invalid: Vec::new(),
            ..plan.clone()
        };
        self.plan(&failed);
    }
}

/// One plan as a person reads it: `+ create`, `~ update`, `- delete`, `! conflict`.
fn describe(p: &RecordPlan, source: &str, target: &str) -> String {
    let tid = p.target_id.as_deref().unwrap_or("(new)");
    let head = match p.kind {
        PlanKind::Create => format!("+ create {target} from {source} {}", p.source_id),
        PlanKind::Update => format!("~ update {target} {tid} from {source} {}", p.source_id),
        PlanKind::Unchanged => format!("~ status of {target} {tid} ({source} {})", p.source_id),
        PlanKind::Delete => format!(
            "- delete {target} {tid}{} ({source} {} was deleted)",
            if p.force { " (forced)" } else { "" },
            p.source_id
        ),
        PlanKind::Unlink => format!(
            "- unlink {target} {tid} ({source} {} was deleted)",
            p.source_id
        ),
        PlanKind::Echo => format!("= skip {source} {} (echo)", p.source_id),
        PlanKind::Conflict => format!("! conflict {source} {}", p.source_id),
        PlanKind::Skip => format!("= skip {source} {}", p.source_id),
        PlanKind::Failed => format!("! failed {source} {}", p.source_id),
    };
    let mut out = head;
    if let Some(r) = &p.reason {
        out.push_str(&format!(": {r}"));
    }
    out.push('\n');
    for c in &p.changes {
        out.push_str(&format!(
            "    {}: {} → {}\n",
            c.field,
            short(&c.from),
            short(&c.to)
        ));
    }
    for m in &p.invalid {
        out.push_str(&format!("    invalid: {m} (placeholder written)\n"));
    }
    out
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

fn summary(mapping: &Mapping, r: &SyncReport) -> String {
    let dir = r.direction;
    let (from, to) = (
        &mapping.system(dir.source()).title,
        &mapping.system(dir.target()).title,
    );
    let c = &r.counts;
    let mut out = String::new();
    let what = if r.dry_run { "Dry run of" } else { "Sync" };
    out.push_str(&format!(
        "{what} {dir} ({from} → {to}) done in {:.1} s",
        r.elapsed_ms as f64 / 1000.0
    ));
    if let Some(p) = r.resumed_at_page {
        out.push_str(&format!(", resumed after page {p}"));
    }
    out.push('\n');
    let verb = |n: u64, s: &str| format!("{n} {s}");
    let would = if r.dry_run { "would be " } else { "" };
    out.push_str(&format!(
        "  {} read; {would}{}, {}, {}, {}; {}, {}\n",
        verb(c.seen, "records"),
        verb(c.created, "created"),
        verb(c.updated, "updated"),
        verb(c.linked, "linked"),
        verb(c.deleted, "deleted"),
        verb(c.unchanged, "unchanged"),
        verb(c.echo_skipped, "echo-skipped"),
    ));
    out.push_str(&format!(
        "  {} invalid (placeholder written), {} failed, {} conflicts, {} refused deletes, {} skipped\n",
        c.invalid, c.failed, c.conflicts, c.refused, c.skipped
    ));
    for (name, s) in &r.requests {
        out.push_str(&format!(
            "  {name}: {} requests, {} retries, {} rate-limited\n",
            s.requests, s.retries, s.rate_limited
        ));
    }
    if c.failed + c.conflicts + c.refused > 0 {
        out.push_str("  Failed and conflicting records are kept in the state store and retried by the next run.\n");
    }
    out
}
