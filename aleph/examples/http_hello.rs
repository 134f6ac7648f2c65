//! The seed's hello server: every request gets 200, `text/plain`, "hello!".
//!
//! Run it with `cargo run --example http_hello`, then `curl -i http://127.0.0.1:8080/`
//! (or `curl --http2-prior-knowledge http://127.0.0.1:8080/`).

use aleph::http::{self, Request, ServerOptions};

fn hello(_req: Request) -> &'static str {
    "hello!"
}

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let server = http::start_server(
        hello,
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
