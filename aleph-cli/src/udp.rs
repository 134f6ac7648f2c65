//! `aleph udp HOST:PORT`: stdin lines as datagrams, replies to stdout.

use std::error::Error;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use aleph::bytes::Bytes;
use aleph::udp::{self, Packet, UdpOptions};
use clap::Args;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::args::{self, Target};
use crate::output;

pub const EXAMPLES: &str = "\
Examples:
  echo hello | aleph udp 127.0.0.1:10002
  printf 'hits:1|c\\n' | aleph udp --wait 0 localhost:8125
  aleph udp --lines --any-peer [::1]:10002

Each line is sent without its newline, as bytes (any encoding). A line too long for one
datagram is reported on stderr and skipped; the exit status is then 1. A host name goes to
its first IPv4 address (its first IPv6 one if it has none); write [ADDR]:PORT to choose.";

/// The most a UDP datagram can carry (IPv6's limit; IPv4's is a little lower,
/// and the system refuses what is too long for it).
const MAX_DATAGRAM: usize = 65_527;

#[derive(Debug, Args)]
pub struct UdpArgs {
    /// Where to send: HOST:PORT (IPv6 as [ADDR]:PORT).
    #[arg(value_name = "HOST:PORT", value_parser = args::target)]
    target: Target,
    /// Seconds to keep printing replies after the end of stdin; fractions allowed.
    #[arg(long, default_value = "1", value_name = "SECONDS", value_parser = args::seconds, allow_negative_numbers = true)]
    wait: Duration,
    /// End each reply printed with a newline (unless it ends with one already).
    #[arg(long)]
    lines: bool,
    /// Print datagrams from any sender, not only from HOST:PORT.
    #[arg(long)]
    any_peer: bool,
    /// The longest resolving HOST may take, in seconds; fractions allowed.
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = args::positive_seconds, allow_negative_numbers = true)]
    connect_timeout: Duration,
}

pub async fn run(args: UdpArgs) -> Result<ExitCode, Box<dyn Error>> {
    let peer = resolve(&args.target, args.connect_timeout).await?;
    let unspecified: IpAddr = match peer {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = udp::socket(UdpOptions {
        host: unspecified,
        ..UdpOptions::default()
    })
    .await?;
    let from = (!args.any_peer).then_some(peer);
    let mut replies = tokio::spawn(print_replies(socket.clone(), from, args.lines));

    let sending = async {
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut line = Vec::new();
        let mut number = 0u64;
        let mut all_sent = true;
        while let Some(len) = next_line(&mut stdin, &mut line).await? {
            number += 1;
            // One datagram per line; a line that cannot go is this line's
            // failure, told, and the next line goes on.
            if len > MAX_DATAGRAM {
                all_sent = false;
                output::note(&format!(
                    "line {number} ({len} bytes) not sent: longer than a UDP datagram can be \
                     ({MAX_DATAGRAM} bytes)"
                ));
                continue;
            }
            let message = Bytes::copy_from_slice(&line);
            if let Err(err) = socket.send_to(Packet::new(peer, message)).await {
                all_sent = false;
                output::note(&format!(
                    "line {number} ({len} bytes) not sent: {}",
                    output::chain(&err)
                ));
            }
        }
        tokio::time::sleep(args.wait).await;
        Ok::<bool, io::Error>(all_sent)
    };

    tokio::select! {
        sent = sending => {
            replies.abort();
            match sent {
                Ok(true) => Ok(ExitCode::SUCCESS),
                Ok(false) => Ok(ExitCode::FAILURE),
                Err(err) => Err(format!("cannot read stdin: {err}").into()),
            }
        }
        printed = &mut replies => match printed {
            Ok(Err(err)) if output::reader_gone(&err) => Ok(ExitCode::SUCCESS),
            Ok(Err(err)) => Err(format!("cannot write to stdout: {err}").into()),
            Ok(Ok(())) => Err("the UDP socket closed".into()),
            Err(err) => Err(format!("printing replies failed: {err}").into()),
        },
    }
}

/// The address to send to: an IP address as it is, a name resolved within
/// `limit` to its first IPv4 address (or its first address, if none is IPv4).
async fn resolve(target: &Target, limit: Duration) -> Result<SocketAddr, Box<dyn Error>> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, target.port));
    }
    let host = &target.host;
    let lookup = tokio::net::lookup_host((host.as_str(), target.port));
    match tokio::time::timeout(limit, lookup).await {
        Err(_) => Err(format!("resolving {host} timed out after {}", args::show(limit)).into()),
        Ok(Err(err)) => Err(format!("cannot resolve {host}: {err}").into()),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            // Nothing tells which address a UDP service listens on, and
            // `localhost` often lists ::1 first while services (the demo's
            // echo among them) listen on 127.0.0.1: IPv4 first.
            let chosen = addrs
                .iter()
                .find(|addr| addr.is_ipv4())
                .or_else(|| addrs.first())
                .copied()
                .ok_or_else(|| format!("cannot resolve {host}: no addresses"))?;
            tracing::info!("sending to {chosen} ({host})");
            Ok(chosen)
        }
    }
}

/// Prints each datagram that arrives (from `from` only, when given) as it is,
/// or with a newline after it when `lines`. Returns when stdout fails.
async fn print_replies(
    socket: udp::Socket,
    from: Option<SocketAddr>,
    lines: bool,
) -> io::Result<()> {
    let mut stdout = tokio::io::stdout();
    while let Some(packet) = socket.recv().await {
        if from.is_some_and(|from| !packet.addr().is_some_and(|addr| is_from(addr, from))) {
            tracing::debug!(peer = ?packet.addr(), "ignoring a datagram from another sender");
            continue;
        }
        stdout.write_all(&packet.message).await?;
        if lines && !packet.message.ends_with(b"\n") {
            stdout.write_all(b"\n").await?;
        }
        stdout.flush().await?;
    }
    Ok(())
}

/// Whether a datagram from `addr` is a reply from `peer`. Datagrams sent to
/// 0.0.0.0 or :: reach this host, and come back from one of its loopback
/// addresses.
fn is_from(addr: SocketAddr, peer: SocketAddr) -> bool {
    addr == peer
        || (peer.ip().is_unspecified() && addr.ip().is_loopback() && addr.port() == peer.port())
}

/// Reads the next line of `input` into `line` without its `\n` (nor a `\r`
/// before it) and returns its length, or `None` at the end of input. A line
/// longer than a datagram is counted, not kept: `line` never holds more than
/// `MAX_DATAGRAM + 1` bytes.
async fn next_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    line.clear();
    let mut len = 0usize;
    let mut any = false;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            break;
        }
        any = true;
        let newline = buf.iter().position(|&byte| byte == b'\n');
        let part = &buf[..newline.unwrap_or(buf.len())];
        let room = (MAX_DATAGRAM + 1).saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        len = len.saturating_add(part.len());
        let used = newline.map_or(buf.len(), |at| at + 1);
        input.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if len == line.len() && line.last() == Some(&b'\r') {
        line.pop();
        len -= 1;
    }
    Ok(Some(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(7, input);
        let mut line = Vec::new();
        let mut out = Vec::new();
        while let Some(len) = next_line(&mut reader, &mut line).await.unwrap() {
            out.push((len, line.clone()));
        }
        out
    }

    #[test]
    fn replies_come_from_the_peer_or_from_loopback_for_an_unspecified_peer() {
        let addr = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert!(is_from(addr("127.0.0.1:9"), addr("127.0.0.1:9")));
        assert!(!is_from(addr("127.0.0.1:8"), addr("127.0.0.1:9")));
        assert!(!is_from(addr("127.0.0.2:9"), addr("127.0.0.1:9")));
        assert!(is_from(addr("127.0.0.1:9"), addr("0.0.0.0:9")));
        assert!(is_from(addr("[::1]:9"), addr("[::]:9")));
        assert!(!is_from(addr("192.0.2.1:9"), addr("0.0.0.0:9")));
    }

    #[tokio::test]
    async fn lines_are_bytes_without_their_newline() {
        let got = lines_of(b"one\r\ntwo\n\xff\xfe\nlast").await;
        assert_eq!(
            got,
            vec![
                (3, b"one".to_vec()),
                (3, b"two".to_vec()),
                (2, b"\xff\xfe".to_vec()),
                (4, b"last".to_vec()),
            ]
        );
        assert_eq!(lines_of(b"").await, Vec::new());
        assert_eq!(lines_of(b"\n").await, vec![(0, Vec::new())]);
    }

    #[tokio::test]
    async fn a_line_too_long_is_counted_not_kept() {
        let mut input = vec![b'x'; 200_000];
        input.extend_from_slice(b"\nok\n");
        let got = lines_of(&input).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 200_000);
        assert_eq!(got[0].1.len(), MAX_DATAGRAM + 1);
        assert_eq!(got[1], (2, b"ok".to_vec()));
    }
}
