//! The seed's TCP echo server: each connection's stream connected to itself.
//!
//! Run it with `cargo run --example tcp_echo`, then talk to it with
//! `cargo run -p aleph-cli -- tcp 127.0.0.1:10001` or `nc 127.0.0.1 10001`.

use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpServerOptions};

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let server = tcp::start_server(
        |conn, info| {
            println!("connection from {:?}", info.remote_addr);
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            port: 10001,
            ..Default::default()
        },
    )
    .await?;
    println!("echo server on {:?}; Ctrl-C stops it", server.local_addr());
    let _ = tokio::signal::ctrl_c().await;
    server.close().await;
    Ok(())
}
