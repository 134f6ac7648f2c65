//! The `tcp-echo` benchmark: round trips per second through aleph's TCP echo
//! server (the seed's one-liner: a duplex connected to itself) and through a
//! raw tokio echo server, driven by the same raw tokio client in the same run.
//!
//! Each connection writes a message, reads it back in full, and repeats; the
//! cases cross 1 and 64 concurrent connections with 64-byte and 64 KiB messages.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use crate::measure::{interleaved, Contender, Settings};
use crate::report::{Report, ALEPH};

/// The peer: a tokio echo loop with a 64 KiB buffer.
const PEER: &str = "tokio-raw";

struct Case {
    connections: usize,
    size: usize,
    label: &'static str,
    /// Round trips per connection per run, before scaling.
    round_trips: u64,
}

const CASES: [Case; 4] = [
    Case {
        connections: 1,
        size: 64,
        label: "64B",
        round_trips: 20_000,
    },
    Case {
        connections: 64,
        size: 64,
        label: "64B",
        round_trips: 1_000,
    },
    Case {
        connections: 1,
        size: 64 * 1024,
        label: "64KiB",
        round_trips: 2_000,
    },
    Case {
        connections: 64,
        size: 64 * 1024,
        label: "64KiB",
        round_trips: 40,
    },
];

/// Runs the benchmark and returns its report.
pub fn run(settings: &Settings) -> Result<Report, String> {
    let (runtime, workers) = crate::measure::runtime()?;
    let (aleph_addr, raw_addr) = runtime.block_on(async {
        let aleph = tcp::start_server(
            |conn, _info| {
                stream::connect(conn.clone(), conn, ConnectOptions::default());
            },
            TcpServerOptions::default(),
        )
        .await
        .map_err(|e| format!("cannot start aleph's echo server: {e}"))?;
        let raw = start_raw_echo().await?;
        let addr = aleph
            .local_addr()
            .ok_or("aleph's echo server has no address")?;
        Ok::<_, String>((addr, raw))
    })?;
    let mut report = Report::new(
        "tcp-echo",
        format!(
            "tcp-echo: round trips/s through an echo server on loopback, same tokio client; \
             tokio multi-thread runtime, {workers} workers; median of {} rounds",
            settings.rounds
        ),
        "rt",
    );
    for case in &CASES {
        let name = format!("{}conn/{}", case.connections, case.label);
        if !settings.selects(&name) {
            continue;
        }
        let trips = settings.scaled(case.round_trips);
        let mut contenders = vec![
            Contender {
                name: ALEPH,
                run: Box::new(|| drive(&runtime, aleph_addr, case, trips)),
            },
            Contender {
                name: PEER,
                run: Box::new(|| drive(&runtime, raw_addr, case, trips)),
            },
        ];
        for (implementation, time) in interleaved(settings.rounds, &mut contenders)? {
            let total = trips * case.connections as u64;
            report.add(&name, implementation, total as f64 / time.as_secs_f64());
        }
        eprintln!("measured {name}");
    }
    Ok(report)
}

/// A raw tokio echo server: read into a 64 KiB buffer, write it all back.
async fn start_raw_echo() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind the raw echo server: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Opens the case's connections to `addr` and times their round trips.
fn drive(runtime: &Runtime, addr: SocketAddr, case: &Case, trips: u64) -> Result<Duration, String> {
    runtime.block_on(async {
        let mut streams = Vec::with_capacity(case.connections);
        for _ in 0..case.connections {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect to {addr}: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            streams.push(stream);
        }
        let size = case.size;
        let start = Instant::now();
        let clients: Vec<_> = streams
            .into_iter()
            .map(|mut stream| {
                tokio::spawn(async move {
                    let message = vec![0x5a_u8; size];
                    let mut back = vec![0u8; size];
                    for _ in 0..trips {
                        stream.write_all(&message).await?;
                        stream.read_exact(&mut back).await?;
                    }
                    Ok::<_, std::io::Error>(())
                })
            })
            .collect();
        for client in clients {
            client
                .await
                .map_err(|e| format!("client task failed: {e}"))?
                .map_err(|e| format!("echo round trip failed: {e}"))?;
        }
        Ok(start.elapsed())
    })
}
