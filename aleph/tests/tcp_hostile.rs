//! Hostile peers and racing shutdowns against the TCP protocol and the net
//! seam under it: garbage where a TLS handshake belongs, silent clients
//! holding the last connection slot, peers that vanish with data queued for
//! them, and `close` racing arriving connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::bytes::Bytes;
use aleph::stream::{self, ConnectOptions, Duplex};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
use aleph::tls::{ClientTls, Identity, ServerTls, ServerTlsOptions};
use aleph::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;

use support::{eventually, within};

type Conn = Duplex<Bytes, Bytes>;

fn tls_pair() -> (ServerTls, ClientTls) {
    let identity = Identity::self_signed(&["localhost"]).expect("self-signed identity");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .expect("server TLS");
    let client = ClientTls::trusting_pem(identity.certificate_pem().as_bytes()).expect("roots");
    (server, client)
}

async fn echo(options: TcpServerOptions) -> Server {
    within(tcp::start_server(
        |conn: Conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        options,
    ))
    .await
    .expect("the echo server starts")
}

async fn tls_client(port: u16, tls: &ClientTls) -> Conn {
    within(tcp::client(TcpClientOptions {
        tls: Some(tls.clone()),
        server_name: Some("localhost".into()),
        ..TcpClientOptions::new("127.0.0.1", port)
    }))
    .await
    .expect("the TLS client connects")
}

async fn round_trip(conn: &Conn, text: &'static str) {
    within(conn.send(Bytes::from(text))).await.unwrap();
    let mut got = Vec::new();
    while got.len() < text.len() {
        let chunk = within(conn.recv()).await.expect("the echo answers");
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, text.as_bytes());
}

#[tokio::test]
async fn plain_text_and_garbage_sent_to_a_tls_server_end_only_their_own_connections() {
    let (server_tls, client_tls) = tls_pair();
    let server = echo(TcpServerOptions {
        tls: Some(server_tls),
        ..Default::default()
    })
    .await;
    let addr = server.local_addr().unwrap();
    let good = tls_client(server.port(), &client_tls).await;
    round_trip(&good, "before").await;

    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0][..], // a record too long
        &[0u8; 4096][..],
    ] {
        let mut peer = within(TcpStream::connect(addr)).await.unwrap();
        peer.write_all(garbage).await.unwrap();
        let mut buf = vec![0u8; 1024];
        // The server answers with an alert or nothing, then closes.
        loop {
            match within(peer.read(&mut buf)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
    round_trip(&good, "after").await;
    drop(good);
    eventually("the garbage connections end", || server.connections() == 0).await;
    within(server.close()).await;
}

#[tokio::test]
async fn a_silent_client_holding_the_last_slot_is_dropped_at_the_handshake_timeout() {
    let (server_tls, client_tls) = tls_pair();
    let server = echo(TcpServerOptions {
        tls: Some(server_tls),
        max_connections: Some(1),
        handshake_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    // Takes the only slot and never says hello.
    let mut silent = within(TcpStream::connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    // A real client is served once the silent one is dropped.
    let conn = tls_client(server.port(), &client_tls).await;
    round_trip(&conn, "served after the timeout").await;
    let mut buf = [0u8; 8];
    let ended = within(silent.read(&mut buf)).await;
    assert!(matches!(ended, Ok(0) | Err(_)), "{ended:?}");
    drop(conn);
    within(server.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_vanishes_with_bytes_queued_for_it_fails_the_senders_not_the_server() {
    let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = within(tcp::start_server(
        move |conn: Conn, _info| {
            let report = report_tx.clone();
            async move {
                let chunk = Bytes::from(vec![9u8; 64 * 1024]);
                // Sends until the connection fails: the peer is gone.
                let outcome = loop {
                    if let Err(e) = conn.send(chunk.clone()).await {
                        break e;
                    }
                };
                let _ = report.send((outcome, conn.error()));
            }
        },
        TcpServerOptions::default(),
    ))
    .await
    .unwrap();
    let mut peer = within(TcpStream::connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    // Once the server's bytes arrive, reset the connection under its queue.
    let mut first = [0u8; 1];
    within(peer.read_exact(&mut first)).await.unwrap();
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
    let (_send_error, error) = within(report_rx.recv()).await.unwrap();
    let error = error.expect("a connection cut by the peer ends with an error, not cleanly");
    assert!(error.is_closed() || error.is_io(), "{error:?}");
    // The server is unharmed.
    let conn = within(tcp::client(TcpClientOptions::new(
        "127.0.0.1",
        server.port(),
    )))
    .await
    .unwrap();
    drop(conn);
    eventually("the cut connection ends", || server.connections() <= 1).await;
    within(server.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_racing_arriving_connections_ends_every_one_of_them() {
    let server = echo(TcpServerOptions {
        shutdown_timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    let port = server.port();
    let served = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..32 {
        let served = served.clone();
        clients.push(tokio::spawn(async move {
            // Either refused (the listener is gone) or served and then closed
            // by the shutdown: never left hanging.
            let Ok(conn) = tcp::client(TcpClientOptions::new("127.0.0.1", port)).await else {
                return;
            };
            if conn.send(Bytes::from("x")).await.is_ok() && conn.recv().await.is_some() {
                served.fetch_add(1, Ordering::SeqCst);
            }
            while conn.recv().await.is_some() {}
        }));
    }
    let closers: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.close().await })
        })
        .collect();
    for closer in closers {
        within(closer).await.unwrap();
    }
    assert!(server.is_closing());
    assert_eq!(
        server.connections(),
        0,
        "close returned with connections open"
    );
    for client in clients {
        within(client).await.expect("a client task ends");
    }
    // A late client finds nothing listening.
    let late = within(tcp::client(TcpClientOptions::new("127.0.0.1", port))).await;
    assert!(late.is_err_and(|e| e.is_connect()), "the listener is gone");
}

#[tokio::test]
async fn connecting_to_an_unroutable_address_is_a_timeout_naming_the_step() {
    // 192.0.2.0/24 (TEST-NET-1) is never routed: the connect either hangs
    // until the deadline or is refused at once as unreachable.
    let err = within(tcp::client(TcpClientOptions {
        connect_timeout: Duration::from_millis(300),
        ..TcpClientOptions::new("192.0.2.1", 9)
    }))
    .await
    .expect_err("nothing answers there");
    if err.is_timeout() {
        assert!(
            err.to_string()
                .starts_with("connect to 192.0.2.1:9 timed out"),
            "{err}"
        );
    } else {
        assert!(err.is_connect(), "{err:?}");
        assert!(err.to_string().contains("192.0.2.1"), "{err}");
    }
}

#[tokio::test]
async fn close_does_not_wait_for_handshakes_that_never_finish() {
    let (server_tls, client_tls) = tls_pair();
    let server = echo(TcpServerOptions {
        tls: Some(server_tls),
        // Far beyond the test's bound: close must not wait for either.
        handshake_timeout: Duration::from_secs(3600),
        shutdown_timeout: Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let served = tls_client(server.port(), &client_tls).await;
    round_trip(&served, "in flight").await;
    let mut silent = within(TcpStream::connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    eventually("the silent client is accepted", || {
        server.connections() == 2
    })
    .await;

    let closing = tokio::spawn({
        let server = server.clone();
        async move { server.close().await }
    });
    // The established connection finishes on its own; the handshake that
    // never began is dropped at once.
    let mut buf = [0u8; 8];
    let ended = within(silent.read(&mut buf)).await;
    assert!(matches!(ended, Ok(0) | Err(_)), "{ended:?}");
    served.close();
    while within(served.recv()).await.is_some() {}
    drop(served);
    within(closing).await.expect("close returns");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_name_whose_first_address_refuses_is_reached_on_the_next_one() {
    // Listens on IPv4 only; "localhost" commonly resolves to ::1 first, which
    // refuses, and the connector goes on to 127.0.0.1.
    let server = within(tcp::start_server(
        |conn: Duplex<Bytes, Bytes>, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions::default(),
    ))
    .await
    .unwrap();
    let conn = within(tcp::client(TcpClientOptions::new(
        "localhost",
        server.port(),
    )))
    .await
    .expect("some address of localhost accepts");
    round_trip(&conn, "found").await;
    drop(conn);
    within(server.close()).await;
}

#[tokio::test]
async fn closing_a_server_at_its_connection_cap_stops_the_waiting_clients_too() {
    let server = echo(TcpServerOptions {
        max_connections: Some(1),
        shutdown_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let first = within(tcp::client(TcpClientOptions::new(
        "127.0.0.1",
        server.port(),
    )))
    .await
    .unwrap();
    round_trip(&first, "served").await;
    // Waits in the backlog: the accept loop is parked on the cap.
    let mut waiting = within(TcpStream::connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    within(server.close()).await;
    // The served one was cut at the shutdown timeout; the waiting one is
    // reset with the listener.
    while within(first.recv()).await.is_some() {}
    let mut buf = [0u8; 4];
    let ended = within(waiting.read(&mut buf)).await;
    assert!(matches!(ended, Ok(0) | Err(_)), "{ended:?}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_server_answering_a_tls_client_with_garbage_is_a_tls_error_naming_it() {
    let (_server_tls, client_tls) = tls_pair();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let garbage_server = tokio::spawn(async move {
        let (mut peer, _) = listener.accept().await.unwrap();
        let _ = peer
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\nnot TLS at all")
            .await;
        let _ = peer.shutdown().await;
    });
    let err = within(tcp::client(TcpClientOptions {
        tls: Some(client_tls),
        server_name: Some("localhost".into()),
        ..TcpClientOptions::new("127.0.0.1", addr.port())
    }))
    .await
    .expect_err("garbage is no handshake");
    assert!(err.is_tls(), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    within(garbage_server).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_reads_a_few_bytes_at_a_time_gets_every_byte_in_order() {
    let data: Bytes = (0..(2u32 << 20))
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let sent = data.clone();
    let server = within(tcp::start_server(
        move |conn: Conn, _info| {
            let data = sent.clone();
            async move {
                // Odd-sized chunks, so that partial writes cut them anywhere.
                for chunk in data.chunks(40_009) {
                    conn.send(Bytes::copy_from_slice(chunk)).await?;
                }
                conn.close();
                Ok::<(), aleph::Error>(())
            }
        },
        TcpServerOptions::default(),
    ))
    .await
    .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut peer = within(socket.connect(server.local_addr().unwrap()))
        .await
        .unwrap();
    let mut got = Vec::with_capacity(data.len());
    let mut buf = [0u8; 97];
    loop {
        let n = within(peer.read(&mut buf)).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes differ from what was sent");
    within(server.close()).await;
}
