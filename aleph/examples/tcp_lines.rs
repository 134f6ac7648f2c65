//! A line-based protocol on a TCP duplex: an uppercasing server read with
//! `bytes::lines`, and a client that frames lines with tokio-util's codec on
//! `into_io()`.
//!
//! `cargo run --example tcp_lines`

use aleph::bytes::{self, Bytes};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
use futures::{SinkExt, StreamExt};
use tokio_util::codec::{Framed, LinesCodec};

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let server = tcp::start_server(
        |conn, _info| async move {
            let mut lines = bytes::lines(conn.clone());
            while let Some(line) = lines.next().await {
                let reply = format!("{}\n", line?.to_uppercase());
                if conn.send(Bytes::from(reply)).await.is_err() {
                    break;
                }
            }
            conn.close();
            Ok(())
        },
        TcpServerOptions::default(),
    )
    .await?;

    let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
    let mut framed = Framed::new(conn.into_io(), LinesCodec::new_with_max_length(64 * 1024));
    for word in ["hello", "line", "protocol"] {
        framed.send(word).await.map_err(aleph::Error::other)?;
        if let Some(reply) = framed.next().await {
            println!("{word} -> {}", reply.map_err(aleph::Error::other)?);
        }
    }
    drop(framed); // our end closes, so the server's connection ends at once
    server.close().await;
    Ok(())
}
