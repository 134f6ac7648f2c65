//! The `aleph` command: demo servers and netcat-like clients built on the aleph library.
//!
//! Only `--help` and `--version` exist today; each protocol issue adds its subcommand to
//! [`Command`] (the TCP one brings `aleph demo` and `aleph tcp HOST:PORT`).

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

/// What `aleph --help` prints above the usage line.
const ABOUT: &str = "asynchronous communication: demo servers and netcat-like clients for \
TCP, UDP, HTTP and WebSocket";

/// What `aleph --help` prints below the options: which subcommands exist today.
const AFTER_HELP: &str = "No subcommands exist yet: the demo server and the TCP, UDP, HTTP \
and WebSocket clients arrive with the library support behind each.";

#[derive(Debug, Parser)]
#[command(name = "aleph", version, about = ABOUT, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands. Empty until the first protocol lands; `Option<Command>` in [`Cli`]
/// keeps a bare `aleph` valid (it prints the help) meanwhile.
#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("aleph: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `--help` / `--version` output as clap does (stdout, exit 0) and turns any
/// other parse failure into one line on stderr with exit status 2, the usage-error
/// convention clap and most Unix tools follow.
fn usage_error(err: clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err.exit(),
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let message = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("aleph: {message} (see 'aleph --help')");
            ExitCode::from(2)
        }
    }
}

/// Runs the parsed command; an `Err` becomes one line on stderr and exit status 1.
fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        None => {
            Cli::command().print_help()?;
            Ok(())
        }
        Some(command) => match command {},
    }
}
