//! The exit-code table: the only place exit codes are defined. README.md repeats it, and the
//! integration tests pin it.

use std::process::ExitCode;

/// How a `mapsync` run ended, as the process exit code scripts see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success; for `validate`, every mapping is valid (warnings allowed unless
    /// `--deny-warnings`).
    Ok,
    /// 1: a mapping is invalid (or has warnings under `--deny-warnings`), or cannot be read.
    Invalid,
    /// 2: the command line is wrong (clap's own code for usage errors).
    Usage,
    /// 3: a sync finished, but some records failed or conflict (they are kept and retried).
    Partial,
    /// 4: a safety rail stopped a sync before it wrote more (`--max-creates`, `--max-deletes`,
    /// a first sync that would create duplicates), or `setup` was not confirmed.
    Refused,
    /// 5: `setup --dry-run` found changes to make (not 2, which is clap's usage code).
    ChangesPending,
    /// 6: `mapsync test` ran the mapping's test cases and at least one failed.
    TestsFailed,
    /// 66 (`EX_NOINPUT`): `dead-letters retry|drop` named a dead letter that does not exist.
    NotFound,
    /// 69 (`EX_UNAVAILABLE`): the environment or an API is unavailable (a credential is
    /// missing, an API keeps failing); also a subcommand that is not implemented yet.
    Unavailable,
    /// 74 (`EX_IOERR`): the state store cannot be opened or written.
    Store,
    /// 75 (`EX_TEMPFAIL`): another process is doing the same work on the state store: a `sync`
    /// of the same pair and direction is running, or a `serve` runs on the store. Try again
    /// when it has finished.
    Busy,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Invalid => 1,
            Exit::Usage => 2,
            Exit::Partial => 3,
            Exit::Refused => 4,
            Exit::ChangesPending => 5,
            Exit::TestsFailed => 6,
            Exit::NotFound => 66,
            Exit::Unavailable => 69,
            Exit::Store => 74,
            Exit::Busy => 75,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}
