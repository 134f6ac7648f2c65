//! A statsd-like metrics collector, as Aleph's own UDP example: a send-only
//! socket reports counters (`name:value|c`), and a collector sums them and
//! rolls them up every period.
//!
//! `cargo run --example udp_statsd`: runs both for a few seconds and prints
//! each rollup.

use std::collections::BTreeMap;
use std::time::Duration;

use aleph::stream;
use aleph::udp::{self, Packet, UdpOptions};

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let localhost = std::net::Ipv4Addr::LOCALHOST.into();
    let collector = udp::socket(UdpOptions {
        port: 0,
        host: localhost,
        ..Default::default()
    })
    .await?;
    let port = collector.local_addr().port();

    // Parse each datagram into (metric, count); batch them per period.
    let counts = stream::flatten(stream::batch(
        collector.clone(),
        10_000,
        Duration::from_millis(500),
    ));
    let rollups = stream::batch(counts, usize::MAX, Duration::from_secs(1));
    let printer = tokio::spawn(async move {
        for _ in 0..3 {
            let Some(batch) = rollups.recv().await else {
                break;
            };
            let mut totals: BTreeMap<String, u64> = BTreeMap::new();
            for packet in batch {
                if let Some((name, value)) = parse(&packet) {
                    *totals.entry(name).or_default() += value;
                }
            }
            println!("rollup: {totals:?}");
        }
    });

    // The reporter: an ephemeral socket that only sends.
    let reporter = udp::socket(UdpOptions {
        host: localhost,
        ..Default::default()
    })
    .await?;
    for i in 0..300u64 {
        let metric = if i % 3 == 0 { "logins:1|c" } else { "hits:2|c" };
        reporter
            .send_to(Packet::to_host("127.0.0.1", port, metric))
            .await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = printer.await;
    println!("collector: {}", collector.description());
    Ok(())
}

/// `name:value|c` to (name, value).
fn parse(packet: &Packet) -> Option<(String, u64)> {
    let text = std::str::from_utf8(&packet.message).ok()?;
    let (name, rest) = text.split_once(':')?;
    let (value, kind) = rest.split_once('|')?;
    (kind == "c").then(|| Some((name.to_owned(), value.parse().ok()?)))?
}
