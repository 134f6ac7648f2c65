//! An axum `Router` served by aleph, unchanged: aleph takes any tower
//! service, and hands it the connection's info in the request's extensions.
//!
//! Run it with `cargo run --example http_axum`, then
//! `curl http://127.0.0.1:8080/users/7` and `curl http://127.0.0.1:8080/peer`.

use std::sync::Arc;

use aleph::http::{self, ConnectionInfo, ServerOptions};
use axum::extract::{Extension, Path};
use axum::routing::get;

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let app = axum::Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}\n") }),
        )
        .route(
            "/peer",
            get(
                |Extension(info): Extension<Arc<ConnectionInfo>>| async move {
                    format!("you are {:?}\n", info.remote_addr)
                },
            ),
        );
    let server = http::start_server(
        app,
        ServerOptions {
            port: 8080,
            ..Default::default()
        },
    )
    .await?;
    println!(
        "http://127.0.0.1:{}/users/7 ; Ctrl-C stops it",
        server.port()
    );
    let _ = tokio::signal::ctrl_c().await;
    server.close().await;
    Ok(())
}
