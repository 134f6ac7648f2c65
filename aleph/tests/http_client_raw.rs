//! aleph's HTTP client against raw-socket peers that misbehave: malformed
//! answers, truncated bodies, silence. Each gives its own error kind, never
//! a panic or a hang, and the pool is left with nothing in use.

mod support;

use std::time::Duration;

use aleph::http::{Client, ClientOptions};
use aleph::{ErrorKind, TimeoutKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use support::{within, LIMIT};

/// What the raw peer does after reading a request's head.
#[derive(Clone, Copy)]
enum Then {
    /// Writes the bytes and closes.
    Close,
    /// Writes the bytes and keeps the connection open, silent.
    Hold,
}

/// A peer that answers every connection with `answer`.
async fn peer(answer: &'static [u8], then: Then) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(answer).await;
                match then {
                    Then::Close => drop(stream),
                    Then::Hold => {
                        tokio::time::sleep(LIMIT * 2).await;
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}/")
}

/// Waits (bounded) until nothing is in use or queued.
async fn settled(client: &Client) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let total = client.stats().total();
        if total.in_use == 0 && total.queued == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never settled: {total:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn client() -> Client {
    Client::new(ClientOptions {
        response_header_timeout: Some(Duration::from_millis(200)),
        read_timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_malformed_status_line_is_a_protocol_error() {
    let client = client();
    for answer in [
        &b"HTTP/1.1 abc Nope\r\n\r\n"[..],
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
    ] {
        let url = peer(answer, Then::Close).await;
        let err = within(client.get(&url).send()).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Protocol,
            "{err} for {:?}",
            String::from_utf8_lossy(answer)
        );
        assert!(err.to_string().contains(&url), "{err}");
    }
    settled(&client).await;
}

#[tokio::test]
async fn oversized_response_headers_are_a_protocol_error() {
    let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..2000 {
        answer.extend_from_slice(format!("x-h{i}: {}\r\n", "v".repeat(100)).as_bytes());
    }
    answer.extend_from_slice(b"\r\n");
    let answer: &'static [u8] = Box::leak(answer.into_boxed_slice());
    let client = client();
    let err = within(client.get(peer(answer, Then::Close).await).send())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    settled(&client).await;
}

#[tokio::test]
async fn a_body_shorter_than_its_length_is_a_body_error() {
    let client = client();
    let url = peer(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this",
        Then::Close,
    )
    .await;
    let res = within(client.get(&url).send()).await.unwrap();
    let err = within(res.text()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Body, "{err}");
    assert!(err.to_string().contains("cut short"), "{err}");
    settled(&client).await;
    assert_eq!(
        client.stats().total().live,
        0,
        "the broken connection is closed"
    );
}

#[tokio::test]
async fn a_chunked_body_cut_mid_chunk_is_a_body_error() {
    let client = client();
    let url = peer(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nshort",
        Then::Close,
    )
    .await;
    let res = within(client.get(&url).send()).await.unwrap();
    let err = within(res.bytes()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Body, "{err}");
    settled(&client).await;
}

#[tokio::test]
async fn a_bad_chunk_size_is_an_error_not_a_clean_end() {
    let client = client();
    let url = peer(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        Then::Close,
    )
    .await;
    let res = within(client.get(&url).send()).await.unwrap();
    let err = within(res.bytes()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Body, "{err}");
    settled(&client).await;
}

#[tokio::test]
async fn a_peer_that_never_answers_is_a_response_headers_timeout() {
    let client = client();
    let url = peer(b"", Then::Hold).await;
    let err = within(client.get(&url).send()).await.unwrap_err();
    assert_eq!(
        err.timeout_kind(),
        Some(TimeoutKind::ResponseHeaders),
        "{err}"
    );
    settled(&client).await;
    assert_eq!(client.stats().total().live, 0);
}

#[tokio::test]
async fn a_body_that_stops_coming_is_a_read_timeout() {
    let client = client();
    let url = peer(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nsome",
        Then::Hold,
    )
    .await;
    let res = within(client.get(&url).send()).await.unwrap();
    let err = within(res.text()).await.unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Read), "{err}");
    settled(&client).await;
}

#[tokio::test]
async fn a_peer_that_closes_without_answering_is_a_closed_error() {
    let client = client();
    let url = peer(b"", Then::Close).await;
    let err = within(client.get(&url).send()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    settled(&client).await;
}

#[tokio::test]
async fn garbage_to_an_h2c_client_is_a_protocol_error() {
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        response_header_timeout: Some(Duration::from_millis(500)),
        ..Default::default()
    });
    let url = peer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", Then::Close).await;
    let err = within(client.get(&url).send()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Protocol | ErrorKind::Closed),
        "{err}"
    );
    settled(&client).await;
}

#[tokio::test]
async fn an_interim_100_then_the_answer_is_read_as_the_answer() {
    let client = client();
    let url = peer(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        Then::Close,
    )
    .await;
    let res = within(client.get(&url).send()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

/// An HTTP/2 peer (the `h2` crate's server) that refuses the first `refuse`
/// streams with REFUSED_STREAM and answers the rest with "ok".
async fn refusing_h2(refuse: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(stream).await else {
                    return;
                };
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    if count.fetch_add(1, Ordering::SeqCst) < refuse {
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                        continue;
                    }
                    let response = http::Response::new(());
                    if let Ok(mut send) = respond.send_response(response, false) {
                        let _ = send.send_data(aleph::bytes::Bytes::from("ok"), true);
                    }
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}/"), seen)
}

#[tokio::test]
async fn a_stream_refused_by_an_http2_server_is_replayed() {
    let (url, seen) = refusing_h2(2).await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let res = within(client.get(&url).send()).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    settled(&client).await;
}

#[tokio::test]
async fn a_refused_stream_with_a_streamed_body_is_not_replayed() {
    let (url, _) = refusing_h2(1).await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let body = aleph::http::Body::from_stream(futures::stream::iter(
        ["one-shot"].map(Ok::<_, std::io::Error>),
    ));
    let err = within(client.post(&url).body(body).send())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    settled(&client).await;
}

#[tokio::test]
async fn a_closed_http2_connection_is_replaced() {
    let server = aleph::http::start_server(
        |_req: aleph::http::Request| "fresh",
        aleph::http::ServerOptions {
            idle_timeout: Some(Duration::from_millis(50)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let url = format!("http://127.0.0.1:{}/", server.port());
    let first = within(client.get(&url).send()).await.unwrap();
    assert_eq!(first.text().await.unwrap(), "fresh");
    // The server closes the idle connection (GOAWAY, then the socket).
    let deadline = tokio::time::Instant::now() + LIMIT;
    while client.stats().total().live != 0 {
        assert!(tokio::time::Instant::now() < deadline, "never closed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let again = within(client.get(&url).send()).await.unwrap();
    assert!(!again.reused());
    assert_eq!(again.text().await.unwrap(), "fresh");
    server.close().await;
}

/// A peer whose first connection answers one request with keep-alive and
/// then closes when the next request comes (its keep-alive ran out just as
/// the client reused it); later connections answer everything.
async fn keep_alive_racer() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let first = connections.fetch_add(1, Ordering::SeqCst) == 0;
            tokio::spawn(async move {
                let mut served = 0;
                loop {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    if first && served == 1 {
                        return;
                    }
                    served += 1;
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}/")
}

#[tokio::test]
async fn an_idempotent_request_on_a_connection_closed_as_it_was_reused_is_replayed() {
    let url = keep_alive_racer().await;
    let client = client();
    let first = within(client.get(&url).send()).await.unwrap();
    assert_eq!(first.text().await.unwrap(), "ok");
    let second = within(client.get(&url).send()).await.unwrap();
    assert!(!second.reused(), "answered on a fresh connection");
    assert_eq!(second.text().await.unwrap(), "ok");

    let url = keep_alive_racer().await;
    let client = self::client();
    within(client.get(&url).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let err = within(client.post(&url).body("once").send())
        .await
        .unwrap_err();
    assert!(err.is_closed(), "a POST is not replayed: {err}");
    settled(&client).await;
}
