//! `aleph tcp HOST:PORT`: a netcat-like client.

use std::path::PathBuf;

use aleph::bytes::BytesMut;
use aleph::tcp::{self, TcpClientOptions};
use aleph::tls::ClientTls;
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Args)]
pub struct TcpArgs {
    /// Where to connect: HOST:PORT (IPv6 as [ADDR]:PORT). Not needed with --unix.
    #[arg(value_name = "HOST:PORT", required_unless_present = "unix")]
    target: Option<String>,
    /// Connect with TLS, verifying the server's certificate against the system's roots.
    #[arg(long)]
    tls: bool,
    /// With --tls: accept any certificate and host name (for testing only).
    #[arg(long, requires = "tls")]
    insecure: bool,
    /// Connect to this Unix domain socket instead of HOST:PORT.
    #[arg(long, value_name = "PATH", conflicts_with = "target")]
    unix: Option<PathBuf>,
}

/// Splits "host:port" and "[v6]:port".
pub(crate) fn parse_target(target: &str) -> Result<(String, u16), String> {
    let (host, port) = target
        .rsplit_once(':')
        .ok_or_else(|| format!("'{target}' is not HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("'{port}' in '{target}' is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("'{target}' has no host"));
    }
    Ok((host.to_owned(), port))
}

pub async fn run(args: TcpArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = match (&args.unix, &args.target) {
        (Some(path), _) => TcpClientOptions {
            unix: Some(path.clone()),
            ..TcpClientOptions::default()
        },
        (None, Some(target)) => {
            let (host, port) = parse_target(target)?;
            TcpClientOptions::new(host, port)
        }
        (None, None) => return Err("give HOST:PORT or --unix PATH".into()),
    };
    if args.tls {
        options.tls = Some(if args.insecure {
            ClientTls::insecure()
        } else {
            ClientTls::new(aleph::tls::ClientTlsOptions {
                roots: aleph::tls::TrustRoots::System,
                ..Default::default()
            })?
        });
    }
    let conn = tcp::client(options).await?;
    let (inbound, outbound) = conn.into_parts();

    let upload = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            buf.reserve(16 * 1024);
            match stdin.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if outbound.send(buf.split().freeze()).await.is_err() {
                        return;
                    }
                }
            }
        }
        // The end of stdin: half-close, and keep printing what comes back.
        outbound.close();
    });

    let mut stdout = tokio::io::stdout();
    while let Some(chunk) = inbound.recv().await {
        stdout.write_all(&chunk).await?;
        stdout.flush().await?;
    }
    upload.abort();
    match inbound.error() {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn targets_parse_with_names_ipv4_and_ipv6() {
        assert_eq!(
            parse_target("localhost:80").unwrap(),
            ("localhost".into(), 80)
        );
        assert_eq!(
            parse_target("127.0.0.1:10001").unwrap(),
            ("127.0.0.1".into(), 10001)
        );
        assert_eq!(parse_target("[::1]:9").unwrap(), ("::1".into(), 9));
        assert!(parse_target("nohost").unwrap_err().contains("HOST:PORT"));
        assert!(parse_target("h:99999").unwrap_err().contains("port"));
        assert!(parse_target(":80").unwrap_err().contains("no host"));
    }
}
