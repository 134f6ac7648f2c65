//! A TCP client: send a message to an echo server, half-close, read the reply.
//!
//! Starts its own echo server on a free port, so it runs on its own:
//! `cargo run --example tcp_client`.

use aleph::bytes::{self, Bytes};
use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let server = tcp::start_server(
        |conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions::default(),
    )
    .await?;

    let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
    conn.send(Bytes::from_static(b"hello, aleph"))
        .await
        .map_err(aleph::Error::from)?;
    // Closing our side sends a FIN once the message is written; the echo
    // answers, sees our end, and closes its side in turn.
    conn.close();
    let reply = bytes::to_string(conn).await?;
    println!("echoed: {reply}");

    server.close().await;
    Ok(())
}
