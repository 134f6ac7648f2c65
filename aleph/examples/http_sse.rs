//! Server-sent events: a tick every second, numbered by its id, each flushed
//! as it is sent; quiet streams get keep-alive comments.
//!
//! Run it with `cargo run --example http_sse`, then
//! `curl -N http://127.0.0.1:8080/events` (or open it in a browser's
//! `new EventSource("http://127.0.0.1:8080/events")`).

use std::time::Duration;

use aleph::http::IntoResponse;
use aleph::http::{self, sse, Request, Response, ServerOptions, StatusCode};
use aleph::stream::Channel;

fn handler(req: Request) -> Response {
    if req.uri().path() != "/events" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let events = Channel::buffered(1);
    let producer = events.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        for i in 0u64.. {
            ticks.tick().await;
            let event = sse::Event::data(format!("tick {i}")).with_id(i.to_string());
            if producer.send(event).await.is_err() {
                return; // the client went away
            }
        }
    });
    sse::response(events)
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
    println!(
        "http://127.0.0.1:{}/events ; Ctrl-C stops it",
        server.port()
    );
    let _ = tokio::signal::ctrl_c().await;
    server.close().await;
    Ok(())
}
