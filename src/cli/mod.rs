//! The command line: clap types, logging set-up, the exit-code table and the rendering of human
//! and JSON output. The only module that knows about flags, the terminal and exit codes; it
//! holds no logic the tests need beyond what they can reach through the binary.

pub mod exit;
mod explain;
mod queue;
pub mod render;
mod serve;
mod setup;
mod state;
mod sync;
mod test;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::mapping::env::Env;
use crate::mapping::{EnvMode, load_file, schema};
pub use exit::Exit;

/// Keeps records in two HTTP APIs in step, driven by one YAML mapping file.
#[derive(Debug, Parser)]
#[command(name = "mapsync", version, about, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// The log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// More log output: -v for mapsync's debug lines, -vv for everything (libraries too).
    /// `serve` and `sync` log at info by default, other commands only warnings. `RUST_LOG`
    /// overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const MAIN_EXAMPLES: &str = "\
Examples:
  mapsync validate mapping.yaml
  mapsync schema > schemas/mapping.schema.json
  mapsync test mapping.yaml
  mapsync sync --mapping mapping.yaml --direction outbound --dry-run

Exit codes: 0 ok, 1 invalid mapping, 2 usage error, 3 some records failed (sync), 4 stopped
before writing, 5 changes pending (setup --dry-run), 6 mapping tests failed (test), 66 no such
dead letter, 69 environment or API unavailable, 74 state store unusable, 130 sync interrupted.";

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check mapping files and report every problem at once.
    ///
    /// Stage 1 checks YAML syntax and the JSON Schema; stage 2 (only when stage 1 is clean)
    /// checks references, expressions, JSONPaths and environment variables.
    #[command(after_help = "\
Examples:
  mapsync validate mapping.yaml
  mapsync validate --json mappings/*.yaml
  MAPSYNC_MAPPING=mapping.yaml mapsync validate
  mapsync validate --deny-warnings mapping.yaml

Exits 0 when every file is valid (warnings allowed), 1 otherwise.")]
    Validate(ValidateArgs),
    /// Run the test cases declared in a mapping (`tests:`), offline.
    ///
    /// Each case plans one source record through the same engine as `sync` and `serve` — no
    /// network, no state store — and compares the plan with what the case expects: the decision,
    /// the fields written to the target, the status and the write-back to the source. A failure
    /// shows a per-field diff; the last line is `N passed, N failed`.
    #[command(after_help = "\
Examples:
  mapsync test mapping.yaml
  mapsync test --mapping mapping.yaml --filter email
  mapsync test mapping.yaml --json

Exit codes: 0 every case passed, 1 invalid mapping, 6 some cases failed.")]
    Test(TestArgs),
    /// Print the JSON Schema of mapping files, for editors (or, with --markdown, the reference).
    ///
    /// The committed copies are schemas/mapping.schema.json and docs/mapping-reference.md.
    #[command(after_help = "\
Examples:
  mapsync schema > schemas/mapping.schema.json
  mapsync schema --markdown > docs/mapping-reference.md")]
    Schema(SchemaArgs),
    /// Converge custom fields and webhook subscriptions on both systems.
    ///
    /// Reads what exists, shows the difference with the mapping's `setup` section as a plan
    /// (+ create, ~ update, -/+ replace, - delete), and applies it after confirmation. Only
    /// objects mapsync owns are ever changed, and nothing is deleted without --prune or
    /// --teardown.
    #[command(after_help = "\
Examples:
  mapsync setup --mapping mapping.yaml --public-url https://sync.example.com --dry-run
  mapsync setup --mapping mapping.yaml --public-url https://sync.example.com --yes
  mapsync setup --mapping mapping.yaml --teardown

Exit codes: 0 done (or nothing to do), 1 invalid mapping, 2 usage error (e.g. no --public-url),
4 not confirmed, 5 --dry-run found changes to make, 69 a credential is missing or an API call
failed (what was applied before is reported), 74 the state store cannot be used.")]
    Setup(SetupArgs),
    /// Receive webhooks and process them durably.
    ///
    /// One receiver per webhook the mapping declares: each delivery is verified over its raw
    /// bytes, stored in the inbox, and only then answered 2xx. Workers re-read each changed
    /// record and sync it with the same engine as `sync`. Also serves the OAuth install
    /// (/oauth/<system>/start), /healthz, /readyz and /metrics. Prints `Listening on
    /// http://ADDR` once bound; stops on SIGTERM or ctrl-c.
    #[command(after_help = "\
Example:
  mapsync serve --mapping mapping.yaml --listen 0.0.0.0:8080 --public-url https://sync.example.com

Exit codes: 0 stopped by a signal, 1 invalid mapping, 2 bad --public-url, 69 cannot listen, 74
the state store cannot be used.")]
    Serve(ServeArgs),
    /// Print a single-use OAuth install link for a system (valid 15 minutes).
    ///
    /// `mapsync serve` refuses to start an OAuth install (403) without such a link, so only
    /// someone who can run mapsync against its state store can install the app. Open the link
    /// in a browser and approve; the tokens are stored for `serve` and `sync`.
    #[command(after_help = "\
Example:
  mapsync oauth-link crm --mapping mapping.yaml --public-url https://sync.example.com

Exit codes: 0 printed, 1 invalid mapping, 2 not an OAuth system or bad --public-url, 74 the
state store cannot be used.")]
    OauthLink(OAuthLinkArgs),
    /// Show the inbox depth, dead letters, the last sync per direction and the links.
    #[command(after_help = "\
Examples:
  mapsync status --mapping mapping.yaml
  mapsync status --mapping mapping.yaml --json

Exit codes: 0 ok, 1 invalid mapping, 74 no state store or it cannot be read.")]
    Status(StatusArgs),
    /// List, retry or drop dead letters (events that failed for good).
    #[command(after_help = "\
Examples:
  mapsync dead-letters --mapping mapping.yaml list --json
  mapsync dead-letters --mapping mapping.yaml retry 12
  mapsync dead-letters --mapping mapping.yaml drop 12

Exit codes: 0 ok, 66 no dead letter with that id, 74 no state store or it cannot be used.")]
    DeadLetters(DeadLettersArgs),
    /// Explain one record: its link, base and current values, the next sync's plan, its history.
    ///
    /// Give a home or an external record id (a URI or a plain id, as the API gives it). Shows the
    /// pair (both ids and the link's state), the base (what was last synced) and each side's
    /// current value per field group (a live read; --offline skips it), what the next sync
    /// would do in each direction and why, and the record's history in time order from the
    /// audit trail the state store keeps (the newest MAPSYNC_AUDIT_RETENTION entries per
    /// record, 200 by default).
    #[command(after_help = "\
Examples:
  mapsync explain --mapping mapping.yaml 112
  mapsync explain --mapping mapping.yaml https://api.example.com/customer/1009/ --json
  mapsync explain --mapping mapping.yaml 112 --offline

Exit codes: 0 ok, 1 invalid mapping, 66 the store knows nothing about the record, 69 a system
cannot be reached, 74 no state store or it cannot be read.")]
    Explain(ExplainArgs),
    /// Work on state stores as a whole.
    #[command(subcommand)]
    State(StateCommand),
    /// Run a full sync in one direction, resumably.
    ///
    /// Indexes the target, then reads the source page by page: plans each record, writes
    /// what changed, and commits a checkpoint after every page, so a killed sync resumes where
    /// it stopped. Failed records are kept and retried by the next run.
    #[command(after_help = "\
Examples:
  mapsync sync --mapping mapping.yaml --direction outbound --dry-run
  mapsync sync --mapping mapping.yaml --direction outbound --max-creates 100
  mapsync sync --mapping mapping.yaml --direction inbound --json

With --json, the last line is {\"report\": …}; a dry run first prints one {\"plan\": …} line
per record.

Exit codes: 0 all synced, 1 invalid mapping, 3 some records failed or conflict (retried next
run), 4 stopped by a safety rail, 69 a credential is missing or an API keeps failing, 74 the
state store cannot be used, 130 interrupted by ctrl-c (run it again to resume).")]
    Sync(SyncArgs),
}

/// `mapsync validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Mapping files to check. Default: the `--mapping` file.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub mapping: MappingArg,
    /// Print the diagnostics as JSON (the same as `--format json`).
    #[arg(long)]
    pub json: bool,
    /// Output format (`--json` is the short way to ask for JSON).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `file:line:col: error[code]: message` lines and a summary.
    Human,
    /// A JSON array of diagnostics.
    Json,
}

/// `mapsync schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the mapping reference (every section and key, its type and meaning) as Markdown.
    #[arg(long, conflicts_with = "language")]
    pub markdown: bool,
    /// Print the expression-language reference (filters, tests, functions, and each key's
    /// kind and variables as compiling these mappings records them) as Markdown.
    #[arg(long, value_name = "MAPPING", num_args = 1..)]
    pub language: Vec<PathBuf>,
}

/// `mapsync test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The mapping whose cases to run. Default: the `--mapping` file.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub mapping: MappingArg,
    /// Run only the cases whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Print one JSON document: the counts, every case with its direction, line and outcome (a
    /// failure with its differences and plan), and the errors of an invalid mapping.
    #[arg(long)]
    pub json: bool,
}

/// The mapping file a command works from.
#[derive(Debug, Args)]
pub struct MappingArg {
    /// The mapping file.
    #[arg(
        short,
        long,
        global = true,
        env = "MAPSYNC_MAPPING",
        default_value = "mapsync.yaml",
        value_name = "FILE"
    )]
    pub mapping: PathBuf,
}

/// `mapsync setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub mapping: MappingArg,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The public base URL webhooks are delivered to.
    #[arg(long, env = "MAPSYNC_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Also delete what mapsync created before but the mapping no longer wants.
    #[arg(long)]
    pub prune: bool,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Remove what setup created, after a plan.
    #[arg(long)]
    pub teardown: bool,
    /// The state store: a SQLite file, or a `postgres://user@host/db[?schema=name]` URL for a
    /// store several instances share. Default: `<mapping>.state.db` next to the mapping.
    #[arg(long, env = "MAPSYNC_STATE", value_name = "PATH|URL")]
    pub state: Option<PathBuf>,
}

/// `mapsync serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub mapping: MappingArg,
    /// The address to listen on.
    #[arg(
        long,
        env = "MAPSYNC_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub listen: String,
    /// The public base URL webhooks are delivered to.
    #[arg(long, env = "MAPSYNC_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Worker tasks processing the inbox.
    #[arg(long, env = "MAPSYNC_WORKERS", default_value_t = 4, value_name = "N")]
    pub workers: usize,
    /// This instance's name among those sharing a PostgreSQL store; stable across restarts, so
    /// a restarted instance takes over at once what it held when it died. Default:
    /// `<hostname>:<port>`.
    #[arg(long, env = "MAPSYNC_INSTANCE", value_name = "NAME")]
    pub instance: Option<String>,
    /// The state store: a SQLite file, or a `postgres://user@host/db[?schema=name]` URL for a
    /// store several instances share. Default: `<mapping>.state.db` next to the mapping.
    #[arg(long, env = "MAPSYNC_STATE", value_name = "PATH|URL")]
    pub state: Option<PathBuf>,
    /// Seconds a client has to send a request's headers; a kept-alive connection that sends
    /// nothing for this long is closed too.
    #[arg(
        long,
        env = "MAPSYNC_HEADER_TIMEOUT",
        default_value_t = 10.0,
        value_name = "SECS"
    )]
    pub header_timeout: f64,
    /// Open connections at most (default: the open-file limit less 128). At the cap the oldest
    /// idle connection is closed; when all are busy, new ones get 503.
    #[arg(long, env = "MAPSYNC_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds to finish requests in flight and the workers' records after SIGTERM; then what is
    /// left is dropped (nothing acknowledged is lost).
    #[arg(
        long,
        env = "MAPSYNC_DRAIN",
        default_value_t = 10.0,
        value_name = "SECS"
    )]
    pub drain: f64,
    /// Days processed inbox events are kept (for deduplicating redeliveries) before `serve`
    /// prunes them.
    #[arg(
        long,
        env = "MAPSYNC_INBOX_RETENTION_DAYS",
        default_value_t = 7,
        value_name = "DAYS"
    )]
    pub inbox_retention_days: u32,
}

/// `mapsync oauth-link`.
#[derive(Debug, Args)]
pub struct OAuthLinkArgs {
    #[command(flatten)]
    pub mapping: MappingArg,
    /// The system to install (one whose auth is oauth2).
    #[arg(value_name = "SYSTEM")]
    pub system: String,
    /// The public base URL `mapsync serve` answers on.
    #[arg(long, env = "MAPSYNC_PUBLIC_URL", value_name = "URL")]
    pub public_url: String,
    /// The state store (SQLite file) `mapsync serve` uses. Default: `<mapping>.state.db` next
    /// to the mapping.
    #[arg(long, env = "MAPSYNC_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Let this install move the system to another account than the one it is pinned to
    /// (webhook events from the old account are refused from then on).
    #[arg(long)]
    pub replace_account: bool,
}

/// `mapsync status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub mapping: MappingArg,
    /// The state store: a SQLite file, or a `postgres://user@host/db[?schema=name]` URL for a
    /// store several instances share. Default: `<mapping>.state.db` next to the mapping.
    #[arg(long, env = "MAPSYNC_STATE", value_name = "PATH|URL")]
    pub state: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `mapsync dead-letters`.
#[derive(Debug, Args)]
pub struct DeadLettersArgs {
    #[command(flatten)]
    pub mapping: MappingArg,
    /// The state store: a SQLite file, or a `postgres://user@host/db[?schema=name]` URL for a
    /// store several instances share. Default: `<mapping>.state.db` next to the mapping.
    #[arg(long, global = true, env = "MAPSYNC_STATE", value_name = "PATH|URL")]
    pub state: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: DeadLetterAction,
}

/// `mapsync state …`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy a state store into another, e.g. from SQLite to PostgreSQL.
    ///
    /// Copies the pair's links, the ledger and status marks of every linked record, unsettled
    /// create intents, the systems' OAuth tokens and the dead letters. Stop `serve` first: the
    /// source's inbox must be empty, and the destination must hold no links of the pair yet.
    #[command(after_help = "\
Examples:
  mapsync state migrate --mapping mapping.yaml --from sqlite:mapping.state.db \\
      --to 'postgres://mapsync@db.internal/sync?schema=crm'

Exit codes: 0 copied, 1 invalid mapping, 2 the source's inbox is not empty or the destination
already holds links, 74 a store cannot be used.")]
    Migrate(MigrateArgs),
}

/// `mapsync state migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub mapping: MappingArg,
    /// The store to copy from: a SQLite file (`sqlite:PATH` or a path) or a `postgres://` URL.
    #[arg(long, value_name = "PATH|URL")]
    pub from: PathBuf,
    /// The store to copy into (created and migrated as needed).
    #[arg(long, value_name = "PATH|URL")]
    pub to: PathBuf,
}

/// What `dead-letters` does.
#[derive(Debug, Subcommand)]
pub enum DeadLetterAction {
    /// List every dead letter.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put a dead letter back into the inbox for another attempt.
    Retry {
        /// The dead letter's id (from `list`).
        id: i64,
    },
    /// Forget a dead letter.
    Drop {
        /// The dead letter's id (from `list`).
        id: i64,
    },
}

/// `mapsync explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The record: a home or an external id, as the APIs give it.
    #[arg(value_name = "RECORD")]
    pub record: String,
    #[command(flatten)]
    pub mapping: MappingArg,
    /// The state store (SQLite file). Default: `<mapping>.state.db` next to the mapping.
    #[arg(long, env = "MAPSYNC_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Use only the state store: no live read, so no current values and no next-sync plan.
    #[arg(long)]
    pub offline: bool,
}

/// `mapsync sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub mapping: MappingArg,
    /// Inbound copies external → home; outbound copies home → external.
    #[arg(long, value_enum)]
    pub direction: DirectionArg,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan and outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Sync at most N records.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Stop before planning more than N creates.
    #[arg(long, value_name = "N")]
    pub max_creates: Option<u64>,
    /// Stop before planning more than N deletes.
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<u64>,
    /// The state store: a SQLite file, or a `postgres://user@host/db[?schema=name]` URL for a
    /// store several instances share. Default: `<mapping>.state.db` next to the mapping.
    #[arg(long, env = "MAPSYNC_STATE", value_name = "PATH|URL")]
    pub state: Option<PathBuf>,
    /// Allow a first sync into a target that already holds records when the mapping declares
    /// no match keys (existing records are then not linked, and may be duplicated).
    #[arg(long)]
    pub allow_unmatched: bool,
    /// Start over instead of resuming an unfinished sync.
    #[arg(long)]
    pub fresh: bool,
}

/// A sync direction on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// External → home.
    Inbound,
    /// Home → external.
    Outbound,
}

/// Sets up `tracing` on stderr, in the chosen format and verbosity.
pub fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::field::MakeExt;
    // `serve` and `sync` tell what they do (a line per record acted on); the other commands
    // print their result and log only problems. `-v` adds mapsync's own debug lines, never the
    // libraries' (hyper, reqwest, sqlx…); `-vv` adds everything.
    let busy = matches!(cli.command, Command::Serve(_) | Command::Sync(_));
    let default = match (cli.verbose, busy) {
        (0, true) => "warn,mapsync=info",
        (0, false) => "warn",
        (1, _) => "warn,mapsync=debug",
        _ => "debug,mapsync=trace",
    };
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The PostgreSQL driver logs every statement's parameters at debug level, and those hold
    // tokens and record payloads: never below warn, whatever the verbosity.
    for quiet in ["tokio_postgres=warn", "deadpool_postgres=warn"] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cli.log_format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(
                tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
                    let text = escape_log(&format!("{value:?}"));
                    if field.name() == "message" {
                        write!(w, "{text}")
                    } else {
                        write!(w, "{field}={text}")
                    }
                })
                .delimited(" "),
            )
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `mapsync schema --language`: the expression-language reference from the keys the given
/// mappings compile (each must pass stage 1).
fn schema_language(files: &[PathBuf]) -> Exit {
    let env = Env::process();
    let mut keys = Vec::new();
    for f in files {
        let loaded = load_file(f, &env, EnvMode::Lenient);
        let Some(raw) = loaded.raw else {
            eprintln!(
                "error: {} does not pass stage 1; run `mapsync validate {}`",
                f.display(),
                f.display()
            );
            return Exit::Invalid;
        };
        keys.extend(crate::mapping::compile(&raw, &env, EnvMode::Lenient).keys);
    }
    print(&crate::mapping::expr_reference::markdown(&keys));
    Exit::Ok
}

/// A log field's text with every control character escaped (`\n`, `\u{1b}`, …), so a value
/// from a remote system (a record id, an API's error text) can never forge a log line or
/// drive the terminal. JSON logs escape by themselves.
pub(crate) fn escape_log(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Runs one command and says how it ended.
pub fn run(cli: Cli) -> Exit {
    if let Some(n) = std::env::var("MAPSYNC_AUDIT_RETENTION")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
    {
        crate::runner::set_audit_retention(n);
    }
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Test(args) => test::run(&args),
        Command::Schema(args) if !args.language.is_empty() => schema_language(&args.language),
        Command::Schema(args) => {
            print(&if args.markdown {
                crate::mapping::reference::markdown()
            } else {
                schema::schema_json()
            });
            Exit::Ok
        }
        Command::Setup(args) => setup::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::OauthLink(args) => serve::oauth_link(&args),
        Command::Sync(args) => sync::run(&args),
        Command::Status(args) => queue::status(&args),
        Command::DeadLetters(args) => queue::dead_letters(&args),
        Command::Explain(args) => explain::run(&args),
        Command::State(StateCommand::Migrate(args)) => state::migrate(&args),
    }
}

fn validate(args: &ValidateArgs) -> Exit {
    let env = Env::process();
    let stdout = std::io::stdout();
    let style = render::Style {
        color: stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let (mut errors, mut warnings) = (0, 0);
    let mut all = Vec::new();
    let mut text = String::new();
    let files = if args.files.is_empty() {
        std::slice::from_ref(&args.mapping.mapping)
    } else {
        args.files.as_slice()
    };
    for path in files {
        tracing::debug!(file = %path.display(), "Validating mapping.");
        let loaded = load_file(path, &env, EnvMode::Lenient);
        errors += loaded.errors();
        warnings += loaded.warnings();
        let name = path.display().to_string();
        if loaded.diagnostics.is_empty() {
            text.push_str(&format!("{name}: ok\n"));
        }
        for d in &loaded.diagnostics {
            text.push_str(&render::human(d, &name, style));
        }
        all.extend(loaded.diagnostics);
    }
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Human => {
            text.push_str(&render::summary(errors, warnings, files.len()));
            print(&text);
        }
        Format::Json => print(&render::json(&all)),
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        Exit::Invalid
    } else {
        Exit::Ok
    }
}

/// Writes to stdout, ignoring a closed pipe (`mapsync schema | head`).
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_fields_cannot_forge_lines() {
        assert_eq!(
            super::escape_log("104\n2026-01-01 INFO forged"),
            "104\\n2026-01-01 INFO forged"
        );
        assert_eq!(super::escape_log("a\u{1b}[31mb\r"), "a\\u{1b}[31mb\\r");
        assert_eq!(super::escape_log("plain é"), "plain é");
    }
}
