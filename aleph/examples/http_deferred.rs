//! A response completed later by another task: the handler returns a
//! deferred at once, and a worker realizes it when the answer is ready
//! (Aleph's handler that returns a deferred). The worker also learns when
//! the client gave up waiting, and stops.
//!
//! Run it with `cargo run --example http_deferred`, then
//! `curl http://127.0.0.1:8080/`.

use std::time::Duration;

use aleph::deferred::Deferred;
use aleph::http::{self, Request, ServerOptions};

fn handler(req: Request) -> Deferred<String> {
    let answer = Deferred::new();
    let worker = answer.clone();
    let gone = req.client_gone();
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                worker.success("computed by another task\n".to_owned());
            }
            () = gone => println!("the client left before the answer was ready"),
        }
    });
    answer
}

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let server = http::start_server(
        handler,
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
