//! The `aleph` command: demo servers and netcat-like clients built on the aleph library.

mod demo;
mod tcp;
mod udp;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

/// What `aleph --help` prints above the usage line.
const ABOUT: &str = "asynchronous communication: demo servers and netcat-like clients for \
TCP, UDP, HTTP and WebSocket";

/// What `aleph --help` prints below the options: which subcommands exist today.
const AFTER_HELP: &str = "Try: `aleph demo`, then `aleph tcp 127.0.0.1:10001` or `aleph udp \
127.0.0.1:10002` in another terminal. HTTP and WebSocket arrive with the library support behind each.";

#[derive(Debug, Parser)]
#[command(name = "aleph", version, about = ABOUT, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the demo servers on loopback and print where each listens (Ctrl-C stops them).
    Demo(demo::DemoArgs),
    /// Connect to a TCP (or TLS, or Unix socket) server: stdin goes to the socket, the
    /// socket to stdout. At the end of stdin the sending side is closed and output
    /// continues until the peer closes.
    Tcp(tcp::TcpArgs),
    /// Send each line of stdin as a UDP datagram to HOST:PORT and print every
    /// datagram that comes back; after the end of stdin, wait --wait seconds
    /// for the last replies.
    Udp(udp::UdpArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("aleph: {}", chain(&*err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line: "what failed: why: why deeper". A
/// cause whose text the line already holds is not repeated.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
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
    let Some(command) = cli.command else {
        Cli::command().print_help()?;
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Demo(args) => runtime.block_on(demo::run(args)),
        Command::Udp(args) => {
            let outcome = runtime.block_on(udp::run(args));
            runtime.shutdown_background();
            outcome
        }
        Command::Tcp(args) => {
            let outcome = runtime.block_on(tcp::run(args));
            // Reading stdin happens on a blocking thread that cannot be
            // interrupted; do not wait for it when the connection is over.
            runtime.shutdown_background();
            outcome
        }
    }
}
