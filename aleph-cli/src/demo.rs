//! `aleph demo`: a TCP (or TLS) echo, a UDP echo and an HTTP test service
//! (HTTPS with HTTP/2 under --tls), stopped gracefully by SIGINT or SIGTERM.

use std::error::Error;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aleph::http::{self, ServerOptions};
use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpServerOptions};
use aleph::tls::{Identity, ServerTls, ServerTlsOptions};
use aleph::udp::{self, UdpOptions};
use clap::Args;

use crate::args;
use crate::demo_http;
use crate::output::{note, say};
use crate::signals::StopSignals;

pub const EXAMPLES: &str = "\
Examples:
  aleph demo
  aleph demo --host :: --tcp-port 7000 --udp-port 7001
  aleph demo --tls --cert-out demo.pem   then: aleph tcp --tls --cacert demo.pem localhost:10001
  aleph demo   then: curl http://127.0.0.1:8080/stream?n=3   (h2c: --http2-prior-knowledge)
  aleph demo --tls --cert-out demo.pem   then: curl --http2 --cacert demo.pem https://localhost:8080/

HTTP endpoints:
  /                  \"hello!\" (text/plain)
  /stream?n=N&ms=M   N chunks \"chunk I\" M ms apart (defaults 10 and 0), one chunk each
  /events?ms=M       server-sent events, a tick every M ms (default 1000), ids 0, 1, 2, ...
  /upload            reads the body, answers its byte count
  /echo              streams the body back with its content type
  /request           the request as JSON (Ring's keys)
  /status/N          answers status N (200 to 599)
  /delay/MS          \"hello!\" after MS ms (at most 60000)
  /bytes/N           N pseudo-random bytes with a Content-Length (at most 100 MiB)";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The address to listen on: IPv4 or IPv6 (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = args::listen_host)]
    host: IpAddr,
    /// Port of the TCP echo server (0 picks a free one; the printed address shows which).
    #[arg(long, default_value_t = 10001, value_name = "PORT")]
    tcp_port: u16,
    /// Port of the UDP echo (0 picks a free one; the printed address shows which).
    #[arg(long, default_value_t = 10002, value_name = "PORT")]
    udp_port: u16,
    /// Serve TLS with a fresh self-signed certificate (for localhost, 127.0.0.1, ::1 and
    /// --host) instead of plain TCP; its SHA-256 fingerprint is printed.
    #[arg(long)]
    tls: bool,
    /// With --tls: write the certificate (PEM) to FILE, for clients to trust with --cacert.
    #[arg(long, value_name = "FILE", requires = "tls")]
    cert_out: Option<PathBuf>,
    /// Port of the HTTP server: HTTP/1.1 and h2c, or with --tls HTTPS with HTTP/2 by ALPN
    /// (0 picks a free one; the printed address shows which).
    #[arg(long, default_value_t = 8080, value_name = "PORT")]
    http_port: u16,
    /// HTTP: the longest a client may take to send a request's head, in seconds (0: no
    /// limit).
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = args::seconds)]
    header_read_timeout: Duration,
    /// HTTP: the longest wait for the next bytes of a request body being read, in seconds
    /// (0: no limit; past it the answer is 408).
    #[arg(long, default_value = "60", value_name = "SECONDS", value_parser = args::seconds)]
    body_read_timeout: Duration,
    /// HTTP: the largest request body accepted, in bytes (larger gets 413) [default: no
    /// limit].
    #[arg(long, value_name = "BYTES")]
    max_body_size: Option<u64>,
    /// HTTP: the most connections served at once (more get 503) [default: no limit].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// HTTP: close connections with no request for this long, in seconds (0: never).
    #[arg(long, default_value = "60", value_name = "SECONDS", value_parser = args::seconds)]
    idle_timeout: Duration,
    /// How long a stop signal lets open connections finish before they are closed, in
    /// seconds (fractions allowed).
    #[arg(long, default_value = "5", value_name = "SECONDS", value_parser = args::seconds, allow_negative_numbers = true)]
    shutdown_timeout: Duration,
}

pub async fn run(args: DemoArgs) -> Result<ExitCode, Box<dyn Error>> {
    // Catch the stop signals before printing anything: a script that signals
    // as soon as it reads the addresses must get a graceful shutdown.
    let mut signals = StopSignals::new().map_err(|e| format!("cannot catch signals: {e}"))?;
    let tls = if args.tls { Some(tls(&args)?) } else { None };
    let scheme = if tls.is_some() { "tls" } else { "tcp" };
    let echo = tcp::start_server(
        |conn, info| async move {
            let peer = info
                .remote_addr
                .map_or_else(|| "?".to_owned(), |addr| addr.to_string());
            let _open = Open::new(peer);
            if let Err(error) = stream::connect(conn.clone(), conn, ConnectOptions::default()).await
            {
                tracing::debug!(%error, "echo ended with an error");
            }
        },
        TcpServerOptions {
            host: args.host,
            port: args.tcp_port,
            tls: tls.as_ref().map(|(tls, _)| tls.clone()),
            shutdown_timeout: args.shutdown_timeout,
            ..TcpServerOptions::default()
        },
    )
    .await
    .map_err(|e| wrap("tcp echo", e))?;
    let addr = echo.local_addr().ok_or("tcp echo: no listening address")?;
    let udp_echo = udp::socket(UdpOptions {
        port: args.udp_port,
        host: args.host,
        ..UdpOptions::default()
    })
    .await
    .map_err(|e| wrap("udp echo", e))?;
    // Each packet carries its sender, so sending it back is an echo.
    let udp_addr = udp_echo.local_addr();
    let udp_echo = udp_echo.into_duplex();
    stream::connect(
        udp_echo.clone(),
        udp_echo.clone(),
        ConnectOptions::default(),
    );

    // The demo's output is for whoever started it; if they stopped reading
    // (`aleph demo | head -1`), the servers go on serving.
    tracing::info!("{scheme} echo listening on {addr}");
    say(&format!("{scheme} echo listening on {addr}"));
    if let Some((_, fingerprint)) = &tls {
        say(&format!("certificate SHA-256 fingerprint {fingerprint}"));
    }
    tracing::info!("udp echo listening on {udp_addr}");
    say(&format!("udp echo listening on {udp_addr}"));
    let http_scheme = if tls.is_some() { "https" } else { "http" };
    let web = http::start_server(demo_http::handle, http_options(&args, &tls))
        .await
        .map_err(|e| wrap("http server", e))?;
    let web_addr = web
        .local_addr()
        .ok_or("http server: no listening address")?;
    tracing::info!("{http_scheme} server listening on {web_addr}");
    say(&format!("{http_scheme} server listening on {web_addr}"));
    say("press Ctrl-C (or send SIGTERM) to stop");

    let first = signals.recv().await;
    let grace = args::show(args.shutdown_timeout);
    note(&format!(
        "{} received: shutting down, open connections get up to {grace} to finish \
         (a second signal stops at once)",
        first.name()
    ));
    tracing::info!(
        open = echo.connections() + web.connections(),
        "shutting down"
    );
    udp_echo.close();
    // Both drain at once: listeners closed, idle HTTP connections closed and
    // HTTP/2 ones sent a GOAWAY, in-flight requests finished or cut at the
    // timeout (still a clean exit).
    tokio::select! {
        ((), ()) = async { tokio::join!(echo.close(), web.close()) } => {
            tracing::info!("shut down");
            Ok(ExitCode::SUCCESS)
        }
        second = signals.recv() => {
            note(&format!(
                "{} received: stopping now, closing {} open connection(s)",
                second.name(),
                echo.connections() + web.connections()
            ));
            Ok(ExitCode::from(second.exit_status()))
        }
    }
}

/// The HTTP server's options: the flags, and the library's defaults for
/// the rest; a zero timeout means none.
fn http_options(args: &DemoArgs, tls: &Option<(ServerTls, String)>) -> ServerOptions {
    let limit = |timeout: Duration| (!timeout.is_zero()).then_some(timeout);
    ServerOptions {
        host: args.host,
        port: args.http_port,
        tls: tls.as_ref().map(|(tls, _)| tls.clone()),
        header_read_timeout: limit(args.header_read_timeout),
        body_read_timeout: limit(args.body_read_timeout),
        max_body_size: args.max_body_size,
        max_connections: args.max_connections,
        idle_timeout: limit(args.idle_timeout),
        shutdown_timeout: args.shutdown_timeout,
        ..ServerOptions::default()
    }
}

/// The server's TLS configuration and its certificate's fingerprint; the
/// certificate is written to `--cert-out` first, if asked.
fn tls(args: &DemoArgs) -> Result<(ServerTls, String), Box<dyn Error>> {
    let host = args.host.to_string();
    let mut names = vec!["localhost", "127.0.0.1", "::1"];
    if !args.host.is_unspecified() && !names.contains(&host.as_str()) {
        names.push(&host);
    }
    let identity = Identity::self_signed(&names).map_err(|e| wrap("tls certificate", e))?;
    if let Some(path) = &args.cert_out {
        std::fs::write(path, identity.certificate_pem())
            .map_err(|e| format!("cannot write the certificate to {}: {e}", path.display()))?;
    }
    let fingerprint = fingerprint(identity.chain().first().map_or(&[][..], |leaf| leaf));
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(identity),
        ..ServerTlsOptions::default()
    })
    .map_err(|e| wrap("tls configuration", e))?;
    Ok((tls, fingerprint))
}

/// A certificate's SHA-256 fingerprint as `openssl x509 -fingerprint -sha256`
/// writes it: uppercase hex pairs joined by colons.
fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An error of one of the demo's parts, prefixed with which.
fn wrap(part: &str, err: aleph::Error) -> Box<dyn Error> {
    struct Part {
        part: String,
        err: aleph::Error,
    }
    impl std::fmt::Debug for Part {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {:?}", self.part, self.err)
        }
    }
    impl std::fmt::Display for Part {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.part, self.err)
        }
    }
    impl Error for Part {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.err.source()
        }
    }
    Box::new(Part {
        part: part.to_owned(),
        err,
    })
}

/// Logs a connection's opening when made and its end when dropped, however
/// it ends (the peer closed, or the shutdown timeout cut it).
struct Open {
    peer: String,
}

impl Open {
    fn new(peer: String) -> Open {
        tracing::debug!(%peer, "connection opened");
        Open { peer }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        tracing::debug!(peer = %self.peer, "connection closed");
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Demo {
        #[command(flatten)]
        args: super::DemoArgs,
    }

    #[test]
    fn the_http_flags_default_to_the_librarys_defaults() {
        let demo = Demo::parse_from(["demo"]);
        let ours = super::http_options(&demo.args, &None);
        let library = aleph::http::ServerOptions::default();
        assert_eq!(ours.header_read_timeout, library.header_read_timeout);
        assert_eq!(ours.body_read_timeout, library.body_read_timeout);
        assert_eq!(ours.max_body_size, library.max_body_size);
        assert_eq!(ours.max_connections, library.max_connections);
        assert_eq!(ours.idle_timeout, library.idle_timeout);
        assert_eq!(ours.port, 8080);
    }

    #[test]
    fn fingerprints_are_colon_separated_uppercase_sha256() {
        // SHA-256 of the empty input.
        assert_eq!(
            super::fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }
}
