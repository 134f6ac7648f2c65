//! aleph's TCP layer over real sockets on 127.0.0.1: the seed echo, half
//! close, backpressure, the server's lifecycle, error kinds, TLS before the
//! handler, Unix sockets, socket options, raw mode and line protocols.
//! Peers aleph did not write (Python, openssl) are in `tcp_peers.rs`.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aleph::bytes::{self, Bytes};
use aleph::net::{Buffers, ListenSocket, Socket};
use aleph::stream::{self, ConnectOptions, Duplex};
use aleph::tcp::{self, ConnectionInfo, RawStream, TcpClientOptions, TcpServerOptions};
use aleph::tls::{ClientTls, Identity, ServerTls};
use aleph::{Error, Server};
use futures::{SinkExt, StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LinesCodec};

use support::peers::TempDir;
use support::{eventually, within, Rng};

type Conn = Duplex<Bytes, Bytes>;

// ---- helpers ------------------------------------------------------------------------

/// The seed's echo server: the handler connects the stream to itself.
async fn echo_server(options: TcpServerOptions) -> Server {
    tcp::start_server(
        |conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        options,
    )
    .await
    .expect("the echo server starts")
}

async fn connect(port: u16) -> Conn {
    within(tcp::client(TcpClientOptions::new("127.0.0.1", port)))
        .await
        .expect("the client connects")
}

/// Sends `data` in chunks of `chunk` bytes, then closes, on a task of its own
/// so that the caller can read the echo meanwhile.
fn send_all(conn: &Conn, data: Bytes, chunk: usize) -> tokio::task::JoinHandle<()> {
    let conn = conn.clone();
    tokio::spawn(async move {
        let mut rest = data;
        while !rest.is_empty() {
            let piece = rest.split_to(chunk.min(rest.len()));
            conn.send(piece)
                .await
                .expect("the connection takes the data");
        }
        conn.close();
    })
}

/// Bytes that differ along their whole length, so that a lost, repeated or
/// reordered chunk shows.
fn pattern(len: usize, seed: u64) -> Bytes {
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        data.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    data.truncate(len);
    Bytes::from(data)
}

/// The most the kernel may buffer on one loopback connection: the largest
/// send buffer of one end plus the largest receive buffer of the other
/// (Linux's `tcp_wmem` / `tcp_rmem` maxima; 16 MiB each if unknown).
fn kernel_buffers() -> usize {
    let max = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .ok()
            .and_then(|text| text.split_whitespace().nth(2)?.parse::<usize>().ok())
            .unwrap_or(16 << 20)
    };
    max("tcp_wmem") + max("tcp_rmem")
}

/// A TLS server identity for localhost and 127.0.0.1, and a client trusting exactly it.
fn tls_pair() -> (ServerTls, ClientTls) {
    let identity =
        Identity::self_signed(&["localhost", "127.0.0.1"]).expect("self-signed identity");
    let server = ServerTls::new(aleph::tls::ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .expect("server TLS");
    let client =
        ClientTls::trusting_pem(identity.certificate_pem().as_bytes()).expect("client TLS");
    (server, client)
}

/// A handler that counts its calls and echoes.
fn counting_echo(
    calls: &Arc<AtomicUsize>,
) -> impl Fn(Conn, ConnectionInfo) + Send + Sync + 'static {
    let calls = calls.clone();
    move |conn, _info| {
        calls.fetch_add(1, Ordering::SeqCst);
        stream::connect(conn.clone(), conn, ConnectOptions::default());
    }
}

fn refused(result: std::io::Result<TcpStream>) -> bool {
    matches!(result, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

// ---- echo ---------------------------------------------------------------------------

#[tokio::test]
async fn the_seed_echo_server_returns_what_the_client_sent() {
    let server = echo_server(TcpServerOptions::default()).await;
    let conn = connect(server.port()).await;
    conn.send(Bytes::from("hello, ")).await.unwrap();
    conn.send(Bytes::from("echo")).await.unwrap();
    conn.close();
    assert_eq!(within(bytes::to_bytes(conn)).await.unwrap(), "hello, echo");
    within(server.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_clients_each_get_exactly_their_own_bytes_back() {
    let server = echo_server(TcpServerOptions::default()).await;
    let port = server.port();
    let clients: Vec<_> = (0..50usize)
        .map(|i| {
            tokio::spawn(async move {
                let data = pattern(20_000 + i * 997, i as u64);
                let conn = connect(port).await;
                let sending = send_all(&conn, data.clone(), 1000 + i * 37);
                let back = bytes::to_bytes(conn).await.expect("the echo ends cleanly");
                sending.await.expect("the sender finishes");
                assert!(
                    back == data,
                    "client {i}: {} bytes came back for {} sent, or they differ",
                    back.len(),
                    data.len()
                );
            })
        })
        .collect();
    for client in clients {
        within(client).await.expect("the client task succeeds");
    }
    within(server.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_are_echoed_intact() {
    let server = echo_server(TcpServerOptions::default()).await;
    let conn = connect(server.port()).await;
    let data = pattern(8 << 20, 8);
    let sending = send_all(&conn, data.clone(), 64 * 1024);
    let back = within(bytes::to_bytes(conn))
        .await
        .expect("the echo ends cleanly");
    within(sending).await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the echoed bytes differ from those sent");
    within(server.close()).await;
}

// ---- half close ---------------------------------------------------------------------

#[tokio::test]
async fn a_client_half_close_drains_the_server_source_and_the_reply_still_arrives() {
    let (drained_tx, mut drained_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            let drained = drained_tx.clone();
            async move {
                let request = bytes::to_bytes(conn.receiver()).await?;
                let _ = drained.send(conn.is_drained());
                conn.send(Bytes::from(format!("got {} bytes", request.len())))
                    .await?;
                conn.close();
                Ok::<(), Error>(())
            }
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();

    let conn = connect(server.port()).await;
    for _ in 0..10 {
        conn.send(Bytes::from_static(&[b'x'; 1000])).await.unwrap();
    }
    conn.close();
    assert!(
        within(drained_rx.recv()).await.unwrap(),
        "the server's source is drained"
    );
    assert_eq!(within(conn.recv()).await.unwrap(), "got 10000 bytes");
    assert_eq!(
        within(conn.recv()).await,
        None,
        "the server closed after replying"
    );
    assert!(conn.is_drained());
    assert!(conn.error().is_none(), "{:?}", conn.error());
    within(server.close()).await;
}

#[tokio::test]
async fn closing_the_sink_sends_fin_after_everything_sent_and_the_source_stays_open() {
    let data = pattern(1 << 20, 1);
    let (rest_tx, mut rest_rx) = mpsc::unbounded_channel();
    let reply = data.clone();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            let (reply, rest_tx) = (reply.clone(), rest_tx.clone());
            async move {
                for piece in reply.chunks(50_000) {
                    conn.send(Bytes::copy_from_slice(piece)).await?;
                }
                conn.close();
                // The sending direction is closed; the receiving one is not.
                let rest = bytes::to_bytes(conn.receiver()).await?;
                let _ = rest_tx.send(rest);
                Ok::<(), Error>(())
            }
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();

    let mut raw = within(TcpStream::connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    let mut received = Vec::new();
    within(raw.read_to_end(&mut received)).await.unwrap();
    assert_eq!(
        received.len(),
        data.len(),
        "every byte sent before the close arrives, then EOF"
    );
    assert!(received == data);
    raw.write_all(b"still listening").await.unwrap();
    raw.shutdown().await.unwrap();
    assert_eq!(within(rest_rx.recv()).await.unwrap(), "still listening");
    within(server.close()).await;
}

// ---- backpressure -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_never_reads_stops_the_server_reading_and_the_peer_writing() {
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            let _ = conn_tx.send(conn);
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();
    let mut client = within(TcpStream::connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    let server_side = within(conn_rx.recv()).await.unwrap();

    // Offer up to 64 MiB; a write that makes no progress for 300 ms is blocked.
    let offered = 64 << 20;
    let chunk = vec![7u8; 64 * 1024];
    let mut accepted = 0;
    while accepted < offered {
        match tokio::time::timeout(Duration::from_millis(300), client.write(&chunk)).await {
            Ok(Ok(n)) => accepted += n,
            Ok(Err(e)) => panic!("write failed after {accepted} bytes: {e}"),
            Err(_) => break,
        }
    }
    // What the server may hold: its read-ahead, and the chunk in the stream.
    let read_ahead = Buffers::default().read_ahead;
    let bound = kernel_buffers() + 2 * read_ahead + (1 << 20);
    assert!(
        accepted < bound,
        "the peer wrote {accepted} bytes without anyone reading (bound {bound})"
    );
    let description = server_side.description();
    assert!(
        description.buffered <= 1,
        "the server's stream holds more than one chunk: {description}"
    );

    // Reading again releases the peer, and nothing was lost meanwhile.
    let tail = 1 << 20;
    let reading = tokio::spawn(bytes::to_bytes(server_side));
    within(client.write_all(&vec![7u8; tail])).await.unwrap();
    client.shutdown().await.unwrap();
    let all = within(reading).await.unwrap().unwrap();
    assert_eq!(all.len(), accepted + tail);
    within(server.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_a_peer_that_never_reads_wait_instead_of_buffering_without_bound() {
    let (report_tx, mut report_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            let report = report_tx.clone();
            async move {
                let chunk = Bytes::from(vec![1u8; 64 * 1024]);
                let mut sent = 0usize;
                let outcome = loop {
                    if sent >= 64 << 20 {
                        break Err("64 MiB sent and no send waited".to_owned());
                    }
                    match conn
                        .send_timeout(chunk.clone(), Duration::from_millis(300))
                        .await
                    {
                        Ok(()) => sent += chunk.len(),
                        Err(e) if e.is_timeout() => break Ok(sent),
                        Err(e) => break Err(format!("send failed after {sent} bytes: {e}")),
                    }
                };
                let _ = report.send(outcome);
            }
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();
    let client = within(TcpStream::connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    let sent = within(report_rx.recv()).await.unwrap().unwrap();
    // The write queue up to its high-water mark, plus a chunk in the stream
    // and one being queued.
    let bound =
        kernel_buffers() + Buffers::default().write_high_water + 2 * (64 * 1024) + (1 << 20);
    assert!(
        sent < bound,
        "{sent} bytes were taken for a peer that never reads (bound {bound})"
    );
    drop(client);
    within(server.close()).await;
}

#[tokio::test]
async fn read_ahead_set_per_server_and_per_client_bounds_every_chunk() {
    let small = Buffers {
        read_ahead: 4096,
        write_low_water: 2048,
        write_high_water: 4096,
    };
    // An echo that fails its connection on a chunk over the server's bound.
    let server = tcp::start_server(
        |conn: Conn, _info| async move {
            while let Some(chunk) = conn.recv().await {
                if chunk.len() > 4096 {
                    return Err(aleph::Error::other(format!("a {} byte chunk", chunk.len())));
                }
                conn.send(chunk).await?;
            }
            conn.close();
            Ok(())
        },
        TcpServerOptions {
            buffers: small,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let conn = within(tcp::client(TcpClientOptions {
        buffers: small,
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    let data = pattern(1 << 20, 11);
    let sending = send_all(&conn, data.clone(), 64 * 1024);
    let mut echoed = Vec::with_capacity(data.len());
    while let Some(chunk) = within(conn.recv()).await {
        assert!(chunk.len() <= 4096, "a chunk of {} bytes", chunk.len());
        echoed.extend_from_slice(&chunk);
    }
    within(sending).await.unwrap();
    assert!(conn.error().is_none(), "{:?}", conn.error());
    assert!(echoed == data, "the echo differs from what was sent");
    within(server.close()).await;
}

// ---- limits --------------------------------------------------------------------------

#[tokio::test]
async fn at_max_connections_the_next_client_waits_until_one_ends() {
    let server = echo_server(TcpServerOptions {
        max_connections: Some(1),
        ..Default::default()
    })
    .await;
    let first = connect(server.port()).await;
    first.send(Bytes::from("one")).await.unwrap();
    assert_eq!(within(first.recv()).await.unwrap(), "one");

    // The kernel completes the second connect (the backlog), but the server
    // does not take it while the first is open: no echo comes.
    let second = connect(server.port()).await;
    second.send(Bytes::from("two")).await.unwrap();
    assert!(
        support::at_most(support::SHORT * 4, second.recv())
            .await
            .is_none(),
        "a connection over the cap was served"
    );
    assert_eq!(server.connections(), 1);

    first.close();
    assert_eq!(within(first.recv()).await, None); // the echo closed its side
    drop(first);
    assert_eq!(within(second.recv()).await.unwrap(), "two");
    drop(second);
    within(server.close()).await;
}

// ---- lifecycle ----------------------------------------------------------------------

/// A handler that echoes, except that a message "panic" panics and "fail"
/// returns an error. Its async closure is left unannotated on purpose: the
/// handler bound must let that compile.
async fn misbehaving_server() -> Server {
    tcp::start_server(
        |conn, _info| async move {
            while let Some(message) = conn.recv().await {
                if message == "panic" {
                    panic!("the client asked for a panic");
                }
                if message == "fail" {
                    return Err(Error::other("the client asked for an error"));
                }
                conn.send(message).await?;
            }
            Ok(())
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap()
}

async fn round_trip(conn: &Conn, message: &'static str) {
    conn.send(Bytes::from(message)).await.unwrap();
    assert_eq!(within(conn.recv()).await.unwrap(), message);
}

/// A misbehaving server: the connection sent `trigger` ends, the one beside it
/// keeps working, and new connections are still served.
async fn only_the_triggering_connection_ends(trigger: &'static str, why: &str) {
    let server = misbehaving_server().await;
    let survivor = connect(server.port()).await;
    round_trip(&survivor, "before").await;

    let victim = connect(server.port()).await;
    victim.send(Bytes::from(trigger)).await.unwrap();
    assert_eq!(within(victim.recv()).await, None, "{why}");

    round_trip(&survivor, "after").await;
    let third = connect(server.port()).await;
    round_trip(&third, "new connections are served").await;
    drop((survivor, third));
    within(server.close()).await;
}

#[tokio::test]
async fn a_handler_that_panics_closes_only_its_own_connection() {
    only_the_triggering_connection_ends("panic", "the panicking handler's connection ends").await;
}

#[tokio::test]
async fn a_handler_that_panics_before_returning_closes_only_its_own_connection() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            if counted.fetch_add(1, Ordering::SeqCst) == 1 {
                panic!("the second connection panics in the handler itself");
            }
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();
    let survivor = connect(server.port()).await;
    round_trip(&survivor, "before").await;

    let victim = connect(server.port()).await;
    assert_eq!(
        within(victim.recv()).await,
        None,
        "the panicking handler's connection ends"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    round_trip(&survivor, "after").await;
    drop(survivor);
    within(server.close()).await;
}

#[tokio::test]
async fn a_handler_that_returns_an_error_closes_only_its_own_connection() {
    only_the_triggering_connection_ends("fail", "the failing handler's connection ends").await;
}

#[tokio::test]
async fn close_stops_accepting_new_connections() {
    let server = echo_server(TcpServerOptions::default()).await;
    let addr = server.local_addr().unwrap();
    within(TcpStream::connect(addr))
        .await
        .expect("open before close");
    within(server.close()).await;
    assert!(server.is_closing());
    assert!(
        refused(within(TcpStream::connect(addr)).await),
        "new connects are refused after close"
    );
    // Closing again, from a clone, or waiting for it returns at once.
    within(server.clone().close()).await;
    within(server.wait_for_close()).await;
}

#[tokio::test]
async fn close_waits_for_an_in_flight_connection_that_finishes_on_its_own() {
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            let (started, done) = (started_tx.clone(), done.clone());
            async move {
                conn.recv().await;
                let _ = started.send(());
                // Streams its reply over ~200 ms, while the server closes.
                for part in 0..4 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    conn.send(Bytes::from(format!("part {part}\n"))).await?;
                }
                conn.close();
                done.store(true, Ordering::SeqCst);
                Ok::<(), Error>(())
            }
        },
        TcpServerOptions {
            shutdown_timeout: Duration::from_secs(5),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let conn = connect(server.port()).await;
    conn.send(Bytes::from("go")).await.unwrap();
    within(started_rx.recv()).await.unwrap();

    let reading = tokio::spawn(bytes::to_string(conn.receiver()));
    let closing = Instant::now();
    within(server.close()).await;
    assert!(
        finished.load(Ordering::SeqCst),
        "close returned before the in-flight reply ended"
    );
    assert!(
        closing.elapsed() < Duration::from_secs(4),
        "close waited for the shutdown timeout"
    );
    assert_eq!(
        within(reading).await.unwrap().unwrap(),
        "part 0\npart 1\npart 2\npart 3\n",
        "the whole reply reached the client"
    );
    assert!(refused(within(TcpStream::connect(addr)).await));
}

#[tokio::test]
async fn a_connection_still_open_when_the_shutdown_timeout_passes_is_closed() {
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            let started = started_tx.clone();
            async move {
                let _ = started.send(());
                while conn.recv().await.is_some() {}
            }
        },
        TcpServerOptions {
            shutdown_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let conn = connect(server.port()).await;
    within(started_rx.recv()).await.unwrap();

    let closing = Instant::now();
    within(server.close()).await;
    let took = closing.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "close returned after {took:?}, before the timeout"
    );
    assert_eq!(
        within(conn.recv()).await,
        None,
        "the server closed the connection"
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn close_waits_for_a_seed_echo_connection_until_its_client_finishes() {
    let server = echo_server(TcpServerOptions {
        shutdown_timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let conn = connect(server.port()).await;
    round_trip(&conn, "before close").await;

    let closing = tokio::spawn({
        let server = server.clone();
        async move { server.close().await }
    });
    // Close must not return while the client still talks (a wait for
    // something that must not happen, so a short one).
    let early = support::at_most(Duration::from_millis(100), server.wait_for_close()).await;
    assert!(
        early.is_none(),
        "close returned while a connection was open"
    );
    round_trip(&conn, "during close").await;
    conn.close();
    assert_eq!(within(conn.recv()).await, None);
    within(closing).await.unwrap();
    assert_eq!(server.connections(), 0);
}

/// The seed echo's handler returns at once and a link task holds the duplex:
/// the connection must still close when the shutdown timeout passes.
#[tokio::test]
async fn the_seed_echo_connections_are_closed_once_the_shutdown_timeout_passes() {
    let server = echo_server(TcpServerOptions {
        shutdown_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let conn = connect(server.port()).await;
    round_trip(&conn, "ping").await;

    within(server.close()).await;
    assert_eq!(server.connections(), 0);
    let _ = conn.send(Bytes::from("after close")).await;
    assert_eq!(
        within(conn.recv()).await,
        None,
        "the server should have closed the connection, not echoed"
    );
}

#[tokio::test]
async fn local_addr_and_port_tell_the_port_chosen_for_port_0() {
    let server = echo_server(TcpServerOptions {
        port: 0,
        ..Default::default()
    })
    .await;
    let addr = server
        .local_addr()
        .expect("a TCP server has a local address");
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    assert_eq!(server.port(), addr.port());
    assert!(server.unix_path().is_none());
    within(TcpStream::connect(addr))
        .await
        .expect("the address accepts");
    within(server.close()).await;
}

#[tokio::test]
async fn the_tls_handshake_is_done_before_the_handler_runs() {
    let (server_tls, client_tls) = tls_pair();
    let (info_tx, mut info_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Conn, info: ConnectionInfo| {
            let _ = info_tx.send(info);
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            tls: Some(server_tls),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let (raw, client_info) = within(tcp::client_raw(TcpClientOptions {
        tls: Some(client_tls.clone()),
        server_name: Some("localhost".into()),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    drop(raw);
    let client_tls_info = client_info.tls.expect("the client reports its TLS session");
    assert_eq!(client_tls_info.server_name.as_deref(), Some("localhost"));
    assert!(!client_tls_info.peer_certificates.is_empty());

    let info = within(info_rx.recv()).await.unwrap();
    let tls = info
        .tls
        .expect("the handler runs after the handshake, with its outcome");
    assert_eq!(
        tls.server_name.as_deref(),
        Some("localhost"),
        "the SNI the client sent"
    );
    assert!(
        tls.protocol_version.is_some() && tls.cipher_suite.is_some(),
        "{tls:?}"
    );
    assert!(
        tls.peer_certificates.is_empty(),
        "no client certificate was asked for"
    );
    assert_eq!(info.remote_addr.unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(info.local_addr, server.local_addr());

    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(client_tls),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    round_trip(&conn, "over tls").await;
    drop(conn);
    within(server.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mib_over_tls_is_echoed_intact_with_a_half_close() {
    let (server_tls, client_tls) = tls_pair();
    let server = echo_server(TcpServerOptions {
        tls: Some(server_tls),
        ..Default::default()
    })
    .await;
    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(client_tls),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    assert_eq!(conn.description().kind, "tls");
    let data = pattern(1 << 20, 3);
    let sending = send_all(&conn, data.clone(), 10_000);
    let back = within(bytes::to_bytes(conn))
        .await
        .expect("the echo ends cleanly");
    within(sending).await.unwrap();
    assert!(
        back == data,
        "{} bytes back for {} sent, or they differ",
        back.len(),
        data.len()
    );
    within(server.close()).await;
}

#[tokio::test]
async fn tls_half_close_works_both_ways_between_our_server_and_client() {
    let (server_tls, client_tls) = tls_pair();
    let (rest_tx, mut rest_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Conn, _info| {
            let rest_tx = rest_tx.clone();
            async move {
                conn.send(Bytes::from("reply first")).await?;
                conn.close(); // a close_notify, then a FIN
                let rest = bytes::to_bytes(conn.receiver()).await?;
                let _ = rest_tx.send(rest);
                Ok::<(), Error>(())
            }
        },
        TcpServerOptions {
            tls: Some(server_tls),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(client_tls),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    assert_eq!(within(conn.recv()).await.unwrap(), "reply first");
    assert_eq!(
        within(conn.recv()).await,
        None,
        "the server's close_notify ends our source"
    );
    assert!(conn.error().is_none(), "{:?}", conn.error());
    conn.send(Bytes::from("then the client")).await.unwrap();
    conn.close();
    assert_eq!(within(rest_rx.recv()).await.unwrap(), "then the client");
    within(server.close()).await;
}

#[tokio::test]
async fn alpn_and_sni_are_agreed_over_real_sockets() {
    let default = Identity::self_signed(&["localhost"]).unwrap();
    let other = Identity::self_signed(&["other.test"]).unwrap();
    let server_tls = ServerTls::new(aleph::tls::ServerTlsOptions {
        identity: Some(default.clone()),
        sni: vec![("other.test".into(), other.clone())],
        alpn: vec!["h2".into(), "line/1".into()],
        ..Default::default()
    })
    .unwrap();
    let (info_tx, mut info_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |_conn: Conn, info: ConnectionInfo| {
            let _ = info_tx.send(info);
        },
        TcpServerOptions {
            tls: Some(server_tls),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let both = format!("{}{}", default.certificate_pem(), other.certificate_pem());
    let client_tls = ClientTls::new(aleph::tls::ClientTlsOptions {
        roots: aleph::tls::TrustRoots::Pem(both.into_bytes()),
        alpn: vec!["line/1".into()],
        ..Default::default()
    })
    .unwrap();

    for (name, identity) in [("localhost", &default), ("other.test", &other)] {
        let (_stream, info) = within(tcp::client_raw(TcpClientOptions {
            tls: Some(client_tls.clone()),
            server_name: Some(name.into()),
            ..TcpClientOptions::new("127.0.0.1", server.port())
        }))
        .await
        .unwrap();
        let client_side = info.tls.unwrap();
        assert_eq!(client_side.alpn.as_deref(), Some("line/1"));
        assert_eq!(
            client_side.peer_certificates.first(),
            identity.chain().first(),
            "{name}"
        );
        let server_side = within(info_rx.recv()).await.unwrap().tls.unwrap();
        assert_eq!(server_side.alpn.as_deref(), Some("line/1"));
        assert_eq!(server_side.server_name.as_deref(), Some(name));
    }
    within(server.close()).await;
}

#[tokio::test]
async fn an_insecure_client_accepts_a_self_signed_server_for_any_name() {
    let (server_tls, _) = tls_pair();
    let server = echo_server(TcpServerOptions {
        tls: Some(server_tls),
        ..Default::default()
    })
    .await;
    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(ClientTls::insecure()),
        server_name: Some("not-the-name.example".into()),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    round_trip(&conn, "encrypted, not authenticated").await;
    drop(conn);
    within(server.close()).await;
}

#[tokio::test]
async fn clients_leaving_mid_handshake_never_reach_the_handler() {
    let (server_tls, client_tls) = tls_pair();
    let calls = Arc::new(AtomicUsize::new(0));
    let server = tcp::start_server(
        counting_echo(&calls),
        TcpServerOptions {
            tls: Some(server_tls),
            handshake_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();

    // Connects and leaves at once.
    drop(within(TcpStream::connect(addr)).await.unwrap());
    // Sends the first bytes of a ClientHello (a handshake record of 512
    // bytes, of which 9 arrive), then leaves.
    let mut half = within(TcpStream::connect(addr)).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
        .await
        .unwrap();
    drop(half);
    // Connects and says nothing: the handshake timeout closes it.
    let mut silent = within(TcpStream::connect(addr)).await.unwrap();
    let mut buf = [0u8; 16];
    let ended = within(silent.read(&mut buf)).await;
    assert!(
        matches!(ended, Ok(0) | Err(_)),
        "the server closes a silent client after the handshake timeout: {ended:?}"
    );

    eventually("the aborted handshakes end", || server.connections() == 0).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no half-shaken client reached the handler"
    );

    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(client_tls),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    round_trip(&conn, "whole handshake").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    drop(conn);
    within(server.close()).await;
}

// ---- error kinds --------------------------------------------------------------------

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_naming_the_address() {
    let port = support::peers::free_port();
    let err = within(tcp::client(TcpClientOptions::new("127.0.0.1", port)))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{:?}: {err}", err.kind());
    let message = err.to_string();
    assert_eq!(message, format!("connect to 127.0.0.1:{port} failed"));
    let source = std::error::Error::source(&err).expect("the reason");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an I/O error");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn an_unknown_host_is_a_dns_error_naming_the_host() {
    let err = within(tcp::client(TcpClientOptions::new(
        "nonexistent.invalid",
        80,
    )))
    .await
    .unwrap_err();
    assert!(err.is_dns(), "{:?}: {err}", err.kind());
    assert!(err.to_string().contains("nonexistent.invalid"), "{err}");
}

/// A listener with a backlog of 0 that never accepts: once its accept queue
/// holds one connection, Linux drops further SYNs, so a connect hangs until
/// its timeout. (A "non-routable" address such as 10.255.255.1 is no good
/// here: in a sandbox it may be refused, unreachable, or even answered by a
/// transparent proxy, as it was where these tests were written.)
#[tokio::test]
async fn a_connect_that_hangs_past_connect_timeout_is_a_timeout_error() {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    let mut full = false;
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(e)) => panic!("filling the backlog: {e}"),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(
        full,
        "the backlog never filled: {} connects went through",
        queued.len()
    );

    let started = Instant::now();
    let err = within(tcp::client(TcpClientOptions {
        connect_timeout: Duration::from_millis(200),
        ..TcpClientOptions::new("127.0.0.1", addr.port())
    }))
    .await
    .unwrap_err();
    assert!(err.is_timeout(), "{:?}: {err}", err.kind());
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_tls_handshake_that_hangs_past_connect_timeout_is_a_timeout_error() {
    // The kernel completes the TCP connection; nobody ever answers the ClientHello.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (_, client_tls) = tls_pair();
    let err = within(tcp::client(TcpClientOptions {
        tls: Some(client_tls),
        server_name: Some("localhost".into()),
        connect_timeout: Duration::from_millis(200),
        ..TcpClientOptions::new("127.0.0.1", silent.local_addr().unwrap().port())
    }))
    .await
    .unwrap_err();
    assert!(err.is_timeout(), "{:?}: {err}", err.kind());
    assert!(err.to_string().contains("TLS handshake"), "{err}");
}

#[tokio::test]
async fn an_untrusted_self_signed_server_is_a_tls_error() {
    let (server_tls, _) = tls_pair();
    let calls = Arc::new(AtomicUsize::new(0));
    let server = tcp::start_server(
        counting_echo(&calls),
        TcpServerOptions {
            tls: Some(server_tls),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = within(tcp::client(TcpClientOptions {
        tls: Some(ClientTls::default()),
        server_name: Some("localhost".into()),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap_err();
    assert!(err.is_tls(), "{:?}: {err}", err.kind());
    let message = support::error_chain(&err);
    assert!(
        message.contains("UnknownIssuer"),
        "the reason is named: {message}"
    );
    assert!(
        message.contains(&server.port().to_string()),
        "the peer is named: {message}"
    );
    eventually("the failed handshake ends", || server.connections() == 0).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    within(server.close()).await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_tls_error() {
    let (server_tls, client_tls) = tls_pair();
    let server = echo_server(TcpServerOptions {
        tls: Some(server_tls),
        ..Default::default()
    })
    .await;
    let err = within(tcp::client(TcpClientOptions {
        tls: Some(client_tls),
        server_name: Some("wrong.example".into()),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap_err();
    assert!(err.is_tls(), "{:?}: {err}", err.kind());
    let message = support::error_chain(&err);
    assert!(
        message.contains("wrong host name") && message.contains("wrong.example"),
        "the reason is named: {message}"
    );
    within(server.close()).await;
}

#[tokio::test]
async fn a_connection_reset_ends_the_source_with_an_error_not_a_clean_end() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let conn = connect(port).await;
    let (accepted, _) = within(listener.accept()).await.unwrap();
    let accepted = accepted.into_std().unwrap();
    // Linger 0: closing sends a reset instead of a FIN.
    socket2::SockRef::from(&accepted)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(accepted);
    let result = within(bytes::to_bytes(conn.clone())).await;
    let err = result.expect_err("a reset is not a clean end of stream");
    assert!(err.is_io() || err.is_closed(), "{:?}: {err}", err.kind());
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "names the peer: {err}"
    );
    assert!(conn.error().is_some());
}

// ---- Unix sockets, pre-bound sockets and socket options -----------------------------

#[tokio::test]
async fn a_unix_socket_server_and_client_echo_and_the_file_goes_on_close() {
    let dir = TempDir::new("unix");
    let path = dir.join("echo.sock");
    let (info_tx, mut info_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Conn, info: ConnectionInfo| {
            let _ = info_tx.send(info);
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            unix: Some(path.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        path.exists(),
        "the socket file exists while the server runs"
    );
    assert_eq!(server.unix_path(), Some(path.as_path()));
    assert_eq!(server.local_addr(), None);
    assert_eq!(server.port(), 0);

    let conn = within(tcp::client(TcpClientOptions {
        unix: Some(path.clone()),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(conn.description().kind, "unix");
    conn.send(Bytes::from("over a unix socket")).await.unwrap();
    conn.close();
    assert_eq!(
        within(bytes::to_bytes(conn)).await.unwrap(),
        "over a unix socket"
    );

    let info = within(info_rx.recv()).await.unwrap();
    assert_eq!(info.unix_path.as_deref(), Some(path.as_path()));
    assert_eq!(info.remote_addr, None);

    within(server.close()).await;
    assert!(!path.exists(), "close removes the socket file");
}

#[tokio::test]
async fn a_pre_bound_listening_socket_is_adopted_and_outlives_the_server() {
    let original = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = original.local_addr().unwrap();
    let socket = ListenSocket::from(original.try_clone().unwrap());
    let options = TcpServerOptions {
        port: 1, // ignored with a listen socket
        listen_socket: Some(socket.clone()),
        ..Default::default()
    };

    let server = echo_server(options.clone()).await;
    assert_eq!(server.local_addr(), Some(addr));
    let conn = connect(addr.port()).await;
    round_trip(&conn, "adopted").await;
    drop(conn);
    within(server.close()).await;

    // The descriptor is still open and listening, for its owner...
    assert_eq!(original.local_addr().unwrap(), addr);
    let _queued = within(TcpStream::connect(addr))
        .await
        .expect("still listening");
    original.set_nonblocking(false).unwrap();
    original.accept().expect("the original accepts");
    // ...and for another server.
    let again = echo_server(options).await;
    let conn = connect(addr.port()).await;
    round_trip(&conn, "adopted again").await;
    drop(conn);
    within(again.close()).await;
}

#[tokio::test]
async fn a_port_in_use_is_an_io_error_naming_the_address_unless_reuse_port() {
    let first = echo_server(TcpServerOptions::default()).await;
    let taken = tcp::start_server(
        |_conn: Conn, _info| {},
        TcpServerOptions {
            port: first.port(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(taken.is_io(), "{:?}: {taken}", taken.kind());
    assert!(
        taken
            .to_string()
            .contains(&format!("127.0.0.1:{}", first.port())),
        "{taken}"
    );
    let cause = std::error::Error::source(&taken)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        cause.to_lowercase().contains("in use"),
        "the cause is in the source chain: {cause:?}"
    );
    within(first.close()).await;

    let shared = TcpServerOptions {
        reuse_port: true,
        ..Default::default()
    };
    let one = echo_server(shared.clone()).await;
    let two = echo_server(TcpServerOptions {
        port: one.port(),
        ..shared
    })
    .await;
    assert_eq!(one.port(), two.port());
    let conn = connect(one.port()).await;
    round_trip(&conn, "either may answer").await;
    drop(conn);
    within(one.close()).await;
    within(two.close()).await;
}

/// What a TCP socket's options are, as the kernel reports them.
fn tcp_options(stream: &TcpStream) -> (bool, bool, Option<Duration>) {
    let sock = socket2::SockRef::from(stream);
    let keepalive = sock.keepalive().unwrap();
    let idle = keepalive.then(|| sock.tcp_keepalive_time().unwrap());
    (stream.nodelay().unwrap(), keepalive, idle)
}

#[tokio::test]
async fn server_socket_options_reach_accepted_connections() {
    for (nodelay, keepalive) in [(true, Some(Duration::from_secs(30))), (false, None)] {
        let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
        let server = tcp::start_server_raw(
            move |stream: RawStream, _info| {
                if let RawStream::Plain(Socket::Tcp(tcp)) = &stream {
                    let _ = seen_tx.send(tcp_options(tcp));
                }
            },
            TcpServerOptions {
                nodelay,
                keepalive,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let _client = within(TcpStream::connect(server.local_addr().unwrap()))
            .await
            .unwrap();
        let seen = within(seen_rx.recv())
            .await
            .expect("a plain TCP stream in raw mode");
        assert_eq!(seen, (nodelay, keepalive.is_some(), keepalive));
        within(server.close()).await;
    }
}

#[tokio::test]
async fn client_socket_options_and_local_addr_are_applied() {
    let (info_tx, mut info_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |_conn: Conn, info: ConnectionInfo| {
            let _ = info_tx.send(info);
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();
    let local = SocketAddr::from(([127, 0, 0, 1], support::peers::free_port()));
    let (stream, info) = within(tcp::client_raw(TcpClientOptions {
        nodelay: false,
        keepalive: Some(Duration::from_secs(45)),
        local_addr: Some(local),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    let RawStream::Plain(Socket::Tcp(tcp)) = &stream else {
        panic!("a plain TCP client stream: {stream:?}");
    };
    assert_eq!(
        tcp_options(tcp),
        (false, true, Some(Duration::from_secs(45)))
    );
    assert_eq!(tcp.local_addr().unwrap(), local);
    assert_eq!(info.local_addr, Some(local));
    assert_eq!(info.remote_addr, server.local_addr());
    let server_info = within(info_rx.recv()).await.unwrap();
    assert_eq!(
        server_info.remote_addr,
        Some(local),
        "the server sees the bound local address"
    );
    within(server.close()).await;
}

// ---- raw mode -----------------------------------------------------------------------

/// A raw server that reads the whole request and answers it in upper case.
async fn upper_case_raw_server(tls: Option<ServerTls>) -> Server {
    tcp::start_server_raw(
        |mut stream: RawStream, info: ConnectionInfo| async move {
            assert_eq!(
                info.tls.is_some(),
                matches!(stream, RawStream::ServerTls(_))
            );
            let mut request = Vec::new();
            stream
                .read_to_end(&mut request)
                .await
                .map_err(Error::other)?;
            stream
                .write_all(&request.to_ascii_uppercase())
                .await
                .map_err(Error::other)?;
            stream.shutdown().await.map_err(Error::other)
        },
        TcpServerOptions {
            tls,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn raw_mode_hands_both_sides_the_tokio_stream() {
    let server = upper_case_raw_server(None).await;
    let (mut stream, _info) = within(tcp::client_raw(TcpClientOptions::new(
        "127.0.0.1",
        server.port(),
    )))
    .await
    .unwrap();
    assert!(matches!(stream, RawStream::Plain(Socket::Tcp(_))));
    stream.write_all(b"raw bytes").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut reply = String::new();
    within(stream.read_to_string(&mut reply)).await.unwrap();
    assert_eq!(reply, "RAW BYTES");
    within(server.close()).await;
}

#[tokio::test]
async fn raw_mode_works_over_tls() {
    let (server_tls, client_tls) = tls_pair();
    let server = upper_case_raw_server(Some(server_tls)).await;
    let (mut stream, info) = within(tcp::client_raw(TcpClientOptions {
        tls: Some(client_tls),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .unwrap();
    assert!(matches!(stream, RawStream::ClientTls(_)));
    assert!(info.tls.is_some());
    stream.write_all(b"raw tls").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut reply = String::new();
    within(stream.read_to_string(&mut reply)).await.unwrap();
    assert_eq!(reply, "RAW TLS");
    within(server.close()).await;
}

// ---- line protocols -----------------------------------------------------------------

#[tokio::test]
async fn a_line_protocol_with_bytes_lines_on_both_ends() {
    let server = tcp::start_server(
        |conn: Conn, _info| async move {
            let mut lines = bytes::lines(conn.receiver());
            while let Some(line) = lines.next().await {
                let line = line?;
                if line == "QUIT" {
                    conn.send(Bytes::from("BYE\n")).await?;
                    break;
                }
                conn.send(Bytes::from(format!(
                    "{} {}\n",
                    line.len(),
                    line.to_uppercase()
                )))
                .await?;
            }
            conn.close();
            Ok::<(), Error>(())
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();

    let conn = connect(server.port()).await;
    // Lines split across sends in awkward places, with both line endings.
    for piece in ["hello\r\nwor", "ld\n", "\nQU", "IT\n"] {
        conn.send(Bytes::from(piece)).await.unwrap();
    }
    let replies: Vec<String> = within(bytes::lines(conn.receiver()).try_collect())
        .await
        .unwrap();
    assert_eq!(replies, ["5 HELLO", "5 WORLD", "0 ", "BYE"]);
    within(server.close()).await;
}

#[tokio::test]
async fn a_line_protocol_with_a_lines_codec_on_the_duplex_io() {
    let server = tcp::start_server(
        |conn: Conn, _info| async move {
            let mut framed = Framed::new(conn.into_io(), LinesCodec::new());
            while let Some(line) = framed.next().await {
                let line = line.map_err(Error::other)?;
                if line == "QUIT" {
                    framed.send("BYE").await.map_err(Error::other)?;
                    break;
                }
                framed
                    .send(line.to_uppercase())
                    .await
                    .map_err(Error::other)?;
            }
            SinkExt::<&str>::close(&mut framed)
                .await
                .map_err(Error::other)
        },
        TcpServerOptions::default(),
    )
    .await
    .unwrap();

    let conn = connect(server.port()).await;
    let mut framed = Framed::new(conn.into_io(), LinesCodec::new());
    for line in ["hello", "framed world", "QUIT"] {
        within(framed.send(line)).await.unwrap();
    }
    let mut replies = Vec::new();
    while let Some(line) = within(framed.next()).await {
        replies.push(line.unwrap());
    }
    assert_eq!(replies, ["HELLO", "FRAMED WORLD", "BYE"]);
    within(server.close()).await;
}

#[tokio::test]
async fn adopting_a_listening_socket_leaves_the_owners_listener_blocking() {
    let original = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = echo_server(TcpServerOptions {
        listen_socket: Some(ListenSocket::from(original.try_clone().unwrap())),
        ..Default::default()
    })
    .await;
    within(server.close()).await;
    let nonblocking = socket2::SockRef::from(&original).nonblocking().unwrap();
    assert!(
        !nonblocking,
        "the owner's blocking listener was made non-blocking"
    );
}

#[tokio::test]
async fn a_connection_cut_by_the_shutdown_timeout_ends_with_an_error_not_a_clean_end() {
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
    let server = tcp::start_server(
        move |conn: Duplex<Bytes, Bytes>, _info| {
            let ended_tx = ended_tx.clone();
            // The duplex outlives the handler, as with the seed's echo link.
            tokio::spawn(async move {
                while conn.recv().await.is_some() {}
                let _ = ended_tx.send(conn.error());
            });
        },
        TcpServerOptions {
            shutdown_timeout: Duration::from_millis(300),
            ..TcpServerOptions::default()
        },
    )
    .await
    .unwrap();
    let client = TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    eventually("the server tracks the connection", || {
        server.connections() == 1
    })
    .await;
    within(server.close()).await;
    let error = within(ended_rx.recv())
        .await
        .unwrap()
        .expect("a connection cut by the server is not a clean end");
    assert!(error.is_closed(), "{error:?}");
    assert!(
        error.to_string().contains("closed by the server"),
        "{error}"
    );
    drop(client);
}
