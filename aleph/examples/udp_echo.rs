//! The seed's UDP echo: each packet carries its sender, so a socket connected
//! to itself sends every packet straight back.
//!
//! `cargo run --example udp_echo`, then `cargo run -p aleph-cli -- udp 127.0.0.1:10002`
//! or `nc -u 127.0.0.1 10002`.

use aleph::stream::{self, ConnectOptions};
use aleph::udp::{self, UdpOptions};

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let socket = udp::socket(UdpOptions {
        port: Some(10002),
        host: std::net::Ipv4Addr::LOCALHOST.into(),
        ..Default::default()
    })
    .await?;
    println!(
        "UDP echo on {:?}; Ctrl-C stops it",
        udp::local_addr(&socket)
    );
    stream::connect(socket.clone(), socket.clone(), ConnectOptions::default());
    let _ = tokio::signal::ctrl_c().await;
    println!("{}", socket.description());
    Ok(())
}
