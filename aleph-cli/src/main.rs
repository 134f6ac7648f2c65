//! The `aleph` command: demo servers and netcat-like clients built on the aleph library.

mod args;
mod demo;
mod demo_http;
mod http;
mod http_args;
mod http_output;
mod logging;
mod output;
mod signals;
mod tcp;
mod udp;

use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};

/// What `aleph --help` prints above the usage line.
const ABOUT: &str = "asynchronous networking from the command line: demo servers, an HTTP \
client, and netcat-like TCP and UDP clients (WebSocket and DNS are coming)";

/// What `aleph --help` prints below the options.
const AFTER_HELP: &str = "\
Examples:
  aleph demo                          TCP and UDP echo servers on 127.0.0.1:10001 and :10002
  aleph tcp 127.0.0.1:10001           type lines, get them back
  aleph udp 127.0.0.1:10002           the same, one datagram per line
  aleph tcp --tls example.com:443     TLS, verified against the system's roots
  aleph get -i https://example.com/   an HTTP GET, status line and headers first
  aleph post --json '{\"a\": 1}' URL  a POST with a JSON body

Coming: `aleph ws` (WebSocket) and `aleph dns`, each with the library support behind it.

Logging goes to stderr: warnings by default, -v for info, -vv for debug, -vvv for trace,
-q for errors only. RUST_LOG, when set, decides instead (for example RUST_LOG=aleph=debug).

Exit status:
  0    success; also when the reader of the output went away (a closed pipe)
  1    a runtime failure, told in one line on stderr; for get, post and request also
       a response status of 400 or more (its body is still written; --no-fail exits 0)
  2    a usage error (bad arguments), told by the usage message
  130  `aleph demo` stopped at once by a second SIGINT during its graceful shutdown
  143  the same for a second SIGTERM";

#[derive(Debug, Parser)]
#[command(name = "aleph", version, about = ABOUT, after_help = AFTER_HELP)]
struct Cli {
    /// More log output on stderr: -v info, -vv debug, -vvv trace.
    #[arg(
        short,
        long,
        action = ArgAction::Count,
        global = true,
        conflicts_with = "quiet",
        display_order = 100
    )]
    verbose: u8,
    /// Less log output on stderr: errors only.
    #[arg(short, long, global = true, display_order = 100)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the demo servers (TCP or TLS echo, UDP echo) and print where each listens;
    /// SIGINT (Ctrl-C) or SIGTERM stops them gracefully.
    #[command(after_help = demo::EXAMPLES)]
    Demo(demo::DemoArgs),
    /// Connect to a TCP (or TLS, or Unix socket) server: stdin goes to the socket, the
    /// socket to stdout. At the end of stdin the sending side is closed and output
    /// continues until the peer closes.
    #[command(after_help = tcp::EXAMPLES)]
    Tcp(tcp::TcpArgs),
    /// Send each line of stdin as a UDP datagram to HOST:PORT and print the datagrams
    /// that come back; after the end of stdin, wait --wait seconds for the last replies.
    #[command(after_help = udp::EXAMPLES)]
    Udp(udp::UdpArgs),
    /// Fetch a URL with GET over HTTP/1.1 or HTTP/2 (http or https); the body goes to
    /// stdout (or -o FILE), redirects are followed.
    #[command(after_help = http::GET_EXAMPLES)]
    Get(http::GetArgs),
    /// Send a POST with --data, --json or --form; the response body goes to stdout.
    #[command(after_help = http::POST_EXAMPLES)]
    Post(http::PostArgs),
    /// Send a request with any method (-X), with a body as post takes it.
    #[command(after_help = http::REQUEST_EXAMPLES)]
    Request(http::RequestArgs),
}

fn main() -> ExitCode {
    // Usage errors are clap's own full message on stderr and exit status 2;
    // --help and --version go to stdout with 0. Neither panics on a closed pipe.
    let cli = Cli::parse();
    logging::init(if cli.quiet {
        -1
    } else {
        i8::try_from(cli.verbose).unwrap_or(i8::MAX)
    });
    let verbose = cli.verbose > 0;
    let Some(command) = cli.command else {
        output::help(&Cli::command().render_help().to_string());
        return ExitCode::SUCCESS;
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let outcome = match command {
        Command::Demo(args) => runtime.block_on(demo::run(args)),
        Command::Tcp(args) => runtime.block_on(tcp::run(args)),
        Command::Udp(args) => runtime.block_on(udp::run(args)),
        Command::Get(args) => runtime.block_on(http::run(
            aleph::http::Method::GET,
            args.http,
            None,
            verbose,
        )),
        Command::Post(args) => runtime.block_on(http::run(
            aleph::http::Method::POST,
            args.http,
            Some(args.body),
            verbose,
        )),
        Command::Request(args) => {
            runtime.block_on(http::run(args.method, args.http, Some(args.body), verbose))
        }
    };
    // Reading stdin happens on a blocking thread that cannot be interrupted,
    // and a forced stop leaves connections behind: do not wait for either.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => code,
        Err(err) => {
            output::failure(&*err);
            ExitCode::FAILURE
        }
    }
}

/// The tokio runtime, or `None` once the reason it cannot start is told.
/// Out of file descriptors, tokio reports some steps as errors and panics in
/// others (its signal pipe): both are one line on stderr, never a panic
/// message, and the line is written by the panic hook itself, so that it is
/// there even in a build that aborts on panic.
fn runtime() -> Option<tokio::runtime::Runtime> {
    let tell = |reason: &str| output::note(&format!("cannot start the async runtime: {reason}"));
    let hook = std::panic::take_hook();
    // Only this thread runs code of ours yet: no other panic meets this hook.
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        tell(
            payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("tokio panicked"),
        );
    }));
    let built = std::panic::catch_unwind(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    });
    std::panic::set_hook(hook);
    match built {
        Ok(Ok(runtime)) => Some(runtime),
        Ok(Err(err)) => {
            tell(&err.to_string());
            None
        }
        // Told by the hook.
        Err(_) => None,
    }
}
