//! The lingering close: a handler that answers without reading a large
//! request body must not cost its client the answer. Closing a socket with
//! unread bytes makes the kernel send a reset, which throws away the
//! response the client has not read yet and fails its upload; the server
//! instead sends its end (FIN, or TLS's close_notify), reads and discards
//! what still comes for a bounded time and number of bytes, and only then
//! closes. Real sockets throughout, plain and TLS.

mod support;

use std::time::Duration;

use aleph::http::{self, Request, ServerOptions, StatusCode};
use aleph::tcp;
use aleph::tls::{Identity, ServerTls, ServerTlsOptions};
use aleph::Server;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use support::http::{self as client, body, status};
use support::within;

/// A body far larger than the socket buffers on both sides: the client is
/// still sending it when the response comes.
const BIG: usize = 4 * 1024 * 1024;

/// Answers at once, never reading the body.
fn redirect(_req: Request) -> http::Response {
    let mut res = http::Response::new(http::Body::from("moved"));
    *res.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    res.headers_mut()
        .insert("location", http::HeaderValue::from_static("/elsewhere"));
    res
}

async fn serve(options: ServerOptions) -> Server {
    http::start_server(redirect, options)
        .await
        .expect("the server starts")
}

fn put_head(len: usize) -> Vec<u8> {
    format!("PUT /upload HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n").into_bytes()
}

/// What a simple client does: the whole request first, then the response.
/// Fails the test (with the error) if either is cut by a reset.
async fn upload_then_read(io: &mut (impl AsyncRead + AsyncWrite + Unpin), len: usize) -> String {
    io.write_all(&put_head(len))
        .await
        .expect("the head is sent");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        if let Err(error) = io.write_all(&chunk[..n]).await {
            panic!("the upload failed after {sent} bytes: {error}");
        }
        sent += n;
    }
    io.flush().await.expect("the request is flushed");
    read_all(io).await
}

/// Reads until the server's end, failing on a reset.
async fn read_all(io: &mut (impl AsyncRead + Unpin)) -> String {
    let mut out = Vec::new();
    match within(io.read_to_end(&mut out)).await {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(error) => panic!(
            "the response was lost ({error}); read so far: {}",
            String::from_utf8_lossy(&out)
        ),
    }
}

fn assert_redirect(res: &str) {
    assert_eq!(status(res), 307, "{res}");
    assert_eq!(body(res), "moved", "{res}");
}

#[tokio::test]
async fn an_unread_large_body_does_not_cost_the_client_its_response() {
    let server = serve(ServerOptions::default()).await;
    // Several times: without the linger the reset races the client's reads.
    for _ in 0..3 {
        let mut stream = client::connect(server.port()).await;
        let res = within(upload_then_read(&mut stream, BIG)).await;
        assert_redirect(&res);
    }
    server.close().await;
}

#[tokio::test]
async fn an_unread_body_read_concurrently_with_the_upload_gets_its_response() {
    let server = serve(ServerOptions::default()).await;
    let stream = client::connect(server.port()).await;
    let (mut read, mut write) = stream.into_split();
    let upload = tokio::spawn(async move {
        write.write_all(&put_head(BIG)).await?;
        let chunk = vec![b'y'; 64 * 1024];
        for _ in 0..BIG / chunk.len() {
            write.write_all(&chunk).await?;
        }
        std::io::Result::Ok(())
    });
    let res = read_all(&mut read).await;
    assert_redirect(&res);
    within(upload)
        .await
        .unwrap()
        .expect("the upload was not reset");
    server.close().await;
}

#[tokio::test]
async fn an_unread_body_over_tls_gets_its_response_after_close_notify() {
    let identity = Identity::self_signed(&["localhost"]).unwrap();
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .unwrap();
    let server = serve(ServerOptions {
        tls: Some(tls),
        ..Default::default()
    })
    .await;
    for _ in 0..2 {
        let options = tcp::TcpClientOptions {
            tls: Some(client::client_tls(&identity, &["http/1.1"])),
            server_name: Some("localhost".into()),
            ..tcp::TcpClientOptions::new("127.0.0.1", server.port())
        };
        let (mut stream, _) = within(tcp::client_raw(options)).await.unwrap();
        let res = within(upload_then_read(&mut stream, BIG)).await;
        assert_redirect(&res);
    }
    server.close().await;
}

/// Sends body bytes (after a head announcing more than will ever come)
/// until the server stops taking them; how many it sent.
async fn send_forever(io: &mut (impl AsyncWrite + Unpin)) -> u64 {
    let chunk = vec![b'z'; 64 * 1024];
    let mut sent = 0u64;
    loop {
        match io.write_all(&chunk).await {
            Ok(()) => sent += chunk.len() as u64,
            Err(_) => return sent,
        }
    }
}

#[tokio::test]
async fn a_client_that_never_stops_sending_is_cut_at_the_linger_byte_limit() {
    let server = serve(ServerOptions {
        linger_time: Duration::from_secs(3600),
        linger_bytes: 1024 * 1024,
        ..Default::default()
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    stream.write_all(&put_head(1 << 40)).await.unwrap();
    // The connection ends (the write fails) although the time limit is an
    // hour: only the byte limit can have ended it.
    let sent = within(send_forever(&mut stream)).await;
    assert!(sent >= 1024 * 1024, "cut after only {sent} bytes");
    server.close().await;
}

#[tokio::test]
async fn a_client_that_never_stops_sending_is_cut_at_the_linger_time() {
    let server = serve(ServerOptions {
        linger_time: Duration::from_millis(200),
        linger_bytes: u64::MAX,
        ..Default::default()
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    stream.write_all(&put_head(1 << 40)).await.unwrap();
    // No byte limit: only the time limit can end it.
    within(send_forever(&mut stream)).await;
    server.close().await;
}

#[tokio::test]
async fn graceful_close_is_not_held_past_its_timeout_by_a_lingering_connection() {
    let server = serve(ServerOptions {
        linger_time: Duration::from_secs(3600),
        linger_bytes: u64::MAX,
        shutdown_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    stream.write_all(&put_head(1 << 40)).await.unwrap();
    let mut head = [0u8; 12];
    within(stream.read_exact(&mut head)).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 307");
    // Answered: the server lingers while the client sends on.
    let sender = tokio::spawn(async move { send_forever(&mut stream).await });
    within(server.close()).await;
    // The cut connection fails the client's writes.
    within(sender).await.unwrap();
}

#[tokio::test]
async fn a_lingering_connection_does_not_hold_a_slot_of_max_connections() {
    let server = serve(ServerOptions {
        max_connections: Some(1),
        linger_time: Duration::from_secs(3600),
        linger_bytes: u64::MAX,
        ..Default::default()
    })
    .await;
    let mut first = client::connect(server.port()).await;
    first.write_all(&put_head(BIG)).await.unwrap();
    let mut head = [0u8; 12];
    within(first.read_exact(&mut head)).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 307");
    // The first connection lingers (its client sends on, slowly) while a
    // second client is served, not rejected.
    let sender = tokio::spawn(async move {
        let chunk = [b'w'; 1024];
        loop {
            if first.write_all(&chunk).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let res = within(async {
        loop {
            let res = client::exchange(
                server.port(),
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            )
            .await;
            if status(&res) != 503 {
                return res;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_redirect(&res);
    sender.abort();
    server.close().await;
}

#[tokio::test]
async fn a_connection_whose_body_was_read_closes_without_lingering() {
    async fn count(req: Request) -> Result<String, aleph::Error> {
        Ok(aleph::bytes::to_bytes(req.into_body())
            .await?
            .len()
            .to_string())
    }
    let server = http::start_server(
        count,
        ServerOptions {
            linger_time: Duration::from_secs(3600),
            shutdown_timeout: Duration::from_secs(3600),
            ..Default::default()
        },
    )
    .await
    .expect("the server starts");
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            b"PUT / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        )
        .await
        .unwrap();
    let res = read_all(&mut stream).await;
    assert_eq!(body(&res), "5", "{res}");
    // The client keeps its socket open: had the server lingered, its
    // connection would hold the close for an hour.
    within(server.close()).await;
    drop(stream);
}

#[tokio::test]
async fn a_body_refused_with_413_does_not_cost_the_client_its_response() {
    let server = serve(ServerOptions {
        max_body_size: Some(1024),
        ..Default::default()
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    let res = within(upload_then_read(&mut stream, BIG)).await;
    assert_eq!(status(&res), 413, "{res}");
    drop(stream);
    server.close().await;
}

#[tokio::test]
async fn a_small_unread_body_is_drained_by_hyper_and_the_connection_kept() {
    // hyper drains a dropped body that is already in its read buffer, and
    // the connection serves the next request.
    let server = serve(ServerOptions::default()).await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    assert_redirect(&client::read_response(&mut stream).await);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_redirect(&read_all(&mut stream).await);
    server.close().await;
}

#[tokio::test]
async fn a_client_gone_quiet_ends_the_linger_before_its_time() {
    let server = serve(ServerOptions {
        linger_time: Duration::from_secs(3600),
        linger_bytes: u64::MAX,
        shutdown_timeout: Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    stream.write_all(&put_head(BIG)).await.unwrap();
    stream.write_all(&vec![b'q'; 100_000]).await.unwrap();
    let mut head = [0u8; 12];
    within(stream.read_exact(&mut head)).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 307");
    // The client stops sending but keeps its socket open: the server lets
    // the connection go after a quiet second, not after the hour.
    within(server.close()).await;
    drop(stream);
}

#[tokio::test]
async fn lingering_connections_are_capped_at_max_connections() {
    // A lingering connection gives its slot to the next client; without a
    // cap of their own, clients that upload and never stop (each answered,
    // then lingering) would hold sockets far beyond max_connections.
    let server = serve(ServerOptions {
        max_connections: Some(1),
        linger_time: Duration::from_secs(3600),
        linger_bytes: u64::MAX,
        ..Default::default()
    })
    .await;
    let mut first = client::connect(server.port()).await;
    first.write_all(&put_head(1 << 40)).await.unwrap();
    let mut head = [0u8; 12];
    within(first.read_exact(&mut head)).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 307");
    // The first connection lingers: its client trickles on.
    let trickle = tokio::spawn(async move {
        let chunk = [b'w'; 1024];
        loop {
            if first.write_all(&chunk).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    // A second client, served or refused, that sends without end: the one
    // lingering place is taken, so its connection closes (its writes
    // fail) instead of lingering for the hour.
    let mut second = client::connect(server.port()).await;
    second.write_all(&put_head(1 << 40)).await.unwrap();
    let mut head = [0u8; 9];
    within(second.read_exact(&mut head)).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 ");
    within(send_forever(&mut second)).await;
    trickle.abort();
    server.close().await;
}

#[tokio::test]
async fn a_handler_panicking_over_an_unread_body_gets_its_client_a_500() {
    fn boom(_req: Request) -> http::Response {
        panic!("the handler fails without reading the body");
    }
    let server = http::start_server(boom, ServerOptions::default())
        .await
        .expect("the server starts");
    let mut stream = client::connect(server.port()).await;
    let res = within(upload_then_read(&mut stream, BIG)).await;
    assert_eq!(status(&res), 500, "{res}");
    server.close().await;
}

#[tokio::test]
async fn a_tls_client_sending_on_after_close_notify_is_cut_at_the_byte_limit() {
    let identity = Identity::self_signed(&["localhost"]).unwrap();
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .unwrap();
    let server = serve(ServerOptions {
        tls: Some(tls),
        linger_time: Duration::from_secs(3600),
        linger_bytes: 1024 * 1024,
        ..Default::default()
    })
    .await;
    let options = tcp::TcpClientOptions {
        tls: Some(client::client_tls(&identity, &["http/1.1"])),
        server_name: Some("localhost".into()),
        ..tcp::TcpClientOptions::new("127.0.0.1", server.port())
    };
    let (stream, _) = within(tcp::client_raw(options)).await.unwrap();
    let (mut read, mut write) = tokio::io::split(stream);
    write.write_all(&put_head(1 << 40)).await.unwrap();
    // The answer, then the server's close_notify (an orderly end).
    let res = read_all(&mut read).await;
    assert_redirect(&res);
    // The client sends on regardless: only the byte limit ends it.
    let sent = within(send_forever(&mut write)).await;
    assert!(sent >= 1024 * 1024, "cut after only {sent} bytes");
    server.close().await;
}

/// Sends small bytes, one every few milliseconds, until a write fails: the
/// server closed without lingering (a lingering server would take them).
async fn trickle_until_cut(io: &mut (impl AsyncWrite + Unpin)) {
    let chunk = [b't'; 512];
    while io.write_all(&chunk).await.is_ok() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A server whose linger, were it to happen, would last the hour for a
/// client that trickles: a test that sees its client cut knows it did not.
fn no_early_end() -> ServerOptions {
    ServerOptions {
        linger_time: Duration::from_secs(3600),
        linger_bytes: u64::MAX,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_body_read_to_its_end_by_to_bytes_leaves_nothing_to_linger_for() {
    async fn count(req: Request) -> Result<String, aleph::Error> {
        Ok(aleph::bytes::to_bytes(req.into_body())
            .await?
            .len()
            .to_string())
    }
    let server = http::start_server(count, no_early_end())
        .await
        .expect("the server starts");
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            b"PUT / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        )
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "5");
    within(trickle_until_cut(&mut stream)).await;
    server.close().await;
}

#[tokio::test]
async fn a_handler_reading_exactly_content_length_bytes_leaves_nothing_to_linger_for() {
    // The handler takes the body's one frame, all its bytes, and answers
    // without asking for the end it already has.
    async fn first_frame(req: Request) -> String {
        use http_body_util::BodyExt;
        let mut body = req.into_body();
        let frame = body.frame().await.expect("a frame").expect("no error");
        let data = frame.into_data().expect("data");
        data.len().to_string()
    }
    let server = http::start_server(first_frame, no_early_end())
        .await
        .expect("the server starts");
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            b"PUT / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        )
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "5");
    within(trickle_until_cut(&mut stream)).await;
    server.close().await;
}

#[tokio::test]
async fn a_chunked_body_read_to_its_end_leaves_nothing_to_linger_for() {
    async fn count(req: Request) -> Result<String, aleph::Error> {
        Ok(aleph::bytes::to_bytes(req.into_body())
            .await?
            .len()
            .to_string())
    }
    let server = http::start_server(count, no_early_end())
        .await
        .expect("the server starts");
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            b"PUT / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "5");
    within(trickle_until_cut(&mut stream)).await;
    server.close().await;
}

#[tokio::test]
async fn a_pipelined_request_after_an_unread_small_body_leaves_nothing_to_linger_for() {
    // hyper drains the first request's small unread body and serves the
    // second, which has none: the connection's close owes no linger.
    let server = serve(no_early_end()).await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            b"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\
              GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    assert_redirect(&client::read_response(&mut stream).await);
    assert_redirect(&client::read_response(&mut stream).await);
    within(trickle_until_cut(&mut stream)).await;
    server.close().await;
}

#[tokio::test]
async fn a_body_sent_after_100_continue_and_read_leaves_nothing_to_linger_for() {
    async fn count(req: Request) -> Result<String, aleph::Error> {
        Ok(aleph::bytes::to_bytes(req.into_body())
            .await?
            .len()
            .to_string())
    }
    let server = http::start_server(count, no_early_end())
        .await
        .expect("the server starts");
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            b"PUT / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )
        .await
        .unwrap();
    let mut interim = [0u8; 25];
    within(stream.read_exact(&mut interim)).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").await.unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "5");
    within(trickle_until_cut(&mut stream)).await;
    server.close().await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_not_lingered_on_after_the_write_timeout() {
    // The answer is larger than the socket buffers and the client only
    // sends: the write timeout cuts the connection, and with its answer
    // lost there is nothing for a linger to save.
    fn big_answer(_req: Request) -> Vec<u8> {
        vec![b'a'; 32 * 1024 * 1024]
    }
    let server = http::start_server(
        big_answer,
        ServerOptions {
            write_timeout: Some(Duration::from_millis(200)),
            ..no_early_end()
        },
    )
    .await
    .expect("the server starts");
    let mut stream = client::connect(server.port()).await;
    stream.write_all(&put_head(1 << 40)).await.unwrap();
    within(send_forever(&mut stream)).await;
    server.close().await;
}
