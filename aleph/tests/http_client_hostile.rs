//! A hostile reviewer's tests of the client: the pool's accounting across
//! hosts under the total limit, and replays of requests a server may have
//! seen. Real sockets on 127.0.0.1 (and 127.0.0.2/3 for other hosts).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::http::{self, Client, ClientOptions, Request, ServerOptions};
use aleph::stream::Channel;
use aleph::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::{within, LIMIT};

/// A server on every local address whose handler holds each request until
/// released.
async fn gated_any() -> (Server, Arc<AtomicUsize>, Channel<()>) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let release: Channel<()> = Channel::buffered(1024);
    let (a, r) = (arrived.clone(), release.clone());
    let server = http::start_server(
        move |_req: Request| {
            let (a, r) = (a.clone(), r.clone());
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                r.recv().await;
                "released"
            }
        },
        ServerOptions {
            host: "0.0.0.0".parse().unwrap(),
            ..Default::default()
        },
    )
    .await
    .expect("the server starts");
    (server, arrived, release)
}

async fn until_stats(client: &Client, what: &str, ok: impl Fn(&http::HostStats) -> bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let total = client.stats().total();
        if ok(&total) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {what}: {total:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn until_count(counter: &AtomicUsize, n: usize) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while counter.load(Ordering::SeqCst) < n {
        assert!(tokio::time::Instant::now() < deadline, "never reached {n}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Host B waits for the total limit while host A's only connection is in
/// use; when A's response ends, its connection must not sit idle while B
/// waits forever: it makes room for B.
#[tokio::test]
async fn a_request_queued_at_the_total_limit_gets_the_slot_when_another_hosts_connection_goes_idle()
{
    let (server, arrived, release) = gated_any().await;
    let client = Client::new(ClientOptions {
        total_connections: 1,
        ..Default::default()
    });
    let a = format!("http://127.0.0.2:{}/", server.port());
    let b = format!("http://127.0.0.3:{}/", server.port());
    let first = tokio::spawn(client.get(&a).send());
    until_count(&arrived, 1).await;
    let second = tokio::spawn(client.get(&b).send());
    until_stats(&client, "B queued", |t| t.queued == 1).await;
    release.send(()).await.unwrap();
    release.send(()).await.unwrap();
    let res = within(first).await.unwrap().unwrap();
    assert_eq!(res.text().await.unwrap(), "released");
    let res = within(second)
        .await
        .unwrap()
        .expect("B is served once A is done");
    assert_eq!(res.text().await.unwrap(), "released");
    until_stats(&client, "settled on one connection", |t| {
        t.in_use == 0 && t.queued == 0 && t.live == 1
    })
    .await;
    server.close().await;
}

/// The same at the total limit with HTTP/2: an idle shared h2c connection
/// of host A must make room for host B, queued or arriving.
#[tokio::test]
async fn an_idle_http2_connection_of_another_host_makes_room_at_the_total_limit() {
    let (server, arrived, release) = gated_any().await;
    let client = Client::new(ClientOptions {
        total_connections: 1,
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let a = format!("http://127.0.0.2:{}/", server.port());
    let b = format!("http://127.0.0.3:{}/", server.port());
    // Arriving after A's connection went idle.
    release.send(()).await.unwrap();
    let res = within(client.get(&a).send()).await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);
    assert_eq!(res.text().await.unwrap(), "released");
    until_stats(&client, "A idle", |t| t.in_use == 0 && t.idle == 1).await;
    release.send(()).await.unwrap();
    let res = within(client.get(&b).send())
        .await
        .expect("B is served: A's idle connection made room");
    assert_eq!(res.text().await.unwrap(), "released");
    // Queued while A's connection is in use, then A goes idle.
    let first = tokio::spawn(client.get(&a).send());
    until_count(&arrived, 3).await;
    let second = tokio::spawn(client.get(&b).send());
    until_stats(&client, "B queued", |t| t.queued == 1).await;
    release.send(()).await.unwrap();
    release.send(()).await.unwrap();
    let res = within(first).await.unwrap().unwrap();
    assert_eq!(res.text().await.unwrap(), "released");
    let res = within(second)
        .await
        .unwrap()
        .expect("B is served once A is done");
    assert_eq!(res.text().await.unwrap(), "released");
    until_stats(&client, "settled", |t| {
        t.in_use == 0 && t.queued == 0 && t.live == 1
    })
    .await;
    server.close().await;
}

/// A peer that reads each request (head and body) and closes without an
/// answer: the server saw it.
async fn reads_then_closes() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.ends_with(b"payload") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, seen)
}

/// Opt-in retries must not send a POST again once the server may have
/// seen it (it read the whole request, then closed): only failures before
/// the request went out are retried for a method that is not idempotent.
#[tokio::test(start_paused = true)]
async fn an_opt_in_retry_never_sends_a_post_the_server_saw_again() {
    let (port, seen) = reads_then_closes().await;
    let client = Client::default();
    let err = within(
        client
            .post(format!("http://127.0.0.1:{port}/"))
            .body("payload")
            .retry(3, Duration::from_millis(10))
            .send(),
    )
    .await
    .unwrap_err();
    assert!(err.is_closed(), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "the POST was sent once");
    // An idempotent PUT may be retried.
    let err = within(
        client
            .put(format!("http://127.0.0.1:{port}/"))
            .body("payload")
            .retry(2, Duration::from_millis(10))
            .send(),
    )
    .await
    .unwrap_err();
    assert!(err.is_closed(), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 4, "the PUT was sent 3 times");
}

/// A peer answering each connection with `first` (an event stream's
/// bytes, then the connection closes), recording the (paused) clock at
/// every accept.
async fn event_peer(
    first: &'static [u8],
    later: &'static [u8],
) -> (
    u16,
    tokio::sync::mpsc::UnboundedReceiver<tokio::time::Instant>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = tx.send(tokio::time::Instant::now());
            let events = if n == 0 { first } else { later };
            n += 1;
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let mut answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                    connection: close\r\n\r\n"
                    .to_vec();
                answer.extend_from_slice(events);
                let _ = socket.write_all(&answer).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, rx)
}

async fn accept_gaps(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<tokio::time::Instant>,
    n: usize,
) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..n {
        times.push(within(rx.recv()).await.unwrap());
    }
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// `retry: 0` from a server that closes after each event must not make a
/// reconnection storm: reconnects are at least 100 ms apart.
#[tokio::test(start_paused = true)]
async fn sse_retry_zero_does_not_reconnect_in_a_tight_loop() {
    use futures::StreamExt;
    let event: &[u8] = b"retry: 0\ndata: x\n\n";
    let (port, mut accepts) = event_peer(event, event).await;
    let client = Client::default();
    let res = within(client.get(format!("http://127.0.0.1:{port}/")).send())
        .await
        .unwrap();
    let mut events = res.sse();
    let reader = tokio::spawn(async move {
        for _ in 0..5 {
            let event = events.next().await.unwrap().unwrap();
            assert_eq!(event.data.as_deref(), Some("x"));
        }
    });
    let gaps = accept_gaps(&mut accepts, 5).await;
    within(reader).await.unwrap();
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(100)),
        "reconnects too close together: {gaps:?}"
    );
}

/// Reconnections that bring no event back off: each wait twice the last.
#[tokio::test(start_paused = true)]
async fn sse_reconnects_that_bring_nothing_back_off() {
    use futures::StreamExt;
    let (port, mut accepts) = event_peer(b"retry: 0\ndata: x\n\n", b"").await;
    let client = Client::default();
    let res = within(client.get(format!("http://127.0.0.1:{port}/")).send())
        .await
        .unwrap();
    let mut events = res.sse();
    let reader = tokio::spawn(async move {
        let event = events.next().await.unwrap().unwrap();
        assert_eq!(event.data.as_deref(), Some("x"));
        // Nothing more ever comes.
        events.next().await
    });
    let gaps = accept_gaps(&mut accepts, 5).await;
    reader.abort();
    assert!(
        gaps.windows(2).all(|w| w[1] >= w[0] * 2),
        "no backoff between empty reconnects: {gaps:?}"
    );
    assert!(gaps[0] >= Duration::from_millis(100), "{gaps:?}");
}

/// A keep-alive HTTP/1.1 peer counting its open connections: `/big` is a
/// 4 MiB body, `/small/N` answers `small N`, `/hold` never answers.
async fn counting_peer() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = Arc::new(AtomicUsize::new(0));
    let counter = open.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                'conn: loop {
                    let head_end = loop {
                        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break 'conn,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
                    got.drain(..head_end);
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    let body: Vec<u8> = if path == "/big" {
                        vec![b'z'; 4 << 20]
                    } else if path == "/hold" {
                        // Until the client goes.
                        while !matches!(socket.read(&mut buf).await, Ok(0) | Err(_)) {}
                        break 'conn;
                    } else {
                        format!("small {}", &path[7..]).into_bytes()
                    };
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                    if socket.write_all(head.as_bytes()).await.is_err()
                        || socket.write_all(&body).await.is_err()
                    {
                        break;
                    }
                }
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (port, open)
}

/// Waits (bounded) until the client's live connections and the peer's open
/// sockets agree on `n`, nothing in use or queued.
async fn until_live(client: &Client, open: &AtomicUsize, n: usize) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let total = client.stats().total();
        let server = open.load(Ordering::SeqCst);
        if total.live == n && server == n && total.in_use == 0 && total.queued == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "client {total:?} and server ({server} open) never settled on {n}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The pool's count of live connections matches the server's open sockets
/// through every way a response can be dropped, and a reused connection
/// never carries the leftovers of the last response.
#[tokio::test]
async fn live_connections_match_the_servers_sockets_whatever_is_dropped_when() {
    use futures::StreamExt;
    let (port, open) = counting_peer().await;
    let client = Client::new(ClientOptions {
        connections_per_host: 2,
        ..Default::default()
    });
    let at = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let res = within(client.get(at("/small/1")).send()).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "small 1");
    until_live(&client, &open, 1).await;

    // A big body dropped after its first chunk: closed, not drained.
    let res = within(client.get(at("/big")).send()).await.unwrap();
    let mut body = aleph::bytes::ByteSource::into_byte_stream(res.into_body());
    let first = within(body.next()).await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(body);
    until_live(&client, &open, 0).await;

    // A small body dropped unread: drained and kept.
    let res = within(client.get(at("/small/2")).send()).await.unwrap();
    drop(res);
    until_live(&client, &open, 1).await;
    let res = within(client.get(at("/small/3")).send()).await.unwrap();
    assert!(res.reused());
    assert_eq!(res.text().await.unwrap(), "small 3");

    // A request dropped while it waits for the answer: its connection goes.
    let waiting = tokio::spawn(client.get(at("/hold")).send());
    until_stats(&client, "one in use", |t| t.in_use == 1).await;
    waiting.abort();
    let _ = within(waiting).await;
    until_live(&client, &open, 0).await;

    // Both connections busy with big bodies, a third request queued, all
    // dropped at once.
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let res = within(client.get(at("/big")).send()).await.unwrap();
        let mut body = aleph::bytes::ByteSource::into_byte_stream(res.into_body());
        within(body.next()).await.unwrap().unwrap();
        bodies.push(body);
    }
    let queued = tokio::spawn(client.get(at("/small/4")).send());
    until_stats(&client, "one queued", |t| t.queued == 1).await;
    queued.abort();
    let _ = within(queued).await;
    drop(bodies);
    until_live(&client, &open, 0).await;
    let res = within(client.get(at("/small/5")).send()).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "small 5");
    until_live(&client, &open, 1).await;
}

/// An h2c peer (the `h2` crate) whose first connection refuses every
/// stream (REFUSED_STREAM) and then says GOAWAY; later connections answer
/// `ok`. Counts the streams it answered.
async fn refusing_h2_peer() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((socket, _)) = listener.accept().await {
            let refuse = n == 0;
            n += 1;
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(socket).await else {
                    return;
                };
                while let Some(Ok((request, mut respond))) = conn.accept().await {
                    if refuse {
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                        conn.graceful_shutdown();
                        continue;
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let mut body = request.into_body();
                    while let Some(Ok(chunk)) = body.data().await {
                        let _ = body.flow_control().release_capacity(chunk.len());
                    }
                    let response = ::http::Response::new(());
                    if let Ok(mut send) = respond.send_response(response, false) {
                        let _ = send.send_data(bytes::Bytes::from_static(b"ok"), true);
                    }
                }
            });
        }
    });
    (port, answered)
}

/// A POST refused by HTTP/2 (REFUSED_STREAM, then GOAWAY) was not
/// processed: it is sent again on a new connection, once, and the refusing
/// connection leaves the pool.
#[tokio::test]
async fn a_refused_http2_stream_is_replayed_once_on_a_new_connection() {
    let (port, answered) = refusing_h2_peer().await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let res = within(
        client
            .post(format!("http://127.0.0.1:{port}/"))
            .body("payload")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(answered.load(Ordering::SeqCst), 1);
    until_stats(&client, "one live connection", |t| {
        t.live == 1 && t.in_use == 0 && t.queued == 0
    })
    .await;
}

/// A peer answering every connection with `head` then `body` (bytes as
/// given, nothing checked), then closing.
async fn raw_peer(head: String, body: &'static [u8]) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let head = head.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    port
}

/// A Content-Encoding naming thousands of codings (curl's CVE-2022-32206)
/// must not build thousands of nested decoders (memory, and a stack
/// overflow when the body is polled): more than a few codings is a decode
/// error.
#[tokio::test]
async fn a_response_with_thousands_of_content_codings_is_a_decode_error() {
    let codings = vec!["gzip"; 20_000].join(",");
    let body: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00";
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-encoding: {codings}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let port = raw_peer(head, body).await;
    let client = Client::default();
    let res = within(client.get(format!("http://127.0.0.1:{port}/")).send())
        .await
        .unwrap();
    let err = within(res.bytes()).await.unwrap_err();
    assert!(err.is_decode(), "{err}");
    assert!(err.to_string().contains("content codings"), "{err}");
}

/// Malformed and oversized answers are errors, never a hang or a panic:
/// an invalid status line, a head of thousands of headers, a header line
/// with no end, a body shorter than its Content-Length, a chunked body cut
/// off, and an answer of 1xx heads followed by the real one (taken).
#[tokio::test]
async fn malformed_or_oversized_answers_are_errors_not_hangs() {
    let client = Client::default();
    let get = |port: u16| client.get(format!("http://127.0.0.1:{port}/")).send();

    let port = raw_peer("HTTP/1.1 2OO OK\r\ncontent-length: 0\r\n\r\n".into(), b"").await;
    let err = within(get(port)).await.unwrap_err();
    assert_eq!(err.kind(), aleph::ErrorKind::Protocol, "{err}");

    let many: String = (0..5000).map(|i| format!("x-h{i}: v\r\n")).collect();
    let port = raw_peer(format!("HTTP/1.1 200 OK\r\n{many}\r\n"), b"").await;
    let err = within(get(port)).await.unwrap_err();
    assert_eq!(err.kind(), aleph::ErrorKind::Protocol, "{err}");

    let endless = "a".repeat(2 << 20);
    let port = raw_peer(format!("HTTP/1.1 200 OK\r\nx-long: {endless}"), b"").await;
    let err = within(get(port)).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            aleph::ErrorKind::Protocol | aleph::ErrorKind::Closed
        ),
        "{err}"
    );

    let port = raw_peer(
        "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".into(),
        b"short",
    )
    .await;
    let res = within(get(port)).await.unwrap();
    let err = within(res.bytes()).await.unwrap_err();
    assert!(err.is_body(), "{err}");

    let port = raw_peer(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".into(),
        b"5\r\nhello\r\n",
    )
    .await;
    let res = within(get(port)).await.unwrap();
    let err = within(res.bytes()).await.unwrap_err();
    assert!(err.is_body(), "{err}");

    let port = raw_peer(
        "HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n\
         HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
            .into(),
        b"ok",
    )
    .await;
    let res = within(get(port)).await.unwrap();
    assert_eq!(res.status(), http::StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");

    until_stats(&client, "settled with nothing live", |t| {
        t.live == 0 && t.in_use == 0 && t.queued == 0
    })
    .await;
}

/// A server that answers 413 from the head alone and closes, while the
/// client still sends a large body: the answer (or an I/O error) comes
/// back, nothing hangs, and the connection is not kept.
#[tokio::test]
async fn an_answer_before_the_body_was_read_ends_the_request_and_its_connection() {
    let port = raw_peer(
        "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\nconnection: close\r\n\r\n".into(),
        b"big",
    )
    .await;
    let client = Client::default();
    let outcome = within(
        client
            .post(format!("http://127.0.0.1:{port}/"))
            .body(vec![b'x'; 16 << 20])
            .send(),
    )
    .await;
    match outcome {
        Err(err) if err.status().is_some() => {
            assert_eq!(err.status(), Some(http::StatusCode::PAYLOAD_TOO_LARGE))
        }
        Err(err) => assert!(
            matches!(
                err.kind(),
                aleph::ErrorKind::Io | aleph::ErrorKind::Closed | aleph::ErrorKind::Body
            ),
            "{err}"
        ),
        Ok(res) => panic!("a 413 is an error by default: {:?}", res.status()),
    }
    until_stats(&client, "settled with nothing live", |t| {
        t.live == 0 && t.in_use == 0 && t.queued == 0
    })
    .await;
}

/// A Host header the caller set names the first origin: a redirect to
/// another origin must not carry it there (the new server would be asked
/// for a site it was never meant for), as curl does.
#[tokio::test]
async fn a_callers_host_header_does_not_follow_a_redirect_to_another_origin() {
    let b = http::start_server(
        |req: Request| async move {
            req.headers()
                .get("host")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        },
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let location = format!("http://127.0.0.1:{}/landing", b.port());
    let head = format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
    let a = raw_peer(head, b"").await;
    let client = Client::default();
    let res = within(
        client
            .get(format!("http://127.0.0.1:{a}/"))
            .header("host", "a.example")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(res.redirects(), 1);
    assert_eq!(res.text().await.unwrap(), format!("127.0.0.1:{}", b.port()));
    b.close().await;
}

/// A directory given as a file body is refused before any connection,
/// with its name, rather than a head announcing its size and a body that
/// fails half-way.
#[tokio::test]
async fn a_directory_as_a_file_body_is_refused_before_connecting() {
    let (port, seen) = reads_then_closes().await;
    let dir = std::env::temp_dir();
    let client = Client::default();
    let err = within(
        client
            .post(format!("http://127.0.0.1:{port}/"))
            .file(&dir)
            .send(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), aleph::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("directory"), "{err}");
    assert!(client.stats().hosts.is_empty(), "{:?}", client.stats());
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

/// A file body that is not a regular file (a FIFO, as `--data @<(cmd)`
/// gives) has no length to announce: it is sent whole, chunked, not as an
/// empty body of length 0.
#[tokio::test]
async fn a_fifo_as_a_file_body_is_sent_whole() {
    let server = http::start_server(
        |req: Request| async move { aleph::bytes::to_string(req.into_body()).await.unwrap() },
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("aleph-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("body");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let path = fifo.clone();
    let writer = tokio::task::spawn_blocking(move || {
        std::fs::write(&path, b"from a pipe").unwrap();
    });
    let client = Client::default();
    let res = within(
        client
            .post(format!("http://127.0.0.1:{}/", server.port()))
            .file(&fifo)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(res.text().await.unwrap(), "from a pipe");
    within(writer).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    server.close().await;
}

/// A host that spoke HTTP/2 and now answers HTTP/1.1 only (the backend
/// behind the name changed) gets parallel connections again, up to the
/// per-host limit. (Here the host's entry was evicted between the two, so
/// this does not reach the case the pool fix of the same commit is for:
/// requests queued to share a connection being opened, which came up
/// HTTP/1.1, while the host's entry lived on.)
#[tokio::test]
async fn requests_waiting_to_share_an_http2_connection_that_came_up_http1_get_their_own() {
    use aleph::http::HttpVersion;
    use aleph::tls::{ClientTls, Identity, ServerTls, ServerTlsOptions};
    let identity = Identity::self_signed(&["localhost"]).unwrap();
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .unwrap();
    let h2 = http::start_server(
        |_req: Request| async { "h2" },
        ServerOptions {
            tls: Some(tls.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let port = h2.port();
    let client = Client::new(ClientOptions {
        tls: Some(ClientTls::trusting_pem(identity.certificate_pem().as_bytes()).unwrap()),
        connections_per_host: 4,
        ..Default::default()
    });
    let target = format!("https://localhost:{port}/");
    let res = within(client.get(&target).send()).await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);
    res.text().await.unwrap();
    h2.close().await;
    until_stats(&client, "the h2 connection gone", |t| t.live == 0).await;

    // The same port, HTTP/1.1 only now, holding each request until released.
    let arrived = Arc::new(AtomicUsize::new(0));
    let release: Channel<()> = Channel::buffered(16);
    let (a, r) = (arrived.clone(), release.clone());
    let h1 = http::start_server(
        move |_req: Request| {
            let (a, r) = (a.clone(), r.clone());
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                r.recv().await;
                "h1"
            }
        },
        ServerOptions {
            port,
            tls: Some(tls),
            http_versions: vec![HttpVersion::Http1],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let requests: Vec<_> = (0..4)
        .map(|_| tokio::spawn(client.get(&target).send()))
        .collect();
    until_count(&arrived, 4).await;
    for _ in 0..4 {
        release.send(()).await.unwrap();
    }
    for request in requests {
        let res = within(request).await.unwrap().unwrap();
        assert_eq!(res.version(), http::Version::HTTP_11);
        assert_eq!(res.text().await.unwrap(), "h1");
    }
    h1.close().await;
}

/// An h2c peer: on its first connection, `/long` is held until `release`
/// and the connection then says GOAWAY (graceful: the held stream goes
/// on); every other stream, on any connection, is answered with the
/// connection's number.
async fn goaway_h2_peer() -> (u16, Arc<tokio::sync::Notify>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let release = Arc::new(tokio::sync::Notify::new());
    let held = Arc::new(AtomicUsize::new(0));
    let (r, h) = (release.clone(), held.clone());
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((socket, _)) = listener.accept().await {
            n += 1;
            let number = n;
            let (release, held) = (r.clone(), h.clone());
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(socket).await else {
                    return;
                };
                while let Some(Ok((request, mut respond))) = conn.accept().await {
                    if request.uri().path() == "/long" {
                        let release = release.clone();
                        held.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(async move {
                            release.notified().await;
                            if let Ok(mut send) =
                                respond.send_response(::http::Response::new(()), false)
                            {
                                let _ = send.send_data(bytes::Bytes::from_static(b"long"), true);
                            }
                        });
                        conn.graceful_shutdown();
                        continue;
                    }
                    if let Ok(mut send) = respond.send_response(::http::Response::new(()), false) {
                        let _ = send.send_data(bytes::Bytes::from(format!("conn {number}")), true);
                    }
                }
            });
        }
    });
    (port, release, held)
}

/// After a GOAWAY, an HTTP/2 connection still finishing a stream must not
/// be handed to new requests: they go on a new connection, and the pool
/// counts both until the old one ends.
#[tokio::test]
async fn a_connection_that_said_goaway_takes_no_new_requests() {
    let (port, release, held) = goaway_h2_peer().await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let at = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let long = tokio::spawn(client.get(at("/long")).send());
    until_count(&held, 1).await;
    // The first may race the GOAWAY onto the old connection (the server
    // still takes it then); the GOAWAY comes before its answer, so the
    // later ones must go on a new connection.
    for i in 0..3 {
        let res = within(client.get(at("/next")).send())
            .await
            .expect("a new request goes on a new connection");
        let text = res.text().await.unwrap();
        assert!(
            text == "conn 2" || (i == 0 && text == "conn 1"),
            "{i}: {text}"
        );
    }
    release.notify_one();
    let res = within(long).await.unwrap().unwrap();
    assert_eq!(res.text().await.unwrap(), "long");
    until_stats(&client, "settled on the new connection", |t| {
        t.live == 1 && t.in_use == 0 && t.queued == 0
    })
    .await;
}
