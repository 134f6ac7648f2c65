//! The HTTP server's limits, errors and shutdown over real sockets: 413 /
//! 414 / 431 / 503 / 408, slowloris and idle connections, malformed requests
//! as raw bytes, handlers that panic or fail, and graceful close.

mod support;

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use aleph::bytes;
use aleph::http::{self, IntoResponse, Request, ServerOptions, StatusCode};
use aleph::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::http::{self as client, body, exchange, header, status, SHORT_TIMEOUT};
use support::{eventually, within};

async fn serve_with<H, M>(handler: H, options: ServerOptions) -> Server
where
    H: http::Handler<M>,
{
    http::start_server(handler, options)
        .await
        .expect("the server starts")
}

/// Reads the body and answers its length.
async fn count_body(req: Request) -> Result<String, aleph::Error> {
    Ok(bytes::to_bytes(req.into_body()).await?.len().to_string())
}

fn hello(_req: Request) -> &'static str {
    "hello!"
}

async fn still_serves(server: &Server) {
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "the server stopped serving: {res}");
}

// ---- sizes ---------------------------------------------------------------------------

#[tokio::test]
async fn server_returns_413_for_a_declared_body_over_the_limit_without_calling_the_handler() {
    let called = Arc::new(Mutex::new(false));
    let seen = called.clone();
    let options = ServerOptions {
        max_body_size: Some(10),
        ..Default::default()
    };
    let server = serve_with(
        move |req: Request| {
            *seen.lock().unwrap() = true;
            count_body(req)
        },
        options,
    )
    .await;
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890",
    )
    .await;
    assert_eq!(status(&res), 413, "{res}");
    assert_eq!(header(&res, "connection"), Some("close"));
    assert!(!*called.lock().unwrap());
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
    )
    .await;
    assert_eq!(body(&res), "10");
    server.close().await;
}

#[tokio::test]
async fn server_returns_413_once_a_chunked_body_passes_the_limit() {
    let options = ServerOptions {
        max_body_size: Some(100),
        ..Default::default()
    };
    let server = serve_with(count_body, options).await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    // 3 chunks of 40 bytes: the third passes the limit; the rest may never
    // be read, so the writes are not awaited to the end.
    let chunk = format!("28\r\n{}\r\n", "x".repeat(40));
    for _ in 0..3 {
        stream.write_all(chunk.as_bytes()).await.unwrap();
    }
    let res = client::read_response(&mut stream).await;
    assert_eq!(status(&res), 413, "{res}");
    assert_eq!(header(&res, "connection"), Some("close"));
    server.close().await;
}

#[tokio::test]
async fn server_returns_414_for_an_overlong_target() {
    let options = ServerOptions {
        max_request_line: 100,
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let request = format!(
        "GET /{} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "a".repeat(200)
    );
    let res = exchange(server.port(), request.as_bytes()).await;
    assert_eq!(status(&res), 414, "{res}");
    still_serves(&server).await;
    server.close().await;
}

#[tokio::test]
async fn server_returns_431_for_oversized_headers() {
    let options = ServerOptions {
        max_header_size: 8 * 1024,
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(16 * 1024)
    );
    let res = exchange(server.port(), request.as_bytes()).await;
    assert_eq!(status(&res), 431, "{res}");
    still_serves(&server).await;
    server.close().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503_or_the_custom_rejection() {
    let options = ServerOptions {
        max_connections: Some(1),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut first = client::connect(server.port()).await;
    first
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut first).await), "hello!");
    let res = exchange(server.port(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!(status(&res), 503, "{res}");
    assert_eq!(header(&res, "connection"), Some("close"));
    drop(first);
    eventually("the first connection is gone", || server.connections() == 0).await;
    still_serves(&server).await;
    server.close().await;

    let options = ServerOptions {
        max_connections: Some(0),
        reject_connection: Some(Arc::new(|info: &http::ConnectionInfo| {
            let peer = info
                .remote_addr
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            (StatusCode::TOO_MANY_REQUESTS, format!("busy, {peer}")).into_response()
        })),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let res = exchange(server.port(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!(status(&res), 429, "{res}");
    assert_eq!(body(&res), "busy, 127.0.0.1");
    server.close().await;
}

// ---- time ----------------------------------------------------------------------------

#[tokio::test]
async fn a_slowloris_client_is_cut_at_the_header_read_timeout() {
    let options = ServerOptions {
        header_read_timeout: Some(SHORT_TIMEOUT),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n")
        .await
        .unwrap();
    // Never finishes the head: the server closes the connection.
    let res = client::read_to_close(&mut stream).await;
    assert!(!res.contains("200 OK"), "{res}");
    still_serves(&server).await;
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn the_header_read_timeout_cuts_between_one_and_one_and_a_quarter_timeouts() {
    let timeout = std::time::Duration::from_secs(2);
    let options = ServerOptions {
        header_read_timeout: Some(timeout),
        idle_timeout: None,
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut stream = client::connect(server.port()).await;
    let started = tokio::time::Instant::now();
    stream.write_all(b"GET / HTTP/1.1\r\nHost:").await.unwrap();
    assert_eq!(client::read_to_close(&mut stream).await, "");
    let waited = started.elapsed();
    assert!(
        waited >= timeout && waited <= timeout * 5 / 4,
        "cut after {waited:?}"
    );
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn requests_keep_a_keep_alive_connection_from_the_header_read_timeout() {
    let timeout = std::time::Duration::from_secs(2);
    let options = ServerOptions {
        header_read_timeout: Some(timeout),
        idle_timeout: None,
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut stream = client::connect(server.port()).await;
    // Each wait is under the timeout; together they are far over it.
    for _ in 0..6 {
        tokio::time::sleep(timeout * 9 / 10).await;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            .await
            .unwrap();
        let res = client::read_response(&mut stream).await;
        assert_eq!(body(&res), "hello!", "{res}");
    }
    let last = tokio::time::Instant::now();
    assert_eq!(client::read_to_close(&mut stream).await, "");
    let waited = last.elapsed();
    assert!(
        waited >= timeout && waited <= timeout * 5 / 4,
        "cut after {waited:?}"
    );
    server.close().await;
}

/// Serves a stream body whose channel it hands to the test, with `options`;
/// a client sends a GET and never reads. Returns how many bytes the
/// producer got to send before its channel closed, if it closed within
/// `wait` (on the test's paused clock).
async fn producer_to_a_client_that_never_reads(
    options: ServerOptions,
    wait: std::time::Duration,
) -> Option<usize> {
    let (channel_tx, mut channel_rx) = tokio::sync::mpsc::channel(1);
    let server = serve_with(
        move |_req: Request| {
            let channel: aleph::stream::Channel<aleph::bytes::Bytes> =
                aleph::stream::Channel::buffered(1);
            channel_tx.try_send(channel.clone()).unwrap();
            channel
        },
        options,
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let channel = within(channel_rx.recv()).await.unwrap();
    let producer = tokio::spawn(async move {
        let chunk = aleph::bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        let mut sent = 0;
        while channel.send(chunk.clone()).await.is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let outcome = tokio::time::timeout(wait, producer).await;
    if outcome.is_ok() {
        eventually("the stalled connection is closed", || {
            server.connections() == 0
        })
        .await;
    }
    drop(stream);
    server.close().await;
    outcome.ok().map(|sent| sent.unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_reads_is_cut_at_the_write_timeout_and_its_producer_stops() {
    let options = ServerOptions {
        write_timeout: Some(std::time::Duration::from_secs(5)),
        idle_timeout: None,
        header_read_timeout: None,
        ..Default::default()
    };
    let sent =
        producer_to_a_client_that_never_reads(options, std::time::Duration::from_secs(9)).await;
    let sent = sent.expect("the producer's channel was not closed");
    // The socket's buffers took some of it before the stall.
    assert!(sent > 0);
}

#[tokio::test(start_paused = true)]
async fn without_a_write_timeout_a_client_that_never_reads_holds_its_producer() {
    let options = ServerOptions {
        write_timeout: None,
        idle_timeout: None,
        header_read_timeout: None,
        ..Default::default()
    };
    let sent =
        producer_to_a_client_that_never_reads(options, std::time::Duration::from_secs(600)).await;
    assert_eq!(sent, None, "the producer was stopped");
}

#[tokio::test]
async fn a_stalled_body_ends_with_408() {
    let options = ServerOptions {
        body_read_timeout: Some(SHORT_TIMEOUT),
        ..Default::default()
    };
    let server = serve_with(count_body, options).await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234")
        .await
        .unwrap();
    let res = client::read_response(&mut stream).await;
    assert_eq!(status(&res), 408, "{res}");
    assert_eq!(header(&res, "connection"), Some("close"));
    server.close().await;
}

#[tokio::test]
async fn idle_connections_are_closed_at_the_idle_timeout() {
    let options = ServerOptions {
        idle_timeout: Some(SHORT_TIMEOUT),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "hello!");
    assert_eq!(client::read_to_close(&mut stream).await, "");

    // HTTP/2: the connection ends (GOAWAY, then close) too.
    let mut send = client::h2(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("http://localhost/")))
        .await
        .unwrap();
    assert_eq!(client::text(res).await, "hello!");
    eventually("the idle h2 connection is closed", || {
        server.connections() == 0
    })
    .await;
    server.close().await;
}

#[tokio::test]
async fn keep_alive_off_closes_after_each_response() {
    let options = ServerOptions {
        keep_alive: false,
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let res = exchange(server.port(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!(header(&res, "connection"), Some("close"));
    assert_eq!(body(&res), "hello!");
    server.close().await;
}

// ---- errors --------------------------------------------------------------------------

/// Log lines written while `f` runs on this thread.
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::ERROR)
            .with_writer(move || LogWriter(writer.clone()))
            .finish();
        (Logs(buffer), tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::Write::write(&mut *self.0.lock().unwrap(), buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_or_failing_handler_gets_a_500_and_one_logged_error() {
    let (logs, _guard) = Logs::capture();
    let server = serve_with(
        |req: Request| async move {
            match req.uri().path() {
                "/panic" => panic!("boom in the handler"),
                "/err" => Err(aleph::Error::other("the database is down")),
                _ => Ok("fine"),
            }
        },
        ServerOptions::default(),
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    for path in ["/panic", "/err", "/"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let res = client::read_response(&mut stream).await;
        let expected = if path == "/" { 200 } else { 500 };
        assert_eq!(status(&res), expected, "{path}: {res}");
    }
    let text = logs.text();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("GET /panic HTTP/1.1") && lines[0].contains("boom in the handler"),
        "{text}"
    );
    assert!(
        lines[1].contains("GET /err HTTP/1.1") && lines[1].contains("the database is down"),
        "{text}"
    );
    assert!(
        lines.iter().all(|line| line.contains("127.0.0.1:")),
        "{text}"
    );
    server.close().await;
}

#[tokio::test]
async fn a_panicking_plain_handler_gets_a_500_and_the_connection_lives() {
    let server = serve_with(
        |req: Request| -> &'static str {
            if req.uri().path() == "/panic" {
                panic!("plain boom");
            }
            "fine"
        },
        ServerOptions::default(),
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET /panic HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(status(&client::read_response(&mut stream).await), 500);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "fine");
    server.close().await;
}

#[tokio::test]
async fn malformed_requests_get_400_and_the_server_serves_everyone_else() {
    let server = serve_with(count_body, ServerOptions::default()).await;
    let bad: &[(&str, &[u8])] = &[
        ("bad request line", b"GET/ HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("bad version", b"GET / HTTX/1.1\r\nHost: h\r\n\r\n"),
        ("bad header name", b"GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n"),
        ("header without colon", b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n  two\r\n\r\n"),
        ("bare CR", b"GET / HTTP/1.1\r\nHost: h\rX-A: x\r\n\r\n"),
        ("bare CR in a value", b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n"),
        // A lone LF ends a line (RFC 9112 §2.2 lets a server accept that),
        // so a bare LF inside a value leaves a line that is no header.
        ("bare LF in a value", b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\nb\r\n\r\n"),
        (
            "bad chunk size",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        ),
        (
            "two different Content-Lengths",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        ),
        ("missing Host on HTTP/1.1", b"GET / HTTP/1.1\r\nX-A: x\r\n\r\n"),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        (
            "non-chunked Transfer-Encoding",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        ),
    ];
    for (what, request) in bad {
        let res = exchange(server.port(), request).await;
        assert_eq!(status(&res), 400, "{what}: {res}");
    }
    still_serves(&server).await;
    server.close().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_never_read_as_complete() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::channel(1);
    let server = serve_with(
        move |req: Request| {
            let seen_tx = seen_tx.clone();
            async move {
                let read = bytes::to_bytes(req.into_body()).await;
                seen_tx.send(read.map(|b| b.len())).await.unwrap();
                "read"
            }
        },
        ServerOptions::default(),
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let read = within(seen_rx.recv()).await.unwrap();
    let error = read.expect_err("a truncated body is an error");
    assert!(
        error.is_protocol() || error.is_closed() || error.is_io(),
        "{error:?}"
    );
    still_serves(&server).await;
    server.close().await;
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_chunked_and_then_closed() {
    // RFC 9112 §6.3: Transfer-Encoding wins and the connection closes after
    // the response, so the bytes after the chunked body are never read as a
    // second request.
    let server = serve_with(count_body, ServerOptions::default()).await;
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    assert_eq!(body(&res), "3");
    assert_eq!(
        res.matches("HTTP/1.1").count(),
        1,
        "a second request was read: {res}"
    );
    server.close().await;
}

// ---- graceful close ------------------------------------------------------------------

#[tokio::test]
async fn close_lets_an_inflight_request_finish_and_closes_idle_connections_at_once() {
    let (started_tx, mut started_rx) = tokio::sync::mpsc::channel(1);
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let finish_rx = Arc::new(tokio::sync::Mutex::new(Some(finish_rx)));
    let server = serve_with(
        move |req: Request| {
            let (started_tx, finish_rx) = (started_tx.clone(), finish_rx.clone());
            async move {
                if req.uri().path() == "/slow" {
                    started_tx.send(()).await.unwrap();
                    let finish = finish_rx.lock().await.take().unwrap();
                    let _ = finish.await;
                    return "slow done";
                }
                "quick"
            }
        },
        ServerOptions::default(),
    )
    .await;

    // An idle keep-alive connection and an HTTP/2 one, and one in flight.
    let mut idle = client::connect(server.port()).await;
    idle.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut idle).await), "quick");
    let mut busy = client::connect(server.port()).await;
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    within(started_rx.recv()).await.unwrap();

    let closing = {
        let server = server.clone();
        tokio::spawn(async move { server.close().await })
    };
    // The idle connection is closed at once; the listener is gone.
    assert_eq!(client::read_to_close(&mut idle).await, "");
    eventually("the listener is closed", || {
        std::net::TcpStream::connect(("127.0.0.1", server.port())).is_err()
    })
    .await;
    assert!(!closing.is_finished());

    // The request in flight finishes, saying the connection closes.
    finish_tx.send(()).unwrap();
    let res = client::read_to_close(&mut busy).await;
    assert_eq!(body(&res), "slow done");
    assert_eq!(header(&res, "connection"), Some("close"));
    within(closing).await.unwrap();
}

#[tokio::test]
async fn close_sends_goaway_to_http2_clients() {
    let server = serve_with(hello, ServerOptions::default()).await;
    let stream = client::connect(server.port()).await;
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let driving = tokio::spawn(conn);
    let res = within(send.send_request(client::get("http://localhost/")))
        .await
        .unwrap();
    assert_eq!(client::text(res).await, "hello!");
    within(server.close()).await;
    // The client's connection ends cleanly: the server said GOAWAY.
    within(driving)
        .await
        .unwrap()
        .expect("a clean HTTP/2 shutdown");
}

#[tokio::test]
async fn close_cuts_what_is_left_at_the_shutdown_timeout() {
    let options = ServerOptions {
        shutdown_timeout: SHORT_TIMEOUT,
        ..Default::default()
    };
    let (started_tx, mut started_rx) = tokio::sync::mpsc::channel(1);
    let server = serve_with(
        move |_req: Request| {
            let started_tx = started_tx.clone();
            async move {
                started_tx.send(()).await.unwrap();
                std::future::pending::<()>().await;
                "never"
            }
        },
        options,
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    within(started_rx.recv()).await.unwrap();
    within(server.close()).await;
    let mut rest = Vec::new();
    let _ = within(stream.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let _ = std::io::stdout().flush();
}
