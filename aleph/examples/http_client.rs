//! The seed's two client snippets: a GET awaited, and the same GET as a
//! chain of steps (Aleph's `(d/chain (http/get url) :body bs/to-string prn)`).
//!
//! `cargo run --example http_client [URL]`: without a URL it starts its own
//! aleph server on a free port and asks it.

use aleph::bytes;
use aleph::http::{self, Request, ServerOptions};
use futures::TryFutureExt;

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let (url, server) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            let server = http::start_server(
                |_req: Request| "hello from aleph!",
                ServerOptions::default(),
            )
            .await?;
            (format!("http://127.0.0.1:{}/", server.port()), Some(server))
        }
    };

    // Await style: each step waits for the one before.
    let response = http::get(&url).await?;
    println!("{} {:?}", response.status(), response.version());
    println!("{}", response.text().await?);

    // Chained style: the steps are composed first, and the whole runs when
    // awaited (or spawned).
    http::get(&url)
        .and_then(|response| bytes::to_string(response.into_body()))
        .map_ok(|text| println!("{text}"))
        .await?;

    if let Some(server) = server {
        server.close().await;
    }
    Ok(())
}
