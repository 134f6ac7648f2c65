//! A TLS echo server with a self-signed certificate, and a client that trusts it.
//!
//! `cargo run --example tls_echo`. To try it from a shell instead, start
//! `aleph demo --tls` and run `openssl s_client -connect 127.0.0.1:10001`.

use aleph::bytes::{self, Bytes};
use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
use aleph::tls::{ClientTls, Identity, ServerTls, ServerTlsOptions};

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let identity = Identity::self_signed(&["localhost"])?;
    let trust = identity.certificate_pem();
    let server = tcp::start_server(
        |conn, info| {
            if let Some(tls) = &info.tls {
                println!("{:?} over {:?}", info.remote_addr, tls.protocol_version);
            }
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            tls: Some(ServerTls::new(ServerTlsOptions {
                identity: Some(identity),
                ..Default::default()
            })?),
            ..Default::default()
        },
    )
    .await?;

    let conn = tcp::client(TcpClientOptions {
        tls: Some(ClientTls::trusting_pem(trust.as_bytes())?),
        server_name: Some("localhost".into()),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    })
    .await?;
    conn.send(Bytes::from_static(b"secret"))
        .await
        .map_err(aleph::Error::from)?;
    conn.close();
    println!("echoed over TLS: {}", bytes::to_string(conn).await?);
    server.close().await;
    Ok(())
}
