//! `aleph tcp HOST:PORT`: a netcat-like client.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::bytes::BytesMut;
use aleph::tcp::{self, TcpClientOptions};
use aleph::tls::{ClientTls, ClientTlsOptions, TrustRoots};
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::args::{self, Target};
use crate::output;

pub const EXAMPLES: &str = "\
Examples:
  echo hello | aleph tcp 127.0.0.1:10001
  aleph tcp [::1]:10001
  aleph tcp --tls --cacert demo.pem localhost:10001
  printf 'GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n' | aleph tcp --tls example.com:443
  aleph tcp --unix /run/app.sock";

#[derive(Debug, Args)]
pub struct TcpArgs {
    /// Where to connect: HOST:PORT (IPv6 as [ADDR]:PORT). Not needed with --unix.
    #[arg(value_name = "HOST:PORT", required_unless_present = "unix", value_parser = args::target)]
    target: Option<Target>,
    /// Connect with TLS, verifying the server's certificate against the system's roots
    /// (or --cacert).
    #[arg(long)]
    tls: bool,
    /// With --tls: trust the certificates in this PEM file (a private CA, or a
    /// self-signed server's own certificate) instead of the system's roots.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls",
        conflicts_with = "insecure"
    )]
    cacert: Option<PathBuf>,
    /// With --tls: accept any certificate and host name (for testing only).
    #[arg(long, requires = "tls")]
    insecure: bool,
    /// Connect to this Unix domain socket instead of HOST:PORT.
    #[arg(long, value_name = "PATH", conflicts_with = "target")]
    unix: Option<PathBuf>,
    /// The longest connecting may take (resolving, connecting and the TLS handshake), in
    /// seconds; fractions allowed.
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = args::positive_seconds, allow_negative_numbers = true)]
    connect_timeout: Duration,
}

pub async fn run(args: TcpArgs) -> Result<ExitCode, Box<dyn Error>> {
    let mut options = match (&args.unix, &args.target) {
        (Some(path), _) => TcpClientOptions {
            unix: Some(path.clone()),
            ..TcpClientOptions::default()
        },
        (None, Some(target)) => TcpClientOptions::new(target.library_host(), target.port),
        (None, None) => return Err("give HOST:PORT or --unix PATH".into()),
    };
    options.connect_timeout = args.connect_timeout;
    if args.tls {
        options.tls = Some(client_tls(&args)?);
    }
    let conn = tcp::client(options).await?;
    let (inbound, outbound) = conn.into_parts();

    // Set before the sending side closes, so it is seen once the peer has
    // answered that close.
    let stdin_failed = Arc::new(AtomicBool::new(false));
    let upload = tokio::spawn({
        let stdin_failed = stdin_failed.clone();
        async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = BytesMut::with_capacity(16 * 1024);
            loop {
                buf.reserve(16 * 1024);
                match stdin.read_buf(&mut buf).await {
                    Ok(0) => break,
                    Ok(_) => {
                        if outbound.send(buf.split().freeze()).await.is_err() {
                            return;
                        }
                    }
                    // Unreadable stdin ends the upload as its end does, told at once.
                    Err(err) => {
                        output::note(&format!(
                            "cannot read stdin: {err}; the sending side is closed"
                        ));
                        stdin_failed.store(true, Ordering::SeqCst);
                        break;
                    }
                }
            }
            // The end of stdin: half-close, and keep printing what comes back.
            outbound.close();
        }
    });

    let mut stdout = tokio::io::stdout();
    while let Some(chunk) = inbound.recv().await {
        let written = match stdout.write_all(&chunk).await {
            Ok(()) => stdout.flush().await,
            Err(err) => Err(err),
        };
        match written {
            Ok(()) => {}
            // The reader went away (`| head -c 5`): done, quietly, as nc is.
            Err(err) if output::reader_gone(&err) => {
                upload.abort();
                return Ok(ExitCode::SUCCESS);
            }
            Err(err) => {
                upload.abort();
                return Err(format!("cannot write to stdout: {err}").into());
            }
        }
    }
    upload.abort();
    match inbound.error() {
        Some(error) => Err(error.into()),
        // Already told on stderr.
        None if stdin_failed.load(Ordering::SeqCst) => Ok(ExitCode::FAILURE),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The client's TLS: the system's roots, the roots of `--cacert`, or none at all.
fn client_tls(args: &TcpArgs) -> Result<ClientTls, Box<dyn Error>> {
    if args.insecure {
        return Ok(ClientTls::insecure());
    }
    let roots = match &args.cacert {
        Some(path) => TrustRoots::Pem(read_cacert(path)?),
        None => TrustRoots::System,
    };
    let tls = ClientTls::new(ClientTlsOptions {
        roots,
        ..ClientTlsOptions::default()
    });
    match (&args.cacert, tls) {
        (_, Ok(tls)) => Ok(tls),
        (Some(path), Err(err)) => Err(format!("--cacert {}: {err}", path.display()).into()),
        (None, Err(err)) => Err(err.into()),
    }
}

/// The most `--cacert` reads: many times the largest CA bundles (a few
/// hundred KiB), and a bound for a path that never ends (`/dev/zero`).
const CACERT_LIMIT: u64 = 16 * 1024 * 1024;

/// The contents of the `--cacert` file, refused past [`CACERT_LIMIT`].
pub fn read_cacert(path: &Path) -> Result<Vec<u8>, Box<dyn Error>> {
    use std::io::Read;

    let cannot = |e: std::io::Error| format!("cannot read --cacert {}: {e}", path.display());
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(CACERT_LIMIT + 1).read_to_end(&mut pem))
        .map_err(cannot)?;
    if pem.len() as u64 > CACERT_LIMIT {
        return Err(format!(
            "--cacert {} is larger than {} MiB: not a certificate file",
            path.display(),
            CACERT_LIMIT / (1024 * 1024)
        )
        .into());
    }
    Ok(pem)
}
