//! `aleph demo`: the demo servers, on loopback.

use std::time::Duration;

use aleph::stream::{self, Connect};
use aleph::tcp::{self, TcpServerOptions};
use aleph::tls::ServerTls;
use aleph::udp::{self, UdpOptions};
use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port of the TCP echo server (0 picks a free one; the printed address shows which).
    #[arg(long, default_value_t = 10001, value_name = "PORT")]
    tcp_port: u16,
    /// Port of the UDP echo (0 picks a free one; the printed address shows which).
    #[arg(long, default_value_t = 10002, value_name = "PORT")]
    udp_port: u16,
    /// Serve TLS (a self-signed certificate for localhost and 127.0.0.1) instead of plain TCP.
    #[arg(long)]
    tls: bool,
    /// How long Ctrl-C lets open connections finish before closing them, in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    shutdown_timeout: u64,
}

pub async fn run(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Listen for Ctrl-C before printing anything: a script that sends SIGINT
    // as soon as it reads the addresses must get a graceful shutdown.
    let mut interrupt = Interrupt::new()?;
    let tls = if args.tls {
        Some(ServerTls::self_signed(&["localhost", "127.0.0.1"])?)
    } else {
        None
    };
    let scheme = if tls.is_some() { "tls" } else { "tcp" };
    let echo = tcp::start_server(
        |conn, _info| {
            stream::connect(conn.clone(), conn, Connect::default());
        },
        TcpServerOptions {
            port: args.tcp_port,
            tls,
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
            ..TcpServerOptions::default()
        },
    )
    .await
    .map_err(|e| format!("tcp echo: {}", crate::chain(&e)))?;
    let addr = echo.local_addr().ok_or("tcp echo: no listening address")?;
    println!("{scheme} echo listening on {addr}");
    let udp_echo = udp::socket(UdpOptions {
        port: args.udp_port,
        host: std::net::Ipv4Addr::LOCALHOST.into(),
        ..UdpOptions::default()
    })
    .await
    .map_err(|e| format!("udp echo: {}", crate::chain(&e)))?;
    // Each packet carries its sender, so sending it back is an echo.
    let udp_addr = udp_echo.local_addr();
    let udp_echo = udp_echo.into_duplex();
    stream::connect(udp_echo.clone(), udp_echo.clone(), Connect::default());
    println!("udp echo listening on {udp_addr}");
    println!("press Ctrl-C to stop");
    interrupt.recv().await;
    println!(
        "shutting down (open connections get {}s)",
        args.shutdown_timeout
    );
    udp_echo.close();
    echo.close().await;
    Ok(())
}

/// SIGINT (Ctrl-C), registered when made.
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn new() -> std::io::Result<Interrupt> {
        Ok(Interrupt {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
