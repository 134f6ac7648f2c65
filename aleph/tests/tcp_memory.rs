//! Memory per connection stays bounded in bytes when peers never read.
//!
//! Many clients each send to the seed echo server and never read its
//! answers, until their writes stop making progress: by then every server
//! connection holds all it ever will (its read-ahead, the echo's chunk in
//! hand, its write queue up to the high-water mark). The process's resident
//! memory grown since the start, divided by the connections, must stay under
//! a stated bound. One test per process (nextest), many connections and a
//! generous margin keep the allocator's noise out of the verdict.

use std::time::Duration;

use aleph::net::Buffers;
use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpServerOptions};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

mod support;

use support::within;

/// Connections parked at once.
const PEERS: usize = 128;

/// The resident memory of this process, from `/proc/self/status`.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// Writes 64 KiB chunks until one makes no progress for 300 ms, then holds
/// the connection open (never reading) until `release` is dropped.
async fn park(port: u16, parked: mpsc::Sender<usize>, mut release: mpsc::Receiver<()>) {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    // Small kernel buffers on the client's side: less to fill before the
    // server's own buffers are full, which is what is measured.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_send_buffer_size(32 * 1024).expect("SO_SNDBUF");
    socket.set_recv_buffer_size(32 * 1024).expect("SO_RCVBUF");
    let mut conn = socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect to the echo server");
    let mut written = 0;
    loop {
        match tokio::time::timeout(Duration::from_millis(300), conn.write(&CHUNK)).await {
            Ok(Ok(n)) => written += n,
            Ok(Err(e)) => panic!("write failed after {written} bytes: {e}"),
            Err(_) => break,
        }
    }
    parked
        .send(written)
        .await
        .expect("the test waits for every peer");
    let _ = release.recv().await;
    drop(conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_peers_that_never_read_hold_a_bounded_number_of_bytes_each() {
    let server = within(tcp::start_server(
        |conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions::default(),
    ))
    .await
    .expect("start the echo server");

    // Warm up the runtime, the allocator's arenas and the server's paths
    // with one connection parked and released, so that the baseline holds
    // what any number of connections share.
    let (parked_tx, mut parked_rx) = mpsc::channel(PEERS);
    let (release_tx, release_rx) = mpsc::channel(1);
    let warm = tokio::spawn(park(server.port(), parked_tx.clone(), release_rx));
    within(parked_rx.recv())
        .await
        .expect("the warm-up peer parks");
    drop(release_tx);
    within(warm).await.expect("the warm-up peer ends");
    support::eventually("the warm-up connection ends", || server.connections() == 0).await;

    let before = rss_bytes();
    let mut releases = Vec::new();
    let mut written = 0;
    for _ in 0..PEERS {
        let (release_tx, release_rx) = mpsc::channel(1);
        releases.push(release_tx);
        tokio::spawn(park(server.port(), parked_tx.clone(), release_rx));
    }
    // Each peer fills its kernel buffers too (megabytes on loopback): a
    // longer bound than `within`'s for all of them.
    let parking = async {
        for _ in 0..PEERS {
            written += parked_rx.recv().await.expect("every peer parks");
        }
    };
    tokio::time::timeout(Duration::from_secs(120), parking)
        .await
        .expect("every peer parks within 120 s");
    let after = rss_bytes();
    let per_connection = after.saturating_sub(before) / PEERS;

    // What one stuck echo connection may hold, by its design: its read-ahead
    // and the one chunk in the stream; the echo's chunk in hand; the chunk in
    // the outgoing stream, the write queue to its high-water mark and the
    // chunk that crossed it; the read scratch. Chunks are at most read_ahead.
    let buffers = Buffers::default();
    let design = 5 * buffers.read_ahead + buffers.write_high_water + buffers.read_ahead;
    // Margin: tasks, sockets' bookkeeping and allocator slack.
    let bound = design + design / 2;
    eprintln!(
        "{PEERS} parked peers wrote {written} bytes; resident memory grew {} KiB, {} KiB per connection (bound {} KiB)",
        after.saturating_sub(before) / 1024,
        per_connection / 1024,
        bound / 1024
    );
    assert!(
        per_connection < bound,
        "{} KiB resident per parked connection, over the bound of {} KiB",
        per_connection / 1024,
        bound / 1024
    );
    assert_eq!(server.connections(), PEERS, "every peer is still connected");

    drop(releases);
    within(server.close()).await;
}
