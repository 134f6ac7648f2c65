//! A hostile client's view of the HTTP server: raw bytes over real sockets
//! for smuggling attempts, limits at their exact edges, connection slots,
//! streamed responses cut short, HEAD on streams.

mod support;

use aleph::http::{self, Body, Request, ServerOptions};
use aleph::stream::Channel;
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

fn hello(_req: Request) -> &'static str {
    "hello!"
}

/// Reads the body and answers its length.
async fn count_body(req: Request) -> Result<String, aleph::Error> {
    Ok(aleph::bytes::to_bytes(req.into_body())
        .await?
        .len()
        .to_string())
}

// ---- connection slots ---------------------------------------------------------------

#[tokio::test]
async fn a_rejected_connection_does_not_hold_a_slot_of_max_connections() {
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
    // A second client connects and says nothing (yet): it is over the limit.
    let _silent = client::connect(server.port()).await;
    eventually("the silent connection is accepted", || {
        server.connections() == 2
    })
    .await;
    drop(first);
    eventually("the first connection is gone", || server.connections() == 1).await;
    // Nobody is served now: a new client takes the free slot.
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        status(&res),
        200,
        "a rejected connection held the slot: {res}"
    );
    server.close().await;
}

// ---- limits at their edges ----------------------------------------------------------

#[tokio::test]
async fn a_chunked_body_of_exactly_the_limit_is_accepted_and_one_more_byte_is_413() {
    let options = ServerOptions {
        max_body_size: Some(10),
        ..Default::default()
    };
    let server = serve_with(count_body, options).await;
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    assert_eq!(body(&res), "10");
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\n12345\r\n6\r\n67890a\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 413, "{res}");
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\n1234567890",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    server.close().await;
}

// ---- smuggling ----------------------------------------------------------------------

/// Sends `request` and asserts the server answers it with a 400 and nothing
/// else: no second response for bytes smuggled after it.
async fn assert_refused(server: &Server, request: &[u8]) {
    let res = exchange(server.port(), request).await;
    assert_eq!(
        status(&res),
        400,
        "{}: {res}",
        String::from_utf8_lossy(request)
    );
    assert_eq!(
        res.matches("HTTP/1.1 ").count(),
        1,
        "more than one response: {res}"
    );
}

#[tokio::test]
async fn smuggling_attempts_get_one_400_and_the_connection_closed() {
    let server = serve_with(count_body, ServerOptions::default()).await;
    // Two different lengths.
    assert_refused(
        &server,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 30\r\n\r\n\
          abcdGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
    )
    .await;
    // Chunked, but not as the final coding.
    assert_refused(
        &server,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n\
          0\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
    )
    .await;
    // A chunk size that overflows 64 bits.
    assert_refused(
        &server,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
          1ffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    // A chunk extension without end.
    let mut huge = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    assert_refused(&server, &huge).await;
    // Transfer-Encoding on HTTP/1.0 (RFC 9112 section 6.1: faulty framing).
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n\
          0\r\n\r\nGET /x HTTP/1.0\r\n\r\n",
    )
    .await;
    assert!(res.matches("HTTP/1.").count() <= 1, "{res}");
    assert!(!res.contains(" 200 "), "{res}");
    // A chunk size with junk after it.
    assert_refused(
        &server,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
          3 x\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    server.close().await;
}

// ---- streamed responses -------------------------------------------------------------

#[tokio::test]
async fn head_on_a_streamed_response_claims_no_zero_length() {
    let server = serve_with(
        |_req: Request| {
            let chunks = Channel::<&'static str>::buffered(1);
            Body::from(chunks)
        },
        ServerOptions::default(),
    )
    .await;
    let res = exchange(
        server.port(),
        b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    assert_ne!(
        header(&res, "content-length"),
        Some("0"),
        "a HEAD of a streamed body says its GET would be empty: {res}"
    );
    server.close().await;
}

#[tokio::test]
async fn a_stream_body_that_fails_midway_is_cut_not_ended_cleanly() {
    let server = serve_with(
        |_req: Request| {
            Body::from_stream(futures::stream::iter([
                Ok("first".to_string()),
                Err(std::io::Error::other("the producer broke")),
            ]))
        },
        ServerOptions::default(),
    )
    .await;
    let res = exchange(server.port(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").await;
    // hyper may cut before the head is flushed; never with the last chunk.
    assert!(
        !res.ends_with("0\r\n\r\n"),
        "a failed body was ended as if complete: {res}"
    );
    server.close().await;
}

#[tokio::test]
async fn close_cuts_an_endless_streamed_response_at_the_timeout_without_ending_it() {
    let options = ServerOptions {
        shutdown_timeout: SHORT_TIMEOUT,
        ..Default::default()
    };
    let server = serve_with(
        |_req: Request| {
            let chunks = Channel::<&'static str>::buffered(4);
            let producer = chunks.clone();
            tokio::spawn(async move {
                // Ticks until the client is gone: never ends on its own.
                while producer.send("tick").await.is_ok() {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            });
            Body::from(chunks)
        },
        options,
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("tick") {
        let mut buf = [0u8; 1024];
        let n = within(stream.read(&mut buf)).await.unwrap();
        assert!(n > 0, "closed before the first tick");
        seen.extend_from_slice(&buf[..n]);
    }
    within(server.close()).await;
    let res =
        String::from_utf8_lossy(&seen).into_owned() + &client::read_to_close(&mut stream).await;
    assert!(
        !res.ends_with("0\r\n\r\n"),
        "a cut response was ended as if complete: {res}"
    );
}

// ---- expect: 100-continue -----------------------------------------------------------

#[tokio::test]
async fn an_unread_expect_continue_body_is_never_parsed_as_a_request() {
    let server = serve_with(
        |req: Request| format!("path {}", req.uri().path()),
        ServerOptions::default(),
    )
    .await;
    let smuggled = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut stream = client::connect(server.port()).await;
    let head = format!(
        "POST /first HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        smuggled.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let res = client::read_response(&mut stream).await;
    assert_eq!(body(&res), "path /first", "{res}");
    // The client sends its body anyway (as RFC 9110 allows): it is the
    // first request's body, whatever it looks like.
    let _ = stream.write_all(smuggled).await;
    let _ = stream
        .write_all(b"GET /third HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .await;
    let rest = client::read_to_close(&mut stream).await;
    assert!(
        !rest.contains("/smuggled"),
        "a body was served as a request: {rest}"
    );
    server.close().await;
}

// ---- HTTP/2 answers made by aleph ---------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn http2_answers_413_and_503_without_a_connection_header() {
    let options = ServerOptions {
        max_body_size: Some(4),
        ..Default::default()
    };
    let server = serve_with(count_body, options).await;
    let mut send = client::h2(client::connect(server.port()).await).await;
    let req = ::http::Request::post("http://localhost/")
        .header("content-length", "10")
        .body(Body::from("0123456789"))
        .unwrap();
    let res = within(send.send_request(req)).await.unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.headers().get("connection").is_none());
    // A chunked-like (no length) HTTP/2 body over the limit.
    let chunks = Channel::<&'static str>::buffered(4);
    let req = ::http::Request::post("http://localhost/")
        .body(Body::from(chunks.clone()))
        .unwrap();
    let pending = send.send_request(req);
    within(chunks.send("01234567")).await.unwrap();
    chunks.close();
    let res = within(pending).await.unwrap();
    assert_eq!(res.status(), 413);
    server.close().await;

    let options = ServerOptions {
        max_connections: Some(0),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut send = client::h2(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("http://localhost/")))
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("connection").is_none());
    server.close().await;
}

// ---- HTTP/2 ---------------------------------------------------------------------------

#[tokio::test]
async fn an_http2_client_that_never_reads_slows_the_producer_and_leaving_closes_it() {
    let (channel_tx, mut channel_rx) = tokio::sync::mpsc::channel(1);
    let server = serve_with(
        move |_req: Request| {
            let channel: Channel<aleph::bytes::Bytes> = Channel::buffered(1);
            channel_tx.try_send(channel.clone()).unwrap();
            channel
        },
        ServerOptions::default(),
    )
    .await;
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
    let channel = within(channel_rx.recv()).await.unwrap();
    // The response's body is never read: the stream's window fills.
    let chunk = aleph::bytes::Bytes::from(vec![b'x'; 16 * 1024]);
    let mut sent = 0usize;
    loop {
        match tokio::time::timeout(
            std::time::Duration::from_millis(500),
            channel.send(chunk.clone()),
        )
        .await
        {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) => panic!("the channel closed while the client was still there"),
            Err(_) => break,
        }
        assert!(
            sent < 16 * 1024 * 1024,
            "the producer was never slowed down"
        );
    }
    drop(res);
    drop(send);
    driving.abort();
    within(channel.closed()).await;
    server.close().await;
}

#[tokio::test]
async fn a_garbled_http2_preface_gets_no_200_and_the_server_serves_on() {
    let server = serve_with(hello, ServerOptions::default()).await;
    for garbage in [
        &b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"[..],
        // The right preface, then a DATA frame on stream 0.
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x01\x00\x00\x00\x00\x00\x00X"[..],
    ] {
        let res = exchange(server.port(), garbage).await;
        assert!(!res.contains(" 200 "), "{res}");
    }
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    server.close().await;
}

// ---- server-sent events ---------------------------------------------------------------

#[test]
fn sse_fields_cannot_be_split_by_line_breaks() {
    use aleph::http::sse::Event;
    let event = Event {
        id: Some("1\r\ndata: injected".into()),
        event: Some("a\rretry: 1".into()),
        comment: Some("c\n\ndata: x".into()),
        data: Some("one\r\ntwo\rthree\nfour".into()),
        retry: None,
    };
    let text = event.to_string();
    let lines: Vec<&str> = text.split(['\n']).collect();
    assert_eq!(
        lines,
        [
            ": c",
            ": ",
            ": data: x",
            "id: 1  data: injected",
            "event: a retry: 1",
            "data: one",
            "data: two",
            "data: three",
            "data: four",
            "",
            ""
        ],
        "{text:?}"
    );
    assert!(!text.contains('\r'), "{text:?}");
}

// ---- header counts --------------------------------------------------------------------

/// A request of `count` header fields in all, each a few bytes.
fn with_headers(count: usize) -> Vec<u8> {
    let mut request = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n".to_vec();
    for i in 2..count {
        request.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

#[tokio::test]
async fn http1_takes_100_header_fields_and_431s_the_101st_as_documented() {
    let server = serve_with(hello, ServerOptions::default()).await;
    let res = exchange(server.port(), &with_headers(100)).await;
    assert_eq!(status(&res), 200, "{res}");
    // Far under max_header_size (64 KiB), yet over the count.
    let request = with_headers(101);
    assert!(request.len() < 2048);
    let res = exchange(server.port(), &request).await;
    assert_eq!(status(&res), 431, "{res}");
    server.close().await;
}

// ---- edges of the request line and Expect ---------------------------------------------

#[tokio::test]
async fn a_target_of_exactly_max_request_line_is_served_and_one_more_is_414() {
    let options = ServerOptions {
        max_request_line: 100,
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    for (len, expected) in [(100, 200), (101, 414)] {
        let target = format!("/{}", "a".repeat(len - 1));
        let request = format!("GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let res = exchange(server.port(), request.as_bytes()).await;
        assert_eq!(status(&res), expected, "{len}: {res}");
    }
    server.close().await;
}

#[tokio::test]
async fn a_declared_body_over_the_limit_gets_413_and_no_100_continue() {
    let options = ServerOptions {
        max_body_size: Some(10),
        ..Default::default()
    };
    let server = serve_with(count_body, options).await;
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 413 "), "{res}");
    assert!(!res.contains("100 Continue"), "{res}");
    server.close().await;
}

// ---- graceful close -------------------------------------------------------------------

#[tokio::test]
async fn close_lets_a_streamed_response_in_flight_finish_whole() {
    let (channel_tx, mut channel_rx) = tokio::sync::mpsc::channel(1);
    let server = serve_with(
        move |_req: Request| {
            let channel = Channel::<&'static str>::buffered(1);
            channel_tx.try_send(channel.clone()).unwrap();
            channel
        },
        ServerOptions::default(),
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let channel = within(channel_rx.recv()).await.unwrap();
    within(channel.send("first ")).await.unwrap();
    let closing = {
        let server = server.clone();
        tokio::spawn(async move { server.close().await })
    };
    eventually("the listener is closed", || {
        std::net::TcpStream::connect(("127.0.0.1", server.port())).is_err()
    })
    .await;
    assert!(!closing.is_finished(), "close did not wait for the stream");
    within(channel.send("last")).await.unwrap();
    channel.close();
    let res = client::read_to_close(&mut stream).await;
    assert!(res.contains("first "), "{res}");
    assert!(res.contains("last"), "{res}");
    assert!(res.ends_with("0\r\n\r\n"), "not ended cleanly: {res}");
    within(closing).await.unwrap();
}

#[tokio::test]
async fn a_rejected_http2_connection_that_asks_nothing_is_closed_at_the_idle_timeout() {
    let options = ServerOptions {
        max_connections: Some(0),
        idle_timeout: Some(SHORT_TIMEOUT),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let stream = client::connect(server.port()).await;
    let (_send, conn) = hyper::client::conn::http2::handshake::<_, _, Body>(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    // The client sends no request: the server still lets the connection go.
    let _ = within(conn).await;
    eventually("the rejected connection is gone", || {
        server.connections() == 0
    })
    .await;
    server.close().await;
}

#[tokio::test]
async fn an_unread_body_after_an_answer_without_the_handler_is_never_a_request() {
    let options = ServerOptions {
        max_request_line: 50,
        ..Default::default()
    };
    let server = serve_with(|req: Request| format!("path {}", req.uri().path()), options).await;
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
    let long = format!("/{}", "a".repeat(60));
    for (target, method) in [
        (long.as_str(), "POST"),
        ("*", "OPTIONS"),
        ("/plain", "POST"),
    ] {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{smuggled}\
             GET /third HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            smuggled.len()
        );
        let res = exchange(server.port(), request.as_bytes()).await;
        assert!(!res.contains("/smuggled"), "{method} {target}: {res}");
    }
    server.close().await;
}

#[tokio::test]
async fn a_streamed_response_to_a_keep_alive_http10_client_is_close_delimited() {
    let server = serve_with(
        |_req: Request| {
            Body::from_stream(futures::stream::iter(
                ["a", "b"].map(Ok::<_, std::io::Error>),
            ))
        },
        ServerOptions::default(),
    )
    .await;
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    assert_eq!(header(&res, "transfer-encoding"), None, "{res}");
    assert_eq!(header(&res, "connection"), Some("close"), "{res}");
    assert!(!res.to_ascii_lowercase().contains("keep-alive"), "{res}");
    assert_eq!(body(&res), "ab");
    server.close().await;
}

#[tokio::test]
async fn a_closing_answer_to_a_keep_alive_http10_client_says_only_close() {
    let options = ServerOptions {
        max_body_size: Some(1),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert_eq!(status(&res), 413, "{res}");
    assert_eq!(header(&res, "connection"), Some("close"), "{res}");
    server.close().await;
}

// ---- the connection's read-ahead, its watch and the write timeout -------------------

/// A body of `len` bytes whose order shows: byte `i` is `i % 251`.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Whether `bytes` is exactly [`patterned`]`(bytes.len())`.
fn in_order(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8)
}

/// Waits (on the test's clock) so that the connection reads ahead whatever
/// the client sent, then reads the body and answers its length and whether
/// it came in order; a GET is answered "hello!".
async fn late_body_reader(req: Request) -> Result<String, aleph::Error> {
    if req.method() == "GET" {
        return Ok("hello!".to_string());
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let body = aleph::bytes::to_bytes(req.into_body()).await?;
    Ok(format!("{} {}", body.len(), in_order(&body)))
}

fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test(start_paused = true)]
async fn bodies_around_the_read_ahead_size_and_the_requests_after_them_arrive_whole_and_in_order() {
    let server = serve_with(late_body_reader, ServerOptions::default()).await;
    for len in [1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000] {
        for chunk in [None, Some(1000), Some(16 * 1024)] {
            let sent = patterned(len);
            let mut wire = Vec::new();
            match chunk {
                None => {
                    wire.extend_from_slice(
                        format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n")
                            .as_bytes(),
                    );
                    wire.extend_from_slice(&sent);
                }
                Some(chunk) => {
                    wire.extend_from_slice(
                        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
                    );
                    wire.extend_from_slice(&self::chunked(&sent, chunk));
                }
            }
            // Two more requests pipelined behind the body.
            wire.extend_from_slice(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
            wire.extend_from_slice(b"GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
            let mut stream = client::connect(server.port()).await;
            let (mut read, mut write) = stream.split();
            let (_, first) = tokio::join!(
                async { write.write_all(&wire).await.unwrap() },
                client::read_response(&mut read)
            );
            assert_eq!(
                body(&first),
                format!("{len} true"),
                "{len} {chunk:?}: {first}"
            );
            let second = client::read_response(&mut stream).await;
            assert_eq!(body(&second), "hello!", "{len} {chunk:?}: {second}");
            let third = client::read_response(&mut stream).await;
            assert_eq!(body(&third), "hello!", "{len} {chunk:?}: {third}");
        }
    }
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn expect_continue_is_sent_when_a_late_reader_reads_and_its_body_arrives_whole() {
    let server = serve_with(late_body_reader, ServerOptions::default()).await;
    let len = 40_000;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: {len}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut continued = Vec::new();
    let mut byte = [0u8; 1];
    while !continued.ends_with(b"\r\n\r\n") {
        assert_eq!(within(stream.read(&mut byte)).await.unwrap(), 1);
        continued.push(byte[0]);
    }
    assert!(
        continued.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&continued)
    );
    stream.write_all(&patterned(len)).await.unwrap();
    let res = client::read_response(&mut stream).await;
    assert_eq!(body(&res), format!("{len} true"), "{res}");
    server.close().await;
}

/// Reads a chunked body from `stream` `step` bytes at a time, waiting
/// `pause` (on the test's clock) between reads; `None` if the connection
/// ended first.
async fn read_chunked_slowly(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    step: usize,
    pause: std::time::Duration,
) -> Option<Vec<u8>> {
    let mut wire = Vec::new();
    let mut buf = vec![0u8; step];
    loop {
        if let Some(head_end) = wire.windows(4).position(|w| w == b"\r\n\r\n") {
            if wire.ends_with(b"\r\n0\r\n\r\n") || wire[head_end..].ends_with(b"\n0\r\n\r\n") {
                let mut rest = &wire[head_end + 4..];
                let mut out = Vec::new();
                loop {
                    let line = rest.windows(2).position(|w| w == b"\r\n").unwrap();
                    let size =
                        usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap(), 16)
                            .unwrap();
                    if size == 0 {
                        return Some(out);
                    }
                    out.extend_from_slice(&rest[line + 2..line + 2 + size]);
                    rest = &rest[line + 2 + size + 2..];
                }
            }
        }
        tokio::time::sleep(pause).await;
        let n = within(stream.read(&mut buf)).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        wire.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_large_body_echoed_to_a_client_reading_slowly_arrives_whole_and_in_order() {
    let len = 3 * 1024 * 1024;
    let server = serve_with(|req: Request| req.into_body(), ServerOptions::default()).await;
    let stream = client::connect(server.port()).await;
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        write
            .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        // Chunked, so that the echo is too (its length is not known).
        for part in chunked(&patterned(len), 64 * 1024).chunks(64 * 1024) {
            write.write_all(part).await.unwrap();
        }
        write
    });
    let echoed = read_chunked_slowly(&mut read, 64 * 1024, std::time::Duration::from_millis(100))
        .await
        .expect("the connection ended before the echo did");
    assert_eq!(echoed.len(), len);
    assert!(in_order(&echoed));
    drop(within(writer).await.unwrap());
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_slowly_reading_a_large_answer_is_cut_by_neither_the_header_read_nor_the_idle_timeout(
) {
    // More than the kernel's buffers hold: the server is still writing it
    // long after the handler (and its body) finished.
    const SIZE: usize = 8 * 1024 * 1024;
    let options = ServerOptions {
        header_read_timeout: Some(std::time::Duration::from_secs(2)),
        idle_timeout: Some(std::time::Duration::from_secs(3)),
        write_timeout: None,
        ..Default::default()
    };
    let answer = aleph::bytes::Bytes::from(patterned(SIZE));
    let server = serve_with(move |_req: Request| answer.clone(), options).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let mut stream = within(socket.connect(([127, 0, 0, 1], server.port()).into()))
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut wire = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut head_len = None;
    while head_len.is_none_or(|head: usize| wire.len() < head + SIZE) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let n = within(stream.read(&mut buf)).await.unwrap_or(0);
        assert!(
            n > 0,
            "cut after {} of {SIZE} body bytes",
            wire.len().saturating_sub(head_len.unwrap_or(0))
        );
        wire.extend_from_slice(&buf[..n]);
        if head_len.is_none() {
            head_len = wire
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|at| at + 4);
        }
    }
    assert!(in_order(&wire[head_len.unwrap()..]));
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn close_does_not_let_a_slowloris_outlive_the_header_read_timeout() {
    let options = ServerOptions {
        header_read_timeout: Some(std::time::Duration::from_secs(1)),
        idle_timeout: None,
        shutdown_timeout: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut stream = client::connect(server.port()).await;
    stream.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    eventually("the connection is served", || server.connections() == 1).await;
    let closing = {
        let server = server.clone();
        tokio::spawn(async move { server.close().await })
    };
    // The read is bounded by `LIMIT` on the paused clock: far over the
    // header read timeout, far under the shutdown timeout.
    let rest = client::read_to_close(&mut stream).await;
    assert!(!rest.contains("200"), "{rest}");
    within(closing).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_slowloris_idle_past_the_idle_timeout_is_still_cut_by_the_header_read_timeout() {
    // The idle timeout comes first and winds the connection down; hyper
    // does not close a connection in the middle of a head for that.
    let options = ServerOptions {
        header_read_timeout: Some(std::time::Duration::from_secs(3)),
        idle_timeout: Some(std::time::Duration::from_secs(1)),
        ..Default::default()
    };
    let server = serve_with(hello, options).await;
    let mut stream = client::connect(server.port()).await;
    stream.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    let rest = client::read_to_close(&mut stream).await;
    assert!(!rest.contains("200"), "{rest}");
    server.close().await;
}

async fn tls_serve<H, M>(identity: &aleph::tls::Identity, handler: H) -> Server
where
    H: http::Handler<M>,
{
    let tls = aleph::tls::ServerTls::new(aleph::tls::ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .unwrap();
    let options = ServerOptions {
        tls: Some(tls),
        ..Default::default()
    };
    serve_with(handler, options).await
}

async fn tls_connect(identity: &aleph::tls::Identity, port: u16) -> aleph::net::RawStream {
    let options = aleph::tcp::TcpClientOptions {
        tls: Some(client::client_tls(identity, &["http/1.1"])),
        server_name: Some("localhost".into()),
        ..aleph::tcp::TcpClientOptions::new("127.0.0.1", port)
    };
    within(aleph::tcp::client_raw(options)).await.unwrap().0
}

#[tokio::test]
async fn over_tls_a_late_read_body_and_the_requests_pipelined_after_it_arrive_whole() {
    let identity = aleph::tls::Identity::self_signed(&["localhost"]).unwrap();
    let go = std::sync::Arc::new(tokio::sync::Notify::new());
    let wait = go.clone();
    let server = tls_serve(&identity, move |req: Request| {
        let wait = wait.clone();
        async move {
            if req.method() == "GET" {
                return Ok("hello!".to_string());
            }
            // Until the client sent everything: the connection reads ahead.
            wait.notified().await;
            let body = aleph::bytes::to_bytes(req.into_body()).await?;
            Ok::<_, aleph::Error>(format!("{} {}", body.len(), in_order(&body)))
        }
    })
    .await;
    let len = 16 * 1024 + 1;
    let mut wire =
        format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    wire.extend_from_slice(&patterned(len));
    wire.extend_from_slice(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    let mut stream = tls_connect(&identity, server.port()).await;
    within(stream.write_all(&wire)).await.unwrap();
    within(stream.flush()).await.unwrap();
    support::settle().await;
    go.notify_one();
    let first = client::read_response(&mut stream).await;
    assert_eq!(body(&first), format!("{len} true"), "{first}");
    let second = client::read_response(&mut stream).await;
    assert_eq!(body(&second), "hello!", "{second}");
    server.close().await;
}

#[tokio::test]
async fn over_tls_client_gone_fires_while_the_handler_holds_an_unread_body() {
    let identity = aleph::tls::Identity::self_signed(&["localhost"]).unwrap();
    let (arrived_tx, mut arrived_rx) = tokio::sync::mpsc::channel(1);
    let (gone_tx, mut gone_rx) = tokio::sync::mpsc::channel(1);
    let server = tls_serve(&identity, move |req: Request| {
        let client_gone = req.client_gone();
        let (arrived, gone) = (arrived_tx.clone(), gone_tx.clone());
        let body = req.into_body();
        async move {
            arrived.send(()).await.unwrap();
            client_gone.await;
            drop(body);
            gone.send(()).await.unwrap();
            "too late"
        }
    })
    .await;
    let mut stream = tls_connect(&identity, server.port()).await;
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\nhello")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    within(arrived_rx.recv()).await.unwrap();
    assert!(gone_rx.try_recv().is_err(), "gone before the client left");
    drop(stream);
    within(gone_rx.recv()).await.unwrap();
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_producer_is_never_cut_by_the_write_timeout() {
    let options = ServerOptions {
        write_timeout: Some(std::time::Duration::from_secs(5)),
        ..Default::default()
    };
    let server = serve_with(
        |_req: Request| {
            let channel: Channel<aleph::bytes::Bytes> = Channel::buffered(1);
            let producer = channel.clone();
            tokio::spawn(async move {
                // Each pause longer than the write timeout (and the reads'
                // bound, so the test takes each tick as it comes).
                for i in 0..5 {
                    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
                    if producer.send(format!("tick {i}\n").into()).await.is_err() {
                        return;
                    }
                }
                producer.close();
            });
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
    let echoed = read_chunked_slowly(&mut stream, 1024, std::time::Duration::ZERO)
        .await
        .expect("the connection ended before the response did");
    assert_eq!(
        String::from_utf8(echoed).unwrap(),
        "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n"
    );
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_reading_a_large_answer_slowly_but_steadily_is_not_cut_by_the_write_timeout() {
    const SIZE: usize = 8 * 1024 * 1024;
    let options = ServerOptions {
        write_timeout: Some(std::time::Duration::from_secs(5)),
        ..Default::default()
    };
    let answer = aleph::bytes::Bytes::from(patterned(SIZE));
    let server = serve_with(move |_req: Request| answer.clone(), options).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let mut stream = within(socket.connect(([127, 0, 0, 1], server.port()).into()))
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut received = 0;
    let mut buf = vec![0u8; 64 * 1024];
    // 64 KiB a second: always well within the write timeout of the last.
    while received < SIZE {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let n = within(stream.read(&mut buf)).await.unwrap_or(0);
        assert!(n > 0, "cut after {received} of {SIZE} bytes");
        received += n;
    }
    server.close().await;
}

// A real clock: hyper's HTTP/2 client stalls on a paused one.
#[tokio::test]
async fn an_h2c_connection_is_held_to_the_idle_timeout_not_the_header_read_timeout_once_it_spoke_http2(
) {
    let options = ServerOptions {
        header_read_timeout: Some(SHORT_TIMEOUT),
        idle_timeout: Some(std::time::Duration::from_secs(60)),
        ..Default::default()
    };
    let server = serve_with(
        |req: Request| async move {
            if req.uri().path() == "/slow" {
                // Longer than the header read timeout: no head is awaited.
                tokio::time::sleep(SHORT_TIMEOUT * 3).await;
            }
            "hello!"
        },
        options,
    )
    .await;
    let stream = client::connect(server.port()).await;
    let mut send = client::h2(stream).await;
    for path in ["/slow", "/after-a-pause", "/again"] {
        let res = within(send.send_request(client::get(&format!("http://localhost{path}"))))
            .await
            .unwrap();
        assert_eq!(client::text(res).await, "hello!", "{path}");
        // Longer than the header read timeout, shorter than the idle one.
        tokio::time::sleep(SHORT_TIMEOUT * 3).await;
    }
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn the_next_request_on_a_keep_alive_connection_gets_none_of_the_last_ones_state() {
    let (gone_tx, mut gone_rx) = tokio::sync::mpsc::channel(4);
    let server = serve_with(
        move |req: Request| {
            let gone = gone_tx.clone();
            async move {
                if req.uri().path() == "/first" {
                    // Answered at once, its body unread: its state is left
                    // behind for the next request to reuse.
                    return "first".to_string();
                }
                let client_gone = req.client_gone();
                let body = req.into_body();
                tokio::spawn(async move {
                    client_gone.await;
                    drop(body);
                    let _ = gone.send(()).await;
                });
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                "second".to_string()
            }
        },
        ServerOptions::default(),
    )
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"POST /first HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "first");
    stream
        .write_all(b"POST /second HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    assert_eq!(body(&client::read_response(&mut stream).await), "second");
    // Answered in full: the client did not go away from it.
    assert!(
        support::at_most(std::time::Duration::from_secs(5), gone_rx.recv())
            .await
            .is_none(),
        "client_gone fired for an answered request"
    );
    drop(stream);
    server.close().await;
}
