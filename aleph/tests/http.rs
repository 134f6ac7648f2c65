//! aleph's HTTP server over real sockets on 127.0.0.1: handlers of every
//! kind, Ring's request accessors, bodies in memory and streamed, SSE, the
//! HTTP/1 rules (keep-alive, pipelining, HEAD, 100-continue, Connection:
//! close), HTTP/2 by ALPN and h2c, and TLS. Limits, errors and shutdown are
//! in `http_limits.rs`; third-party peers in `http_peers.rs`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::bytes::{self, Bytes};
use aleph::deferred::Deferred;
use aleph::http::{self, sse, Body, IntoResponse, Request, Response, ServerOptions, StatusCode};
use aleph::stream::Channel;
use aleph::tls::{ClientAuth, Identity, ServerTls, ServerTlsOptions, TrustRoots};
use aleph::{tcp, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::http::{self as client, body, exchange, header, status};
use support::{within, LIMIT};

async fn serve<H, M>(handler: H) -> Server
where
    H: http::Handler<M>,
{
    http::start_server(handler, ServerOptions::default())
        .await
        .expect("the server starts")
}

fn hello(_req: Request) -> &'static str {
    "hello!"
}

// ---- handlers -----------------------------------------------------------------------

#[tokio::test]
async fn hello_handler_answers_200_text_plain_with_length_date_and_server() {
    let server = serve(hello).await;
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    assert_eq!(
        header(&res, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&res, "content-length"), Some("6"));
    assert_eq!(header(&res, "server"), Some("aleph"));
    assert!(
        header(&res, "date").is_some_and(|d| d.ends_with(" GMT")),
        "{res}"
    );
    assert_eq!(body(&res), "hello!");
    server.close().await;
}

#[tokio::test]
async fn server_header_is_settable_and_a_handlers_own_wins() {
    let options = ServerOptions {
        server_header: Some(http::HeaderValue::from_static("custom/1")),
        ..Default::default()
    };
    let server = http::start_server(
        |req: Request| {
            if req.uri().path() == "/own" {
                let mut res = "own".into_response();
                res.headers_mut()
                    .insert("server", http::HeaderValue::from_static("mine"));
                res
            } else {
                "default".into_response()
            }
        },
        options,
    )
    .await
    .unwrap();
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(header(&res, "server"), Some("custom/1"));
    let res = exchange(
        server.port(),
        b"GET /own HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(header(&res, "server"), Some("mine"));
    server.close().await;
}

#[tokio::test]
async fn async_handlers_and_closures_serve() {
    async fn greet(req: Request) -> String {
        format!("hi {}", req.uri().path())
    }
    let server = serve(greet).await;
    let mut send = client::h1(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("/there")))
        .await
        .unwrap();
    assert_eq!(client::text(res).await, "hi /there");
    server.close().await;

    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    let server = serve(move |_req: Request| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move { (StatusCode::ACCEPTED, format!("request {n}")) }
    })
    .await;
    let mut send = client::h1(client::connect(server.port()).await).await;
    for n in 0..3 {
        let res = within(send.send_request(client::get("/"))).await.unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(client::text(res).await, format!("request {n}"));
    }
    server.close().await;
}

#[tokio::test]
async fn a_deferred_completed_by_another_task_is_the_response() {
    let server = serve(|req: Request| {
        let answer = Deferred::new();
        let later = answer.clone();
        let path = req.uri().path().to_owned();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            later.success(format!("deferred {path}"));
        });
        answer
    })
    .await;
    let mut send = client::h1(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("/d"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(client::text(res).await, "deferred /d");
    server.close().await;
}

#[tokio::test]
async fn an_axum_router_serves_unchanged() {
    use axum::extract::{Extension, Path};
    use axum::routing::{get, post};

    let app = axum::Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        )
        .route(
            "/peer",
            get(
                |Extension(info): Extension<Arc<http::ConnectionInfo>>| async move {
                    info.remote_addr
                        .map(|a| a.ip().to_string())
                        .unwrap_or_default()
                },
            ),
        )
        .route("/echo", post(|body: Bytes| async move { body }));
    let server = serve(app).await;
    let mut send = client::h1(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("/users/7")))
        .await
        .unwrap();
    assert_eq!(client::text(res).await, "user 7");
    let res = within(send.send_request(client::get("/peer")))
        .await
        .unwrap();
    assert_eq!(client::text(res).await, "127.0.0.1");
    let req = ::http::Request::post("/echo")
        .header("host", "x")
        .body(Body::from("posted"))
        .unwrap();
    let res = within(send.send_request(req)).await.unwrap();
    assert_eq!(client::text(res).await, "posted");
    let res = within(send.send_request(client::get("/missing")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    server.close().await;
}

#[tokio::test]
async fn a_tower_http_stack_serves_unchanged() {
    use tower::ServiceBuilder;
    use tower_http::set_header::SetResponseHeaderLayer;
    use tower_http::timeout::TimeoutLayer;
    use tower_http::trace::TraceLayer;

    let inner = tower::service_fn(|req: ::http::Request<Body>| async move {
        if req.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok::<_, std::convert::Infallible>(::http::Response::new(Body::from("stacked")))
    });
    #[allow(deprecated)]
    let timeout = TimeoutLayer::new(Duration::from_millis(100));
    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::overriding(
            http::HeaderName::from_static("x-stack"),
            http::HeaderValue::from_static("yes"),
        ))
        .layer(timeout)
        .service(inner);
    let server = serve(stack).await;
    let mut send = client::h1(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("/"))).await.unwrap();
    assert_eq!(res.headers()["x-stack"], "yes");
    assert_eq!(client::text(res).await, "stacked");
    let res = within(send.send_request(client::get("/slow")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    server.close().await;
}

// ---- the request --------------------------------------------------------------------

#[tokio::test]
async fn ring_accessors_describe_the_request() {
    let server = serve(|req: Request| {
        let accept: Vec<_> = req
            .header_values("accept")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        format!(
            "{}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{}|{}",
            req.request_method(),
            req.uri().path(),
            req.remote_addr().unwrap().ip(),
            req.server_port(),
            req.server_name(),
            req.scheme(),
            req.query_string(),
            req.version(),
            accept.join(","),
            req.is_tls(),
        )
    })
    .await;
    let request = "PUT /p?a=1&a=2 HTTP/1.1\r\nHost: example.test:1234\r\nAccept: text/html\r\n\
                   Accept: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let res = exchange(server.port(), request.as_bytes()).await;
    assert_eq!(
        body(&res),
        format!(
            "PUT|/p|127.0.0.1|{}|example.test|\"http\"|Some(\"a=1&a=2\")|HTTP/1.1|text/html,text/plain|false",
            server.port()
        )
    );
    server.close().await;
}

#[tokio::test]
async fn query_form_and_cookie_helpers_keep_repeats() {
    let server = serve(|mut req: Request| async move {
        let query = req.query_params();
        let cookies = req.cookies();
        let form = req.form_params().await?;
        Ok::<_, aleph::Error>(format!(
            "{:?} {:?} {:?} {:?}",
            query.get_all("q"),
            form.get_all("f"),
            form.get("g"),
            cookies.get_all("c"),
        ))
    })
    .await;
    let form = "f=1&f=2+3&g=%C3%A9";
    let request = format!(
        "POST /?q=x&q=y HTTP/1.1\r\nHost: h\r\nCookie: c=1; d=2\r\nCookie: c=3\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{form}",
        form.len()
    );
    let res = exchange(server.port(), request.as_bytes()).await;
    assert_eq!(
        body(&res),
        r#"["x", "y"] ["1", "2 3"] Some("é") ["1", "3"]"#,
        "{res}"
    );
    server.close().await;
}

#[tokio::test]
async fn request_bodies_stream_to_the_handler() {
    let server = serve(|req: Request| async move {
        let n = bytes::to_bytes(req.into_body()).await?.len();
        Ok::<_, aleph::Error>(n.to_string())
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..100 {
        stream.write_all(b"400\r\n").await.unwrap();
        stream.write_all(&[b'x'; 0x400]).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let res = client::read_response(&mut stream).await;
    assert_eq!(body(&res), (100 * 1024).to_string());
    server.close().await;
}

/// A handler that hands its work to a task which waits for the client to
/// go away and reports it; the response never comes.
fn report_gone(
    arrived: tokio::sync::mpsc::Sender<()>,
    gone: tokio::sync::mpsc::Sender<()>,
) -> impl Fn(Request) -> Deferred<&'static str> + Send + Sync + 'static {
    move |req: Request| {
        let answer = Deferred::new();
        let client_gone = req.client_gone();
        let (arrived, gone, keep) = (arrived.clone(), gone.clone(), answer.clone());
        tokio::spawn(async move {
            arrived.send(()).await.unwrap();
            client_gone.await;
            gone.send(()).await.unwrap();
            drop(keep);
        });
        answer
    }
}

#[tokio::test]
async fn client_gone_fires_when_an_http1_client_closes_before_the_response() {
    let (arrived_tx, mut arrived_rx) = tokio::sync::mpsc::channel(1);
    let (gone_tx, mut gone_rx) = tokio::sync::mpsc::channel(1);
    let server = serve(report_gone(arrived_tx, gone_tx)).await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    within(arrived_rx.recv()).await.unwrap();
    assert!(gone_rx.try_recv().is_err(), "gone before the client left");
    drop(stream);
    within(gone_rx.recv()).await.unwrap();
    server.close().await;
}

#[tokio::test]
async fn client_gone_fires_when_an_http1_client_closes_while_the_handler_holds_its_unread_body() {
    let (arrived_tx, mut arrived_rx) = tokio::sync::mpsc::channel(1);
    let (gone_tx, mut gone_rx) = tokio::sync::mpsc::channel(1);
    let server = serve(move |req: Request| {
        let answer = Deferred::<&'static str>::new();
        let client_gone = req.client_gone();
        let (arrived, gone, keep) = (arrived_tx.clone(), gone_tx.clone(), answer.clone());
        let body = req.into_body();
        tokio::spawn(async move {
            arrived.send(()).await.unwrap();
            client_gone.await;
            drop(body);
            gone.send(()).await.unwrap();
            // Answered to no one: the connection then ends.
            keep.success("too late");
        });
        answer
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    // Five of the fifty bytes promised: the rest never comes.
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\nhello")
        .await
        .unwrap();
    within(arrived_rx.recv()).await.unwrap();
    assert!(gone_rx.try_recv().is_err(), "gone before the client left");
    drop(stream);
    within(gone_rx.recv()).await.unwrap();
    server.close().await;
}

#[tokio::test]
async fn client_gone_fires_when_an_http2_client_resets_the_stream() {
    let (arrived_tx, mut arrived_rx) = tokio::sync::mpsc::channel(1);
    let (gone_tx, mut gone_rx) = tokio::sync::mpsc::channel(1);
    let server = serve(report_gone(arrived_tx, gone_tx)).await;
    let mut send = client::h2(client::connect(server.port()).await).await;
    let mut other = send.clone();
    let pending =
        tokio::spawn(async move { send.send_request(client::get("http://localhost/")).await });
    within(arrived_rx.recv()).await.unwrap();
    pending.abort(); // dropping the response future resets the stream
    within(gone_rx.recv()).await.unwrap();
    // Only that stream went away: the connection still serves.
    let next =
        tokio::spawn(async move { other.send_request(client::get("http://localhost/")).await });
    within(arrived_rx.recv()).await.unwrap();
    next.abort();
    server.close().await;
}

// ---- response bodies ----------------------------------------------------------------

#[tokio::test]
async fn response_bodies_from_every_in_memory_type_have_a_length() {
    let server = serve(|req: Request| -> Response {
        match req.uri().path() {
            "/str" => "str".into_response(),
            "/string" => String::from("string").into_response(),
            "/bytes" => Bytes::from_static(b"bytes").into_response(),
            "/vec" => b"vec".to_vec().into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    })
    .await;
    for (path, expected, mime) in [
        ("/str", "str", "text/plain; charset=utf-8"),
        ("/string", "string", "text/plain; charset=utf-8"),
        ("/bytes", "bytes", "application/octet-stream"),
        ("/vec", "vec", "application/octet-stream"),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let res = exchange(server.port(), request.as_bytes()).await;
        assert_eq!(body(&res), expected);
        assert_eq!(
            header(&res, "content-length"),
            Some(&*expected.len().to_string())
        );
        assert_eq!(header(&res, "content-type"), Some(mime));
    }
    server.close().await;
}

/// Sends `messages` on a channel body with a pause between them that lets
/// the server flush each one alone.
fn channel_body(messages: &'static [&'static str]) -> Channel<&'static str> {
    let channel = Channel::buffered(1);
    let producer = channel.clone();
    tokio::spawn(async move {
        for message in messages {
            producer.send(*message).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        producer.close();
    });
    channel
}

#[tokio::test]
async fn a_channel_body_is_one_chunk_per_message_on_http1() {
    let server = serve(|_req: Request| channel_body(&["one", "two!", "three"])).await;
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(header(&res, "transfer-encoding"), Some("chunked"));
    assert_eq!(
        body(&res),
        "3\r\none\r\n4\r\ntwo!\r\n5\r\nthree\r\n0\r\n\r\n"
    );
    server.close().await;
}

#[tokio::test]
async fn a_stream_body_is_one_data_frame_per_message_on_h2c() {
    let server = serve(|_req: Request| {
        let body = Body::from_stream(futures::stream::unfold(0, |i| async move {
            if i == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok::<_, std::io::Error>(format!("frame {i}")), i + 1))
        }));
        ::http::Response::new(body)
    })
    .await;
    let mut send = client::h2(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("http://localhost/")))
        .await
        .unwrap();
    assert_eq!(res.version(), ::http::Version::HTTP_2);
    let frames = client::frames(res).await;
    assert_eq!(frames, ["frame 0", "frame 1", "frame 2"]);
    server.close().await;
}

#[tokio::test]
async fn reader_and_iterator_bodies_stream() {
    let server = serve(|req: Request| -> Response {
        if req.uri().path() == "/reader" {
            let text: &'static [u8] = b"from a reader";
            ::http::Response::new(Body::from_reader(text))
        } else {
            ::http::Response::new(Body::from_iterator((0..3).map(|i| format!("<{i}>"))))
        }
    })
    .await;
    let res = exchange(
        server.port(),
        b"GET /reader HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(body(&res).contains("from a reader"), "{res}");
    let res = exchange(
        server.port(),
        b"GET /iter HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(body(&res), "3\r\n<0>\r\n3\r\n<1>\r\n3\r\n<2>\r\n0\r\n\r\n");
    server.close().await;
}

#[tokio::test]
async fn a_slow_client_slows_the_producer_and_leaving_closes_its_channel() {
    let (channel_tx, mut channel_rx) = tokio::sync::mpsc::channel(1);
    let server = serve(move |_req: Request| {
        let channel: Channel<Bytes> = Channel::buffered(1);
        channel_tx.try_send(channel.clone()).unwrap();
        channel
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let channel = within(channel_rx.recv()).await.unwrap();
    // The client reads nothing: sends go through until the socket buffers
    // and the channel fill, then wait.
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let mut sent = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_millis(500), channel.send(chunk.clone())).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) => panic!("the channel closed while the client was still there"),
            Err(_) => break, // the send waits: backpressure reached the producer
        }
        assert!(
            sent < 256 * 1024 * 1024,
            "the producer was never slowed down"
        );
    }
    drop(stream);
    // The client went away: the channel closes, and the producer sees it.
    within(channel.closed()).await;
    assert!(channel.send(chunk).await.is_err());
    server.close().await;
}

#[tokio::test]
async fn sse_events_are_flushed_one_by_one_with_the_event_stream_type() {
    let server = serve(|_req: Request| {
        let events = futures::stream::unfold(0, |i| async move {
            if i == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            let event = sse::Event {
                id: Some(i.to_string()),
                data: Some(format!("line {i}\nsecond")),
                ..Default::default()
            };
            Some((event, i + 1))
        });
        sse::response(events)
    })
    .await;
    let mut send = client::h2(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("http://localhost/events")))
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let frames = client::frames(res).await;
    assert_eq!(
        frames,
        [
            "id: 0\ndata: line 0\ndata: second\n\n",
            "id: 1\ndata: line 1\ndata: second\n\n",
            "id: 2\ndata: line 2\ndata: second\n\n",
        ]
    );
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn sse_sends_keep_alive_comments_when_quiet() {
    let server = serve(|_req: Request| {
        let events = futures::stream::unfold(0, |i| async move {
            if i == 1 {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            Some((sse::Event::data("late"), i + 1))
        });
        sse::response_with(
            events,
            sse::SseOptions {
                keep_alive: Some(Duration::from_secs(1)),
            },
        )
    })
    .await;
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        body(&res).contains(": keep-alive\n\n\r\n") && body(&res).contains("data: late\n\n"),
        "{res}"
    );
    server.close().await;
}

// ---- HTTP/1 rules --------------------------------------------------------------------

#[tokio::test]
async fn head_gets_the_handlers_headers_and_length_without_a_body() {
    let server = serve(hello).await;
    let res = exchange(
        server.port(),
        b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    assert_eq!(
        header(&res, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&res, "content-length"), Some("6"));
    // No body after the HEAD answer's head: the GET's answer follows at once.
    assert!(body(&res).starts_with("HTTP/1.1 200 OK\r\n"), "{res}");
    assert!(body(&res).ends_with("\r\n\r\nhello!"), "{res}");
    server.close().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = serve(|req: Request| async move {
        // The first waits longest: answers must still come in order.
        let n: u64 = req.uri().path()[1..].parse().unwrap();
        tokio::time::sleep(Duration::from_millis(30 * (3 - n))).await;
        format!("answer {n}")
    })
    .await;
    let request = "GET /0 HTTP/1.1\r\nHost: h\r\n\r\nGET /1 HTTP/1.1\r\nHost: h\r\n\r\n\
                   GET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let res = exchange(server.port(), request.as_bytes()).await;
    let answers: Vec<_> = res.matches("answer ").map(|_| ()).collect();
    assert_eq!(answers.len(), 3, "{res}");
    let (a, b, c) = (
        res.find("answer 0").unwrap(),
        res.find("answer 1").unwrap(),
        res.find("answer 2").unwrap(),
    );
    assert!(a < b && b < c, "{res}");
    server.close().await;
}

#[tokio::test]
async fn connection_close_is_honoured_both_ways() {
    // The client asks: the response says so and the connection closes.
    let server = serve(|req: Request| -> Response {
        if req.uri().path() == "/bye" {
            let mut res = "bye".into_response();
            res.headers_mut()
                .insert("connection", http::HeaderValue::from_static("close"));
            res
        } else {
            "hi".into_response()
        }
    })
    .await;
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(header(&res, "connection"), Some("close"));
    assert_eq!(body(&res), "hi");
    // The handler says close: the connection closes after it, although the
    // client wanted to keep it.
    let res = exchange(server.port(), b"GET /bye HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!(body(&res), "bye");
    server.close().await;
}

#[tokio::test]
async fn http10_closes_unless_kept_alive_and_keep_alive_reuses() {
    let server = serve(hello).await;
    let res = exchange(server.port(), b"GET / HTTP/1.0\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.0 200"), "{res}");
    assert_eq!(body(&res), "hello!");

    let mut stream = client::connect(server.port()).await;
    for _ in 0..3 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            .await
            .unwrap();
        let res = client::read_response(&mut stream).await;
        assert_eq!(body(&res), "hello!");
    }
    server.close().await;
}

#[tokio::test]
async fn expect_100_continue_is_answered_when_the_handler_reads_and_never_to_http10() {
    let server = serve(|req: Request| async move {
        let n = bytes::to_bytes(req.into_body()).await?.len();
        Ok::<_, aleph::Error>(n.to_string())
    })
    .await;
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        )
        .await
        .unwrap();
    let mut interim = [0u8; 25];
    within(stream.read_exact(&mut interim)).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"body").await.unwrap();
    let res = client::read_response(&mut stream).await;
    assert_eq!(body(&res), "4");

    let res = exchange(
        server.port(),
        b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
    )
    .await;
    assert!(!res.contains("100 Continue"), "{res}");
    assert_eq!(body(&res), "4");
    server.close().await;
}

#[tokio::test]
async fn options_star_is_answered_200_with_allow() {
    let server = serve(|_req: Request| StatusCode::IM_A_TEAPOT).await;
    let res = exchange(
        server.port(),
        b"OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&res), 200, "{res}");
    assert!(header(&res, "allow").is_some_and(|allow| allow.contains("GET")));
    server.close().await;
}

// ---- HTTP/2, TLS, Unix sockets ---------------------------------------------------------

#[tokio::test]
async fn h2c_with_prior_knowledge_and_http1_share_a_port() {
    let server = serve(|req: Request| format!("{:?}", req.version())).await;
    let mut send = client::h2(client::connect(server.port()).await).await;
    let res = within(send.send_request(client::get("http://localhost/")))
        .await
        .unwrap();
    assert_eq!(client::text(res).await, "HTTP/2.0");
    let res = exchange(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(body(&res), "HTTP/1.1");
    server.close().await;
}

#[tokio::test]
async fn http_versions_limits_what_is_served() {
    let options = ServerOptions {
        http_versions: vec![http::HttpVersion::Http1],
        ..Default::default()
    };
    let server = http::start_server(hello, options).await.unwrap();
    let mut stream = client::connect(server.port()).await;
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let res = client::read_to_close(&mut stream).await;
    assert!(!res.starts_with("HTTP/1.1 200"), "{res}");
    server.close().await;
}

async fn tls_server(identity: &Identity, client_auth: ClientAuth) -> Server {
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        client_auth,
        ..Default::default()
    })
    .unwrap();
    let options = ServerOptions {
        tls: Some(tls),
        ..Default::default()
    };
    http::start_server(
        |req: Request| {
            format!(
                "{:?} {} {} {} certs={}",
                req.version(),
                req.scheme(),
                req.is_tls(),
                req.server_name(),
                req.peer_certificates().len()
            )
        },
        options,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn tls_serves_http2_by_alpn_and_http1_otherwise() {
    let identity = Identity::self_signed(&["localhost"]).unwrap();
    let server = tls_server(&identity, ClientAuth::None).await;
    for (alpn, expected) in [
        (&["h2"][..], "HTTP/2.0 https true localhost certs=0"),
        (&["http/1.1"][..], "HTTP/1.1 https true localhost certs=0"),
        (&[][..], "HTTP/1.1 https true localhost certs=0"),
    ] {
        let options = tcp::TcpClientOptions {
            tls: Some(client::client_tls(&identity, alpn)),
            server_name: Some("localhost".into()),
            ..tcp::TcpClientOptions::new("127.0.0.1", server.port())
        };
        let (stream, info) = within(tcp::client_raw(options)).await.unwrap();
        let negotiated = info.tls.unwrap().alpn;
        let res = if negotiated.as_deref() == Some("h2") {
            let mut send = client::h2(stream).await;
            within(send.send_request(client::get("https://localhost/")))
                .await
                .unwrap()
        } else {
            let mut send = client::h1(stream).await;
            within(send.send_request(client::get("/"))).await.unwrap()
        };
        assert_eq!(client::text(res).await, expected, "ALPN {alpn:?}");
    }
    server.close().await;
}

#[tokio::test]
async fn mutual_tls_exposes_the_client_certificate() {
    let identity = Identity::self_signed(&["localhost"]).unwrap();
    let client_identity = Identity::self_signed(&["client"]).unwrap();
    let server = tls_server(
        &identity,
        ClientAuth::Required(TrustRoots::Pem(
            client_identity.certificate_pem().into_bytes(),
        )),
    )
    .await;
    let tls = aleph::tls::ClientTls::new(aleph::tls::ClientTlsOptions {
        roots: TrustRoots::Pem(identity.certificate_pem().into_bytes()),
        identity: Some(client_identity),
        ..Default::default()
    })
    .unwrap();
    let options = tcp::TcpClientOptions {
        tls: Some(tls),
        server_name: Some("localhost".into()),
        ..tcp::TcpClientOptions::new("127.0.0.1", server.port())
    };
    let (stream, _info) = within(tcp::client_raw(options)).await.unwrap();
    let mut send = client::h1(stream).await;
    let res = within(send.send_request(client::get("/"))).await.unwrap();
    assert_eq!(
        client::text(res).await,
        "HTTP/1.1 https true localhost certs=1"
    );
    server.close().await;
}

#[tokio::test]
async fn a_unix_socket_server_serves_http() {
    let dir = support::peers::TempDir::new("http-unix");
    let path = dir.join("http.sock");
    let options = ServerOptions {
        unix: Some(path.clone()),
        ..Default::default()
    };
    let server = http::start_server(
        |req: Request| format!("port {}", req.server_port()),
        options,
    )
    .await
    .unwrap();
    let mut stream = within(tokio::net::UnixStream::connect(&path))
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let res = client::read_to_close(&mut stream).await;
    assert_eq!(body(&res), "port 0");
    server.close().await;
}

#[tokio::test]
async fn raw_mode_hands_out_hyper_requests() {
    use http_body_util::BodyExt;
    let server = http::start_server_raw(
        |req: ::http::Request<hyper::body::Incoming>| async move {
            let peer = req
                .extensions()
                .get::<Arc<http::ConnectionInfo>>()
                .and_then(|info| info.remote_addr)
                .map(|addr| addr.ip().to_string())
                .unwrap_or_default();
            let body = req.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>(::http::Response::new(http_body_util::Full::new(
                Bytes::from(format!("{peer} {}", body.len())),
            )))
        },
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let res = exchange(
        server.port(),
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    )
    .await;
    assert_eq!(body(&res), "127.0.0.1 3");
    server.close().await;
}

#[tokio::test]
async fn request_and_body_types_are_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Request>();
    assert::<Body>();
    assert::<ServerOptions>();
    let _ = LIMIT;
}

#[tokio::test]
async fn ipv6_prebound_and_shared_port_listeners_serve() {
    let options = ServerOptions {
        host: "::1".parse().unwrap(),
        ..Default::default()
    };
    let server = http::start_server(hello, options).await.unwrap();
    let mut stream = within(tokio::net::TcpStream::connect(("::1", server.port())))
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(body(&client::read_to_close(&mut stream).await), "hello!");
    server.close().await;

    let bound = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = bound.local_addr().unwrap().port();
    let options = ServerOptions {
        listen_socket: Some(aleph::net::ListenSocket::from(bound)),
        ..Default::default()
    };
    let server = http::start_server(hello, options).await.unwrap();
    assert_eq!(server.port(), port);
    let res = exchange(
        port,
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(body(&res), "hello!");
    server.close().await;

    let first = http::start_server(
        hello,
        ServerOptions {
            reuse_port: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let second = http::start_server(
        hello,
        ServerOptions {
            reuse_port: true,
            port: first.port(),
            ..Default::default()
        },
    )
    .await
    .expect("SO_REUSEPORT lets a second server share the port");
    assert_eq!(first.port(), second.port());
    first.close().await;
    let res = exchange(
        second.port(),
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(body(&res), "hello!");
    second.close().await;
}
