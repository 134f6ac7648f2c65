//! A hostile review of the net seam and the protocols on it: options at
//! their extremes, and what they must not break.

use aleph::bytes::{self, Bytes};
use aleph::net::Buffers;
use aleph::stream::{self, ConnectOptions, Duplex};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
use aleph::udp::{self, Packet, UdpOptions};

mod support;

use support::within;

type Conn = Duplex<Bytes, Bytes>;

/// Byte bounds as large as a `usize` goes: "no bound", as a user may write it.
const UNBOUNDED: Buffers = Buffers {
    read_ahead: usize::MAX,
    write_low_water: usize::MAX,
    write_high_water: usize::MAX,
};

#[tokio::test]
async fn a_connection_with_the_largest_byte_bounds_still_carries_bytes() {
    let server = within(tcp::start_server(
        |conn: Conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            buffers: UNBOUNDED,
            ..Default::default()
        },
    ))
    .await
    .expect("the server starts");
    let conn = within(tcp::client(TcpClientOptions {
        buffers: UNBOUNDED,
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .expect("the client connects");
    within(conn.send(Bytes::from("echo me"))).await.unwrap();
    conn.close();
    let echoed = within(bytes::to_bytes(conn)).await.expect("a clean end");
    assert_eq!(echoed, "echo me");
    within(server.close()).await;
}

#[tokio::test]
async fn a_udp_socket_with_the_largest_max_datagram_size_still_receives() {
    let socket = within(udp::socket(UdpOptions {
        max_datagram_size: usize::MAX,
        ..Default::default()
    }))
    .await
    .expect("the socket binds");
    let me = socket.local_addr();
    within(socket.send_to(Packet::new(me, "to myself")))
        .await
        .unwrap();
    let packet = within(socket.recv())
        .await
        .expect("the receive task is alive");
    assert_eq!(packet.message, "to myself");
}

/// Tasks alive on this test's runtime.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Churn at a cap of one connection (clients that finish, vanish, stay
/// silent, or never finish their TLS handshake), then `close`: once every
/// client is gone, no task the server or the clients started is left.
#[tokio::test]
async fn no_task_outlives_a_closed_server_and_its_dropped_clients() {
    use tokio::io::AsyncWriteExt;

    let before = alive_tasks();
    let identity = aleph::tls::Identity::self_signed(&["localhost"]).unwrap();
    let server_tls = aleph::tls::ServerTls::new(aleph::tls::ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .unwrap();
    let client_tls =
        aleph::tls::ClientTls::trusting_pem(identity.certificate_pem().as_bytes()).unwrap();
    let server = within(tcp::start_server(
        |conn: Conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            tls: Some(server_tls),
            max_connections: Some(1),
            shutdown_timeout: std::time::Duration::from_millis(200),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let options = TcpClientOptions {
        tls: Some(client_tls),
        server_name: Some("localhost".into()),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    };
    for round in 0..10 {
        let conn = within(tcp::client(options.clone())).await.unwrap();
        within(conn.send(Bytes::from(format!("round {round}"))))
            .await
            .unwrap();
        if round % 3 == 0 {
            drop(conn); // vanishes with its bytes sent
            continue;
        }
        conn.close();
        let echoed = within(bytes::to_bytes(conn)).await.unwrap();
        assert_eq!(echoed, format!("round {round}"));
    }
    // The last slot: a silent TLS client, and a plain one writing garbage behind it.
    let silent = within(tcp::client(options.clone())).await.unwrap();
    let mut garbage = within(tokio::net::TcpStream::connect(("127.0.0.1", server.port())))
        .await
        .unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    within(server.close()).await;
    assert_eq!(server.connections(), 0);
    drop((silent, garbage));
    support::eventually("every task has ended", || alive_tasks() <= before).await;
}

#[tokio::test]
async fn a_server_on_the_ipv6_loopback_echoes_and_a_refused_connect_names_the_address() {
    let server = within(tcp::start_server(
        |conn: Conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            host: "::1".parse().unwrap(),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    for host in ["::1", "[::1]"] {
        let conn = within(tcp::client(TcpClientOptions::new(host, server.port())))
            .await
            .unwrap();
        within(conn.send(Bytes::from("six"))).await.unwrap();
        conn.close();
        assert_eq!(within(bytes::to_bytes(conn)).await.unwrap(), "six");
    }
    let port = server.port();
    within(server.close()).await;
    let err = within(tcp::client(TcpClientOptions::new("::1", port)))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{:?}: {err}", err.kind());
    assert!(
        err.to_string().contains(&format!("[::1]:{port}")),
        "an IPv6 address with its port is written in brackets: {err}"
    );
}

async fn unix_echo(path: &std::path::Path) -> aleph::Result<aleph::Server> {
    within(tcp::start_server(
        |conn: Conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            unix: Some(path.to_owned()),
            ..Default::default()
        },
    ))
    .await
}

/// A server killed without `close` leaves its socket file behind; the next
/// one on that path takes it over instead of failing with "address in use".
#[tokio::test]
async fn a_unix_server_takes_over_the_socket_file_a_dead_server_left() {
    let dir = support::peers::TempDir::new("stale");
    let path = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // the file stays
    assert!(path.exists());
    let server = unix_echo(&path).await.expect("the stale file is replaced");
    let conn = within(tcp::client(TcpClientOptions {
        unix: Some(path.clone()),
        ..Default::default()
    }))
    .await
    .unwrap();
    within(conn.send(Bytes::from("fresh"))).await.unwrap();
    conn.close();
    assert_eq!(within(bytes::to_bytes(conn)).await.unwrap(), "fresh");
    within(server.close()).await;
}

/// ... but never a live server's socket, nor a file that is not a socket.
#[tokio::test]
async fn a_unix_server_never_takes_a_live_socket_or_a_plain_file() {
    let dir = support::peers::TempDir::new("live");
    let live = dir.join("live.sock");
    let first = unix_echo(&live).await.unwrap();
    let err = unix_echo(&live)
        .await
        .expect_err("a live server keeps its path");
    assert!(err.is_io(), "{:?}: {err}", err.kind());
    assert!(err.to_string().contains("live.sock"), "{err}");
    let conn = within(tcp::client(TcpClientOptions {
        unix: Some(live.clone()),
        ..Default::default()
    }))
    .await
    .expect("the first server still answers");
    within(conn.send(Bytes::from("still here"))).await.unwrap();
    conn.close();
    assert_eq!(within(bytes::to_bytes(conn)).await.unwrap(), "still here");
    within(first.close()).await;

    let plain = dir.join("notes.txt");
    std::fs::write(&plain, "keep me").unwrap();
    let err = unix_echo(&plain)
        .await
        .expect_err("a plain file is not a socket");
    assert!(err.is_io(), "{:?}: {err}", err.kind());
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), "keep me");
}

/// A server's `close` removes its own socket file, not one another server
/// made at the same path after the first one's file was deleted.
#[tokio::test]
async fn closing_a_unix_server_leaves_another_servers_socket_file_alone() {
    let dir = support::peers::TempDir::new("reused");
    let path = dir.join("shared.sock");
    let old = unix_echo(&path).await.unwrap();
    std::fs::remove_file(&path).unwrap(); // an operator clears the way
    let new = unix_echo(&path).await.unwrap();
    within(old.close()).await;
    assert!(path.exists(), "the new server's socket file is still there");
    let conn = within(tcp::client(TcpClientOptions {
        unix: Some(path.clone()),
        ..Default::default()
    }))
    .await
    .expect("the new server still answers");
    within(conn.send(Bytes::from("new"))).await.unwrap();
    conn.close();
    assert_eq!(within(bytes::to_bytes(conn)).await.unwrap(), "new");
    within(new.close()).await;
    assert!(!path.exists(), "the new server removed its own file");
}

/// "No timeout", as a user may write it: the longest durations are no panic.
#[tokio::test]
async fn the_longest_timeouts_are_no_panic() {
    let server = within(tcp::start_server(
        |conn: Conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            handshake_timeout: std::time::Duration::MAX,
            shutdown_timeout: std::time::Duration::MAX,
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let conn = within(tcp::client(TcpClientOptions {
        connect_timeout: std::time::Duration::MAX,
        ..TcpClientOptions::new("localhost", server.port())
    }))
    .await
    .expect("connects");
    within(conn.send(Bytes::from("patient"))).await.unwrap();
    conn.close();
    assert_eq!(within(bytes::to_bytes(conn)).await.unwrap(), "patient");
    within(server.close()).await;
}

#[tokio::test]
async fn a_udp_socket_with_the_longest_queues_sends_and_receives() {
    for overflow in [udp::Overflow::DropNewest, udp::Overflow::DropOldest] {
        let socket = within(udp::socket(UdpOptions {
            recv_queue: usize::MAX,
            send_queue: usize::MAX,
            overflow,
            ..Default::default()
        }))
        .await
        .expect("the socket binds");
        let me = socket.local_addr();
        let queue = socket.clone().into_duplex();
        within(queue.send(Packet::new(me, "queued"))).await.unwrap();
        let packet = within(socket.recv()).await.expect("the socket receives");
        assert_eq!(packet.message, "queued");
    }
}

/// A handler that answers after reading only part of what the client sent
/// (the rest unread when it closes): the answer still arrives whole and ends
/// cleanly. Closing a socket with unread input makes the kernel send a reset,
/// which throws away whatever the peer has not yet received.
#[tokio::test]
async fn an_answer_sent_before_unread_input_arrives_whole() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const ANSWER: usize = 1 << 20;
    let server = within(tcp::start_server(
        |conn: Conn, _info| async move {
            conn.recv().await; // the request's first bytes; the rest stays unread
            conn.send(Bytes::from(vec![b'a'; ANSWER])).await.ok();
            conn.close();
        },
        TcpServerOptions::default(),
    ))
    .await
    .unwrap();
    let mut client = within(tokio::net::TcpStream::connect(("127.0.0.1", server.port())))
        .await
        .unwrap();
    client.write_all(b"request").await.unwrap();
    // More than the server reads; then its connection ends (its answer
    // written) while the client has read nothing yet. (What a peer sends
    // after the connection is closed is answered with a reset whatever the
    // server does: this is about input that arrived before.)
    let junk = vec![b'j'; 64 * 1024];
    for _ in 0..4 {
        within(client.write_all(&junk)).await.unwrap();
    }
    support::eventually("the server's connection ends", || server.connections() == 0).await;
    let mut answer = Vec::new();
    let read = within(client.read_to_end(&mut answer)).await;
    assert_eq!(answer.len(), ANSWER, "the answer was cut short");
    read.expect("the answer ends cleanly");
    within(server.close()).await;
}

/// `close` while a handler's answer is still being queued and written: the
/// answer is written out whole, and ends cleanly, before `close` returns.
#[tokio::test]
async fn a_graceful_close_flushes_an_answer_still_queued() {
    use tokio::io::AsyncReadExt;

    const ANSWER: usize = 8 << 20;
    let server = within(tcp::start_server(
        |conn: Conn, _info| async move {
            let chunk = Bytes::from(vec![b'q'; 64 * 1024]);
            for _ in 0..ANSWER / chunk.len() {
                conn.send(chunk.clone()).await.unwrap();
            }
            conn.close();
        },
        TcpServerOptions {
            shutdown_timeout: support::LIMIT,
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let mut client = within(tokio::net::TcpStream::connect(("127.0.0.1", server.port())))
        .await
        .unwrap();
    // The first bytes: the handler runs and has more queued than the kernel
    // holds when `close` begins.
    let mut first = vec![0u8; 1 << 20];
    within(client.read_exact(&mut first)).await.unwrap();
    let ((), rest) = tokio::join!(within(server.close()), async {
        let mut rest = Vec::new();
        within(client.read_to_end(&mut rest)).await.map(|_| rest)
    });
    let rest = rest.expect("the answer ends cleanly");
    assert_eq!(first.len() + rest.len(), ANSWER);
    assert!(rest.iter().all(|&b| b == b'q'));
}
