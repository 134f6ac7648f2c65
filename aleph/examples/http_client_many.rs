//! Fetches many URLs at once through one client whose pool opens at most
//! four connections per host: the rest of the requests queue in order, and
//! the pool's statistics show it while they run.
//!
//! `cargo run --example http_client_many [URL...]`: without URLs it starts
//! its own aleph server (which answers each request after a short pause)
//! and fetches 40 of its pages.

use std::time::Duration;

use aleph::http::{self, Client, ClientOptions, Request, ServerOptions};
use futures::stream::{FuturesUnordered, StreamExt};

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    let mut server = None;
    if urls.is_empty() {
        let slow = |req: Request| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            format!("page {}", req.uri().path())
        };
        let started = http::start_server(slow, ServerOptions::default()).await?;
        urls = (0..40)
            .map(|i| format!("http://127.0.0.1:{}/{i}", started.port()))
            .collect();
        server = Some(started);
    }

    let client = Client::new(ClientOptions {
        connections_per_host: 4,
        ..Default::default()
    });
    let mut fetches: FuturesUnordered<_> = urls
        .iter()
        .map(|url| {
            let request = client.get(url).send();
            async move {
                let response = request.await?;
                let status = response.status();
                let reused = response.reused();
                let length = response.bytes().await?.len();
                Ok::<_, aleph::Error>((status, reused, length))
            }
        })
        .collect();

    let (mut ok, mut failed, mut reused) = (0, 0, 0);
    while let Some(fetched) = fetches.next().await {
        if ok + failed == 0 {
            let stats = client.stats().total();
            println!(
                "at the first answer: {} connections, {} requests in use, {} queued",
                stats.live, stats.in_use, stats.queued
            );
        }
        match fetched {
            Ok((status, was_reused, length)) => {
                ok += 1;
                reused += usize::from(was_reused);
                println!(
                    "{status} {length} bytes{}",
                    if was_reused { " (reused)" } else { "" }
                );
            }
            Err(error) => {
                failed += 1;
                eprintln!("failed: {error}");
            }
        }
    }
    println!(
        "{ok} fetched, {failed} failed, {reused} on reused connections; pool now {:?}",
        client.stats().total()
    );
    if let Some(server) = server {
        server.close().await;
    }
    Ok(())
}
