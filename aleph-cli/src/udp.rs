//! `aleph udp HOST:PORT`: stdin lines as datagrams, replies to stdout.

use std::time::Duration;

use aleph::bytes::Bytes;
use aleph::udp::{self, Packet, UdpOptions};
use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, Args)]
pub struct UdpArgs {
    /// Where to send: HOST:PORT (IPv6 as [ADDR]:PORT).
    #[arg(value_name = "HOST:PORT")]
    target: String,
    /// Seconds to keep printing replies after the end of stdin.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    wait: f64,
}

pub async fn run(args: UdpArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (host, port) = crate::tcp::parse_target(&args.target)?;
    let wait = Duration::try_from_secs_f64(args.wait)
        .map_err(|_| format!("--wait {} is not a duration", args.wait))?;
    let v6 = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_ipv6());
    let socket = udp::socket(UdpOptions {
        host: if v6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        },
        ..UdpOptions::default()
    })
    .await?;

    let replies = {
        let socket = socket.clone();
        tokio::spawn(async move {
            let mut stdout = tokio::io::stdout();
            while let Some(packet) = socket.recv().await {
                let mut out = packet.message.to_vec();
                if !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
                if stdout.write_all(&out).await.is_err() || stdout.flush().await.is_err() {
                    return;
                }
            }
        })
    };

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        // One datagram per line; an error (too large, unreachable) is this line's.
        socket
            .send_to(Packet::to_host(host.clone(), port, Bytes::from(line)))
            .await?;
    }
    tokio::time::sleep(wait).await;
    replies.abort();
    Ok(())
}
