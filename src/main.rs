//! The `mapsync` binary: parses arguments, sets up logging, runs one command through the
//! library and maps its outcome to an exit code (see `mapsync::cli::exit` for the table).

use std::process::ExitCode;

use clap::Parser;
use mapsync::cli::{Cli, Exit, init_logging, run};

fn main() -> ExitCode {
    mapsync::init_crypto();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` also arrive here, as "errors" that exit 0.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Ok.into()
            };
        }
    };
    init_logging(&cli);
    run(cli).into()
}
