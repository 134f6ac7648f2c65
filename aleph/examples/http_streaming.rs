//! A streamed response: each message sent on a channel is one chunk on
//! HTTP/1.1 (one DATA frame on HTTP/2), sent as soon as it is produced. The
//! producer waits while the client is slow, and stops when the client leaves.
//!
//! Run it with `cargo run --example http_streaming`, then
//! `curl -N http://127.0.0.1:8080/` (`-N`: print each chunk as it comes).

use std::time::Duration;

use aleph::http::{self, Request, ServerOptions};
use aleph::stream::Channel;

fn count(_req: Request) -> Channel<String> {
    let chunks = Channel::buffered(1);
    let producer = chunks.clone();
    tokio::spawn(async move {
        for i in 0..10 {
            if producer.send(format!("chunk {i}\n")).await.is_err() {
                return; // the client went away: its channel was closed
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        producer.close(); // the end of the body
    });
    chunks
}

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let server = http::start_server(
        count,
        ServerOptions {
            port: 8080,
            ..Default::default()
        },
    )
    .await?;
    println!("http://127.0.0.1:{}/ ; Ctrl-C stops it", server.port());
    let _ = tokio::signal::ctrl_c().await;
    server.close().await;
    Ok(())
}
