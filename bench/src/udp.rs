//! The `udp` benchmark: datagrams per second echoed by aleph's UDP echo (the
//! seed's one-liner: a packet duplex connected to itself, every packet going
//! back to its sender) and by a raw tokio `UdpSocket` echo loop, driven by the
//! same raw tokio client in the same run.
//!
//! Each client sends a datagram, waits for its echo, and repeats; the cases
//! cross 1 and 16 concurrent clients (each its own socket and task) with 64-byte
//! and 1 KiB datagrams. UDP may lose datagrams: a client that waits longer than
//! [`ECHO_TIMEOUT`] counts a loss and resends, so a loss cannot hang the run,
//! and the losses are printed to stderr rather than hidden in the throughput.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aleph::stream::{self, ConnectOptions};
use aleph::udp::{self, UdpOptions};
use tokio::net::UdpSocket;
use tokio::runtime::Runtime;

use crate::measure::{interleaved, Contender, Settings};
use crate::report::{Report, ALEPH};

/// The peer: a tokio `recv_from` / `send_to` loop with a 64 KiB buffer.
const PEER: &str = "tokio-raw";

/// How long a client waits for an echo before it counts a loss and resends.
const ECHO_TIMEOUT: Duration = Duration::from_millis(200);

/// The loopback address both servers and the clients bind.
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Case {
    clients: usize,
    size: usize,
    label: &'static str,
    /// Echoed datagrams per client per run, before scaling.
    datagrams: u64,
}

const CASES: [Case; 4] = [
    Case {
        clients: 1,
        size: 64,
        label: "64B",
        datagrams: 20_000,
    },
    Case {
        clients: 1,
        size: 1024,
        label: "1KiB",
        datagrams: 20_000,
    },
    Case {
        clients: 16,
        size: 64,
        label: "64B",
        datagrams: 4_000,
    },
    Case {
        clients: 16,
        size: 1024,
        label: "1KiB",
        datagrams: 4_000,
    },
];

/// What one run of a case's clients observed.
struct Outcome {
    elapsed: Duration,
    /// Echoes that did not come back within [`ECHO_TIMEOUT`] (then resent).
    lost: u64,
    /// Echoes that came back after their resend (late or duplicated), ignored.
    stale: u64,
}

/// Runs the benchmark and returns its report.
pub fn run(settings: &Settings) -> Result<Report, String> {
    let (runtime, workers) = crate::measure::runtime()?;
    let (aleph_addr, raw_addr) = runtime.block_on(async {
        let sock = udp::socket(UdpOptions {
            port: 0,
            host: LOOPBACK,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot start aleph's UDP echo: {e}"))?;
        let addr = sock.local_addr();
        // Each incoming packet carries its sender: sending it back is the echo.
        let sock = sock.into_duplex();
        stream::connect(sock.clone(), sock, ConnectOptions::default());
        let raw = start_raw_echo().await?;
        Ok::<_, String>((addr, raw))
    })?;
    let mut report = Report::new(
        "udp",
        format!(
            "udp: datagrams/s echoed on loopback (send, await the echo, repeat; \
             {}ms timeout then resend), same tokio client; \
             tokio multi-thread runtime, {workers} workers; median of {} rounds",
            ECHO_TIMEOUT.as_millis(),
            settings.rounds
        ),
        "dgram",
    );
    for case in &CASES {
        let name = format!(
            "{}client{}/{}",
            case.clients,
            plural(case.clients),
            case.label
        );
        if !settings.selects(&name) {
            continue;
        }
        let datagrams = settings.scaled(case.datagrams);
        let aleph_losses = (Cell::new(0u64), Cell::new(0u64));
        let raw_losses = (Cell::new(0u64), Cell::new(0u64));
        let timed = |addr, losses: &(Cell<u64>, Cell<u64>)| {
            let outcome = drive(&runtime, addr, case, datagrams)?;
            losses.0.set(losses.0.get() + outcome.lost);
            losses.1.set(losses.1.get() + outcome.stale);
            Ok(outcome.elapsed)
        };
        let mut contenders = vec![
            Contender {
                name: ALEPH,
                run: Box::new(|| timed(aleph_addr, &aleph_losses)),
            },
            Contender {
                name: PEER,
                run: Box::new(|| timed(raw_addr, &raw_losses)),
            },
        ];
        for (implementation, time) in interleaved(settings.rounds, &mut contenders)? {
            let total = datagrams * case.clients as u64;
            report.add(&name, implementation, total as f64 / time.as_secs_f64());
        }
        drop(contenders);
        for (implementation, (lost, stale)) in [(ALEPH, aleph_losses), (PEER, raw_losses)] {
            let (lost, stale) = (lost.get(), stale.get());
            if lost > 0 || stale > 0 {
                eprintln!(
                    "udp/{name} {implementation}: {lost} datagrams lost (resent after {}ms), \
                     {stale} late echoes ignored, over all {} runs",
                    ECHO_TIMEOUT.as_millis(),
                    settings.rounds + 1
                );
            }
        }
        eprintln!("measured {name}");
    }
    Ok(report)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A raw tokio echo: receive into a 64 KiB buffer, send it back to its sender.
async fn start_raw_echo() -> Result<SocketAddr, String> {
    let socket = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .map_err(|e| format!("cannot bind the raw UDP echo: {e}"))?;
    let addr = socket.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // Errors (ICMP from a client gone away) are about one datagram: go on.
            if let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let _ = socket.send_to(&buf[..n], from).await;
            }
        }
    });
    Ok(addr)
}

/// Binds the case's client sockets and times their ping-pong with `addr`.
fn drive(
    runtime: &Runtime,
    addr: SocketAddr,
    case: &Case,
    datagrams: u64,
) -> Result<Outcome, String> {
    runtime.block_on(async {
        let mut sockets = Vec::with_capacity(case.clients);
        for _ in 0..case.clients {
            let socket = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0))
                .await
                .map_err(|e| format!("cannot bind a UDP client: {e}"))?;
            socket
                .connect(addr)
                .await
                .map_err(|e| format!("cannot connect a UDP client to {addr}: {e}"))?;
            sockets.push(Arc::new(socket));
        }
        let size = case.size;
        let start = Instant::now();
        let clients: Vec<_> = sockets
            .into_iter()
            .map(|socket| tokio::spawn(ping_pong(socket, size, datagrams)))
            .collect();
        let (mut lost, mut stale) = (0, 0);
        for client in clients {
            let (l, s) = client
                .await
                .map_err(|e| format!("client task failed: {e}"))?
                .map_err(|e| format!("UDP echo failed: {e}"))?;
            lost += l;
            stale += s;
        }
        Ok(Outcome {
            elapsed: start.elapsed(),
            lost,
            stale,
        })
    })
}

/// Sends `datagrams` datagrams of `size` bytes one at a time, each tagged with
/// its sequence number, and waits for each one's echo; returns (lost, stale).
async fn ping_pong(
    socket: Arc<UdpSocket>,
    size: usize,
    datagrams: u64,
) -> std::io::Result<(u64, u64)> {
    let mut message = vec![0x5a_u8; size.max(8)];
    let mut back = vec![0u8; 64 * 1024];
    let (mut lost, mut stale) = (0u64, 0u64);
    for seq in 0..datagrams {
        message[..8].copy_from_slice(&seq.to_le_bytes());
        'resend: loop {
            socket.send(&message).await?;
            let deadline = tokio::time::Instant::now() + ECHO_TIMEOUT;
            loop {
                match tokio::time::timeout_at(deadline, socket.recv(&mut back)).await {
                    Err(_elapsed) => {
                        lost += 1;
                        continue 'resend;
                    }
                    Ok(Ok(n)) if n == message.len() && back[..8] == message[..8] => {
                        break 'resend;
                    }
                    // An earlier datagram's late echo: not this one's.
                    Ok(Ok(_)) => stale += 1,
                    // ICMP (port unreachable) surfaces on a connected socket:
                    // treat it as a loss and let the timeout resend.
                    Ok(Err(_)) => {}
                }
            }
        }
    }
    Ok((lost, stale))
}
