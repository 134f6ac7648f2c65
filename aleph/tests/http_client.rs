//! aleph's HTTP client against aleph's own server over real sockets on
//! 127.0.0.1: requests and bodies, the pool (reuse, limits, queue, stats,
//! cancellation), HTTP/2 (ALPN and h2c), redirects, errors and timeouts.
//! Raw-socket peers that misbehave are in `http_client_peers.rs`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::bytes::{self, Bytes};
use aleph::http::{
    self, Body, Client, ClientOptions, Method, Request, RequestOptions, Response, ServerOptions,
    StatusCode, Version,
};
use aleph::stream::Channel;
use aleph::tls::{ClientTls, Identity, ServerTls, ServerTlsOptions};
use aleph::{ErrorKind, Server, TimeoutKind};

use support::{within, LIMIT};

async fn serve<H, M>(handler: H) -> Server
where
    H: http::Handler<M>,
{
    http::start_server(handler, ServerOptions::default())
        .await
        .expect("the server starts")
}

fn url(server: &Server, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", server.port())
}

/// Answers with what it saw: method, path and query, the headers asked
/// for by `x-show`, and the body.
async fn echo(req: Request) -> String {
    let method = req.method().clone();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let shown: Vec<String> = req
        .headers()
        .get("x-show")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|name| {
            let value = req
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            format!("{name}={value}")
        })
        .collect();
    let version = req.version();
    let body = bytes::to_string(req.into_body())
        .await
        .unwrap_or_else(|e| format!("<{e}>"));
    format!("{method} {target} {version:?} [{}] {body}", shown.join(" "))
}

/// Waits (bounded) until the client's pool shows nothing in use or queued.
async fn until_settled(client: &Client) -> http::PoolStats {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let stats = client.stats();
        let total = stats.total();
        if total.in_use == 0 && total.queued == 0 {
            return stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool never settled: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---- requests --------------------------------------------------------------------

#[tokio::test]
async fn get_and_post_over_http1_reuse_one_pooled_connection() {
    let server = serve(echo).await;
    let client = Client::default();
    let first = within(client.get(url(&server, "/a")).send()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.version(), Version::HTTP_11);
    assert!(!first.reused());
    assert!(first.timings().connect.is_some());
    assert_eq!(first.text().await.unwrap(), "GET /a HTTP/1.1 [] ");

    let second = within(client.post(url(&server, "/b")).body("payload").send())
        .await
        .unwrap();
    assert!(second.reused(), "the second request reuses the connection");
    assert!(second.timings().connect.is_none());
    assert_eq!(second.text().await.unwrap(), "POST /b HTTP/1.1 [] payload");

    let stats = until_settled(&client).await;
    assert_eq!(stats.hosts.len(), 1, "{stats:?}");
    assert_eq!(
        stats.hosts[0].key,
        format!("http://127.0.0.1:{}", server.port())
    );
    assert_eq!((stats.hosts[0].live, stats.hosts[0].idle), (1, 1));
    server.close().await;
}

#[tokio::test]
async fn default_client_shortcuts_send_each_method() {
    let server = serve(echo).await;
    let got = within(http::get(url(&server, "/x"))).await.unwrap();
    assert_eq!(got.text().await.unwrap(), "GET /x HTTP/1.1 [] ");
    let deleted = within(http::delete(url(&server, "/x"))).await.unwrap();
    assert_eq!(deleted.text().await.unwrap(), "DELETE /x HTTP/1.1 [] ");
    let head = within(http::head(url(&server, "/x"))).await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.text().await.unwrap(), "");
    let sent = within(http::request(RequestOptions {
        method: Method::PUT,
        url: url(&server, "/y"),
        body: "data".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(sent.text().await.unwrap(), "PUT /y HTTP/1.1 [] data");
    server.close().await;
}

#[tokio::test]
async fn query_keeps_repeated_keys_and_headers_form_and_auth_are_sent() {
    let server = serve(echo).await;
    let client = Client::default();
    let res = within(
        client
            .get(url(&server, "/q?x=1"))
            .query(&[("tag", "a b"), ("tag", "c&d")])
            .header("x-show", "x-one,authorization,user-agent")
            .header("x-one", "1")
            .basic_auth("aladdin", Some("open sesame"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        format!(
            "GET /q?x=1&tag=a+b&tag=c%26d HTTP/1.1 [x-one=1 authorization=Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ== user-agent=aleph/{}] ",
            env!("CARGO_PKG_VERSION")
        )
    );
    let form = within(
        client
            .post(url(&server, "/f"))
            .header("x-show", "content-type,authorization")
            .bearer_auth("tok")
            .form(&[("name", "a l"), ("k", "=")])
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(
        form.text().await.unwrap(),
        "POST /f HTTP/1.1 [content-type=application/x-www-form-urlencoded authorization=Bearer tok] name=a+l&k=%3D"
    );
    server.close().await;
}

#[tokio::test]
async fn user_info_in_the_url_becomes_basic_auth_and_is_not_sent_in_the_target() {
    let server = serve(echo).await;
    let client = Client::default();
    let target = format!("http://user:p%40ss@127.0.0.1:{}/u", server.port());
    let res = within(client.get(&target).header("x-show", "authorization").send())
        .await
        .unwrap();
    // base64("user:p@ss")
    assert_eq!(
        res.text().await.unwrap(),
        "GET /u HTTP/1.1 [authorization=Basic dXNlcjpwQHNz] "
    );
    server.close().await;
}

#[tokio::test]
async fn a_streamed_request_body_is_sent_as_it_is_produced() {
    let server = serve(echo).await;
    let client = Client::default();
    let chunks: Channel<Bytes> = Channel::buffered(1);
    let producer = chunks.clone();
    tokio::spawn(async move {
        for i in 0..100 {
            producer.send(Bytes::from(format!("{i},"))).await.unwrap();
        }
        producer.close();
    });
    let res = within(client.post(url(&server, "/s")).body(chunks).send())
        .await
        .unwrap();
    let expected: String = (0..100).map(|i| format!("{i},")).collect();
    assert_eq!(
        res.text().await.unwrap(),
        format!("POST /s HTTP/1.1 [] {expected}")
    );
    let file_like: &'static [u8] = b"from a reader";
    let res = within(
        client
            .put(url(&server, "/r"))
            .body(Body::from_reader(file_like))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "PUT /r HTTP/1.1 [] from a reader"
    );
    server.close().await;
}

#[tokio::test]
async fn an_invalid_url_or_header_is_an_invalid_input_error_from_send() {
    let client = Client::default();
    let err = within(client.get("not a url").send()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = within(client.get("ftp://h/").send()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = within(client.get("http://h/").header("bad\nname", "v").send())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

// ---- status and throw_exceptions ---------------------------------------------------

fn status_handler(req: Request) -> Response {
    let code: u16 = req
        .uri()
        .path()
        .trim_start_matches("/status/")
        .parse()
        .unwrap_or(500);
    let mut res = Response::new(Body::from(format!("status {code}")));
    *res.status_mut() = StatusCode::from_u16(code).unwrap();
    res
}

#[tokio::test]
async fn an_error_status_is_an_error_that_carries_the_response_unless_turned_off() {
    let server = serve(status_handler).await;
    let client = Client::default();
    let err = within(client.get(url(&server, "/status/404")).send())
        .await
        .unwrap_err();
    assert!(err.is_status(), "{err}");
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(
        err.to_string(),
        format!("status 404 Not Found from {}", url(&server, "/status/404"))
    );
    let res = err.take_response().expect("the response is in the error");
    assert!(err.take_response().is_none(), "taken once");
    assert_eq!(res.text().await.unwrap(), "status 404");

    let res = within(
        client
            .get(url(&server, "/status/503"))
            .throw_exceptions(false)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.text().await.unwrap(), "status 503");
    // Both connections came back whatever the status.
    let stats = until_settled(&client).await;
    assert_eq!(stats.total().live, 1, "{stats:?}");
    server.close().await;
}

// ---- the pool ------------------------------------------------------------------------

/// A server whose handler holds each request until released.
struct Gate {
    server: Server,
    arrived: Arc<AtomicUsize>,
    release: Channel<()>,
}

async fn gated() -> Gate {
    let arrived = Arc::new(AtomicUsize::new(0));
    let release: Channel<()> = Channel::buffered(1024);
    let (a, r) = (arrived.clone(), release.clone());
    let server = serve(move |_req: Request| {
        let (a, r) = (a.clone(), r.clone());
        async move {
            a.fetch_add(1, Ordering::SeqCst);
            r.recv().await;
            "released"
        }
    })
    .await;
    Gate {
        server,
        arrived,
        release,
    }
}

async fn until_arrived(gate: &Gate, n: usize) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while gate.arrived.load(Ordering::SeqCst) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "requests never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
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

#[tokio::test]
async fn the_per_host_limit_queues_requests_in_order_and_stats_show_it() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        connections_per_host: 2,
        ..Default::default()
    });
    let mut requests = Vec::new();
    for _ in 0..5 {
        requests.push(tokio::spawn(client.get(url(&gate.server, "/")).send()));
    }
    until_arrived(&gate, 2).await;
    until_stats(&client, "2 in use and 3 queued", |t| {
        t.live == 2 && t.in_use == 2 && t.queued == 3
    })
    .await;
    assert_eq!(gate.arrived.load(Ordering::SeqCst), 2, "the limit holds");
    for _ in 0..5 {
        gate.release.send(()).await.unwrap();
    }
    for request in requests {
        let res = within(request).await.unwrap().unwrap();
        assert_eq!(res.text().await.unwrap(), "released");
    }
    let stats = until_settled(&client).await;
    assert_eq!(stats.total().live, 2, "{stats:?}");
    gate.server.close().await;
}

#[tokio::test]
async fn beyond_max_queue_size_a_request_fails_at_once_with_pool_full() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        connections_per_host: 1,
        max_queue_size: 1,
        ..Default::default()
    });
    let first = tokio::spawn(client.get(url(&gate.server, "/")).send());
    until_arrived(&gate, 1).await;
    let second = tokio::spawn(client.get(url(&gate.server, "/")).send());
    until_stats(&client, "one queued", |t| t.queued == 1).await;
    let err = within(client.get(url(&gate.server, "/")).send())
        .await
        .unwrap_err();
    assert!(err.is_pool_full(), "{err}");
    gate.release.send(()).await.unwrap();
    gate.release.send(()).await.unwrap();
    within(first).await.unwrap().unwrap();
    within(second).await.unwrap().unwrap();
    gate.server.close().await;
}

#[tokio::test]
async fn a_pool_wait_past_pool_timeout_is_a_pool_wait_timeout() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        connections_per_host: 1,
        pool_timeout: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let first = tokio::spawn(client.get(url(&gate.server, "/")).send());
    until_arrived(&gate, 1).await;
    let err = within(client.get(url(&gate.server, "/")).send())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::PoolWait));
    assert_eq!(
        client.stats().total().queued,
        0,
        "the waiter left the queue"
    );
    gate.release.send(()).await.unwrap();
    within(first).await.unwrap().unwrap();
    gate.server.close().await;
}

#[tokio::test]
async fn dropping_requests_while_queued_or_in_flight_frees_every_slot() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        connections_per_host: 2,
        ..Default::default()
    });
    let mut requests = Vec::new();
    for _ in 0..6 {
        requests.push(tokio::spawn(client.get(url(&gate.server, "/")).send()));
    }
    until_arrived(&gate, 2).await;
    until_stats(&client, "4 queued", |t| t.queued == 4).await;
    for request in &requests {
        request.abort();
    }
    for request in requests {
        let _ = within(request).await;
    }
    let stats = until_settled(&client).await;
    assert_eq!(stats.total().queued, 0);
    // The pool still serves: the released slots are usable.
    for _ in 0..4 {
        gate.release.send(()).await.unwrap();
    }
    let res = within(client.get(url(&gate.server, "/")).send())
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "released");
    gate.server.close().await;
}

#[tokio::test]
async fn dropping_a_request_while_it_connects_frees_its_slot() {
    // A listener whose backlog is full never completes a connect.
    let (_listener, _queued, addr) = hanging_addr().await;
    let client = Client::new(ClientOptions {
        connections_per_host: 1,
        ..Default::default()
    });
    let request = tokio::spawn(client.get(format!("http://{addr}/")).send());
    until_stats(&client, "connecting", |t| t.in_use == 1 && t.live == 1).await;
    request.abort();
    let _ = within(request).await;
    let stats = until_settled(&client).await;
    assert!(stats.hosts.is_empty(), "the host was evicted: {stats:?}");
}

/// An address whose connects hang: a listener with a backlog of 0 that
/// never accepts, its queue filled (Linux then drops further SYNs).
async fn hanging_addr() -> (
    socket2::Socket,
    Vec<tokio::net::TcpStream>,
    std::net::SocketAddr,
) {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    for _ in 0..8 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(200), connect).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(e)) => panic!("filling the backlog: {e}"),
            Err(_) => return (listener, queued, addr),
        }
    }
    panic!("the backlog never filled");
}

#[tokio::test]
async fn a_connect_that_hangs_is_a_connect_timeout() {
    let (_listener, _queued, addr) = hanging_addr().await;
    let client = Client::new(ClientOptions {
        connect_timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    let err = within(client.get(format!("http://{addr}/")).send())
        .await
        .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Connect), "{err}");
    let stats = until_settled(&client).await;
    assert!(stats.hosts.is_empty(), "{stats:?}");
}

#[tokio::test]
async fn a_refused_connect_is_a_connect_error_naming_the_target() {
    let port = support::peers::free_port();
    let client = Client::default();
    let err = within(client.get(format!("http://127.0.0.1:{port}/")).send())
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(client.stats().hosts.is_empty());
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_error() {
    let client = Client::default();
    let err = within(client.get("http://no-such-host.invalid/").send())
        .await
        .unwrap_err();
    assert!(err.is_dns(), "{err}");
}

#[tokio::test]
async fn a_response_dropped_unread_gives_its_connection_back() {
    let server = serve(|_req: Request| "x".repeat(10_000)).await;
    let client = Client::new(ClientOptions {
        connections_per_host: 1,
        ..Default::default()
    });
    for _ in 0..3 {
        let res = within(client.get(url(&server, "/")).send()).await.unwrap();
        drop(res);
        until_settled(&client).await;
    }
    let res = within(client.get(url(&server, "/")).send()).await.unwrap();
    assert!(res.reused(), "the drained connection was kept");
    assert_eq!(res.bytes().await.unwrap().len(), 10_000);
    server.close().await;
}

#[tokio::test]
async fn a_dead_pooled_connection_is_replaced_without_failing_the_request() {
    let server = http::start_server(
        echo,
        ServerOptions {
            // The server closes idle connections quickly.
            idle_timeout: Some(Duration::from_millis(50)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::default();
    let first = within(client.get(url(&server, "/1")).send()).await.unwrap();
    first.text().await.unwrap();
    until_stats(&client, "the idle connection closed", |t| {
        t.idle == 0 || t.live == 0
    })
    .await;
    let again = within(client.get(url(&server, "/2")).send()).await.unwrap();
    assert_eq!(again.text().await.unwrap(), "GET /2 HTTP/1.1 [] ");
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn idle_connections_expire_and_their_host_is_evicted() {
    let server = serve(echo).await;
    let client = Client::new(ClientOptions {
        idle_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    });
    let res = client.get(url(&server, "/")).send().await.unwrap();
    res.text().await.unwrap();
    assert_eq!(client.stats().total().idle, 1);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(client.stats().hosts.is_empty(), "{:?}", client.stats());
    server.close().await;
}

// ---- HTTP/2 ----------------------------------------------------------------------

#[tokio::test]
async fn h2c_prior_knowledge_multiplexes_many_requests_on_one_connection() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let first = within(tokio::spawn(client.get(url(&gate.server, "/")).send()));
    until_arrived(&gate, 1).await;
    let mut requests = Vec::new();
    for _ in 0..20 {
        requests.push(tokio::spawn(client.get(url(&gate.server, "/")).send()));
    }
    until_arrived(&gate, 21).await;
    let total = client.stats().total();
    assert_eq!(total.live, 1, "one connection: {total:?}");
    assert_eq!(total.in_use, 21, "{total:?}");
    for _ in 0..21 {
        gate.release.send(()).await.unwrap();
    }
    let res = first.await.unwrap().unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.text().await.unwrap(), "released");
    for request in requests {
        let res = within(request).await.unwrap().unwrap();
        assert_eq!(res.version(), Version::HTTP_2);
        assert_eq!(res.text().await.unwrap(), "released");
    }
    until_settled(&client).await;
    gate.server.close().await;
}

#[tokio::test]
async fn https_negotiates_http2_by_alpn_with_a_trusted_self_signed_server() {
    let identity = Identity::self_signed(&["localhost"]).unwrap();
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .unwrap();
    let server = http::start_server(
        echo,
        ServerOptions {
            tls: Some(tls),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(ClientOptions {
        tls: Some(ClientTls::trusting_pem(identity.certificate_pem().as_bytes()).unwrap()),
        ..Default::default()
    });
    let target = format!("https://localhost:{}/tls", server.port());
    let res = within(client.get(&target).send()).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert!(res.timings().tls.is_some());
    assert_eq!(res.text().await.unwrap(), "GET /tls HTTP/2.0 [] ");

    let h1 = Client::new(ClientOptions {
        http2: false,
        insecure: true,
        ..Default::default()
    });
    let res = within(h1.get(&target).send()).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_11);

    let untrusting = Client::default();
    let err = within(untrusting.get(&target).send()).await.unwrap_err();
    assert!(err.is_tls(), "{err}");
    server.close().await;
}

// ---- redirects -----------------------------------------------------------------------

async fn redirector() -> Server {
    serve(|req: Request| async move {
        let path = req.uri().path().to_owned();
        let mut parts = path.trim_start_matches('/').split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("go"), Some(code), Some(n)) => {
                // Read before answering: a server that answers without
                // reading and closes may reset the client mid-upload.
                let _ = bytes::to_bytes(req.into_body()).await;
                let n: u32 = n.parse().unwrap();
                let code: u16 = code.parse().unwrap();
                let next = if n <= 1 {
                    "/final".to_owned()
                } else {
                    format!("/go/{code}/{}", n - 1)
                };
                let mut res = Response::new(Body::from("moved"));
                *res.status_mut() = StatusCode::from_u16(code).unwrap();
                res.headers_mut().insert("location", next.parse().unwrap());
                res
            }
            (Some("elsewhere"), _, _) => {
                let to = req.headers()["x-to"].to_str().unwrap().to_owned();
                let mut res = Response::new(Body::empty());
                *res.status_mut() = StatusCode::FOUND;
                res.headers_mut().insert("location", to.parse().unwrap());
                res
            }
            _ => Response::new(Body::from(echo(req).await)),
        }
    })
    .await
}

#[tokio::test]
async fn redirects_are_followed_with_the_method_rules() {
    let server = redirector().await;
    let client = Client::default();
    for (code, method, expected) in [
        (301, "POST", "GET /final HTTP/1.1 [] "),
        (302, "POST", "GET /final HTTP/1.1 [] "),
        (303, "PUT", "GET /final HTTP/1.1 [] "),
        (307, "POST", "POST /final HTTP/1.1 [] body"),
        (308, "PUT", "PUT /final HTTP/1.1 [] body"),
    ] {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let res = within(
            client
                .request(method, url(&server, &format!("/go/{code}/2")))
                .body("body")
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(res.redirects(), 2);
        assert_eq!(res.url(), url(&server, "/final"));
        assert_eq!(res.text().await.unwrap(), expected, "{code}");
    }
    server.close().await;
}

#[tokio::test]
async fn more_redirects_than_the_limit_is_a_redirect_error_naming_it() {
    let server = redirector().await;
    let client = Client::default();
    let ok = within(client.get(url(&server, "/go/302/10")).send())
        .await
        .unwrap();
    assert_eq!(ok.redirects(), 10);
    let err = within(client.get(url(&server, "/go/302/11")).send())
        .await
        .unwrap_err();
    assert!(err.is_redirect(), "{err}");
    assert!(err.to_string().contains("too many redirects (10)"), "{err}");
    let off = within(
        client
            .get(url(&server, "/go/302/1"))
            .follow_redirects(false)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(off.status(), StatusCode::FOUND);
    server.close().await;
}

#[tokio::test]
async fn authorization_and_cookies_are_not_sent_to_another_origin() {
    let a = redirector().await;
    let b = redirector().await;
    let client = Client::default();
    let show = "authorization,cookie,x-keep";
    let same = within(
        client
            .get(url(&a, "/elsewhere"))
            .header("x-to", url(&a, "/landing"))
            .header("x-show", show)
            .header("cookie", "c=1")
            .header("x-keep", "k")
            .bearer_auth("t")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(
        same.text().await.unwrap(),
        "GET /landing HTTP/1.1 [authorization=Bearer t cookie=c=1 x-keep=k] "
    );
    let other = within(
        client
            .get(url(&a, "/elsewhere"))
            .header("x-to", url(&b, "/landing"))
            .header("x-show", show)
            .header("cookie", "c=1")
            .header("x-keep", "k")
            .bearer_auth("t")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(
        other.text().await.unwrap(),
        "GET /landing HTTP/1.1 [authorization=- cookie=- x-keep=k] "
    );
    a.close().await;
    b.close().await;
}

// ---- timeouts ------------------------------------------------------------------------

#[tokio::test]
async fn a_slow_head_slow_body_or_slow_request_is_each_its_own_timeout() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        response_header_timeout: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let err = within(client.get(url(&gate.server, "/")).send())
        .await
        .unwrap_err();
    assert_eq!(
        err.timeout_kind(),
        Some(TimeoutKind::ResponseHeaders),
        "{err}"
    );
    assert!(
        err.to_string().contains("response headers timeout"),
        "{err}"
    );

    let err = within(
        Client::default()
            .get(url(&gate.server, "/"))
            .timeout(Duration::from_millis(50))
            .send(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");

    // A body that starts and then stalls.
    let trickle: Channel<Bytes> = Channel::buffered(1);
    let held = trickle.clone();
    let server = serve(move |_req: Request| {
        let body = held.clone();
        Response::new(Body::from(body))
    })
    .await;
    trickle.send(Bytes::from("first")).await.unwrap();
    let client = Client::new(ClientOptions {
        read_timeout: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let res = within(client.get(url(&server, "/")).send()).await.unwrap();
    let err = within(res.text()).await.unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Read), "{err}");
    let stats = until_settled(&client).await;
    assert_eq!(stats.total().live, 0, "the stalled connection was closed");
    for _ in 0..3 {
        let _ = gate.release.try_send(());
    }
    server.close().await;
    gate.server.close().await;
}

// ---- save_request, timings, tower ----------------------------------------------------

#[tokio::test]
async fn save_request_attaches_the_request_as_sent() {
    let server = serve(echo).await;
    let client = Client::default();
    let res = within(
        client
            .get(url(&server, "/saved"))
            .query(&[("a", "1")])
            .save_request(true)
            .send(),
    )
    .await
    .unwrap();
    let sent = res.request().expect("saved").clone();
    assert_eq!(sent.method, Method::GET);
    assert_eq!(sent.url, url(&server, "/saved?a=1"));
    assert!(sent.headers.contains_key("user-agent"));
    assert!(sent.headers.contains_key("host"));
    let t = *res.timings();
    assert!(t.pool_wait.is_some() && t.first_byte.is_some() && t.total.is_some());
    let plain = within(client.get(url(&server, "/")).send()).await.unwrap();
    assert!(plain.request().is_none());
    server.close().await;
}

#[tokio::test]
async fn the_client_is_a_tower_service_that_layers_wrap() {
    use tower::{Service, ServiceExt};
    let server = serve(echo).await;
    let mut service = tower::ServiceBuilder::new()
        .map_request(|mut req: RequestOptions| {
            req.headers.insert("x-layer", "on".parse().unwrap());
            req.headers.insert("x-show", "x-layer".parse().unwrap());
            req
        })
        .service(Client::default());
    let res = within(service.ready().await.unwrap().call(RequestOptions {
        url: url(&server, "/layered"),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "GET /layered HTTP/1.1 [x-layer=on] "
    );
    server.close().await;
}

// ---- decompression, SSE, IDN, JSON, retries ---------------------------------------

async fn gzip(data: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let mut encoder = async_compression::tokio::write::GzipEncoder::new(Vec::new());
    encoder.write_all(data).await.unwrap();
    encoder.shutdown().await.unwrap();
    encoder.into_inner()
}

#[tokio::test]
async fn a_gzip_body_is_decoded_unless_the_caller_asks_for_codings_itself() {
    let plain = "compressible ".repeat(1000);
    let coded = gzip(plain.as_bytes()).await;
    let server = serve(move |req: Request| {
        let coded = coded.clone();
        let asked = req
            .headers()
            .get("accept-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut res = Response::new(Body::from(coded));
        res.headers_mut()
            .insert("content-encoding", "gzip".parse().unwrap());
        res.headers_mut()
            .insert("x-asked", asked.unwrap_or_default().parse().unwrap());
        res
    })
    .await;
    let client = Client::default();
    let res = within(client.get(url(&server, "/")).send()).await.unwrap();
    assert_eq!(res.headers()["x-asked"], "gzip, deflate, br, zstd");
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.text().await.unwrap(), plain);

    let raw = within(
        client
            .get(url(&server, "/"))
            .header("accept-encoding", "gzip")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "gzip");
    assert_eq!(raw.bytes().await.unwrap(), gzip(plain.as_bytes()).await);

    let off = Client::new(ClientOptions {
        decompress: false,
        ..Default::default()
    });
    let res = within(off.get(url(&server, "/")).send()).await.unwrap();
    assert_eq!(res.headers()["x-asked"], "");
    server.close().await;
}

#[tokio::test]
async fn sse_reconnects_with_last_event_id_after_the_stream_ends() {
    use futures::StreamExt;
    let server = serve(|req: Request| {
        let last = req
            .headers()
            .get("last-event-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let events = match last.as_deref() {
            None => vec![
                http::sse::Event {
                    retry: Some(Duration::from_millis(10)),
                    ..Default::default()
                },
                http::sse::Event::data("one").with_id("1"),
            ],
            Some(id) => vec![http::sse::Event::data(format!("after {id}")).with_id("2")],
        };
        http::sse::response(futures::stream::iter(events))
    })
    .await;
    let client = Client::default();
    let res = within(client.get(url(&server, "/events")).send())
        .await
        .unwrap();
    let mut events = res.sse();
    let first = within(events.next()).await.unwrap().unwrap();
    assert_eq!(first.data.as_deref(), Some("one"));
    let second = within(events.next()).await.unwrap().unwrap();
    assert_eq!(second.data.as_deref(), Some("after 1"));
    assert_eq!(events.last_event_id(), Some("2"));

    let res = within(client.get(url(&server, "/events")).send())
        .await
        .unwrap();
    let mut once = res.sse().reconnect(false);
    assert!(within(once.next()).await.unwrap().is_ok());
    assert!(
        within(once.next()).await.is_none(),
        "no reconnection when off"
    );
    server.close().await;
}

#[tokio::test]
async fn an_international_host_is_sent_in_ascii_over_a_unix_socket_target() {
    let dir = support::peers::TempDir::new("client-unix");
    let path = dir.join("s.sock");
    let server = http::start_server(
        |req: Request| {
            req.headers()
                .get("host")
                .map(|h| h.to_str().unwrap().to_owned())
                .unwrap_or_default()
        },
        ServerOptions {
            unix: Some(path.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(ClientOptions {
        unix_socket: Some(path.clone()),
        ..Default::default()
    });
    let res = within(client.get("http://bücher.example/").send())
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "xn--bcher-kva.example");
    let stats = client.stats();
    assert_eq!(stats.hosts[0].key, format!("unix:{}", path.display()));
    server.close().await;
}

#[cfg(feature = "json")]
#[tokio::test]
async fn json_bodies_go_out_and_come_back() {
    let server = serve(|req: Request| async move {
        let ct = req
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = bytes::to_string(req.into_body()).await.unwrap();
        let mut res = Response::new(Body::from(format!("{{\"got\":{body},\"ct\":\"{ct}\"}}")));
        res.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        res
    })
    .await;
    let client = Client::default();
    let res = within(
        client
            .post(url(&server, "/"))
            .json(&serde_json::json!({"a": [1, 2]}))
            .send(),
    )
    .await
    .unwrap();
    let value: serde_json::Value = res.json().await.unwrap();
    assert_eq!(value["got"]["a"][1], 2);
    assert_eq!(value["ct"], "application/json");
    let res = within(client.post(url(&server, "/")).body("not json").send())
        .await
        .unwrap();
    let err = res.json::<serde_json::Value>().await.unwrap_err();
    assert!(err.is_decode(), "{err}");
    server.close().await;
}

/// A raw listener that closes its first `fail` connections without a word,
/// then answers every request with `ok`.
async fn flaky(fail: usize) -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                // Read the request's head, so the client saw it sent.
                let _ = stream.read(&mut buf).await;
                if n < fail {
                    return;
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn opt_in_retries_resend_a_body_in_memory_but_never_a_stream() {
    let (port, seen) = flaky(2).await;
    let client = Client::default();
    let target = format!("http://127.0.0.1:{port}/");
    // An idempotent PUT (a POST the server may have seen is never sent
    // again: http_client_hostile.rs).
    let res = within(
        client
            .put(&target)
            .body("again")
            .retry(3, Duration::from_millis(1))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(seen.load(Ordering::SeqCst), 3);

    let (port, _) = flaky(1).await;
    let chunks: Channel<Bytes> = Channel::buffered(1);
    chunks.send(Bytes::from("once")).await.unwrap();
    chunks.close();
    let err = within(
        client
            .post(format!("http://127.0.0.1:{port}/"))
            .body(chunks)
            .retry(3, Duration::from_millis(1))
            .send(),
    )
    .await
    .unwrap_err();
    assert!(err.is_closed() || err.is_body(), "{err}");

    let (port, _) = flaky(1).await;
    let err = within(client.get(format!("http://127.0.0.1:{port}/")).send())
        .await
        .unwrap_err();
    assert!(err.is_closed(), "no retry unless asked: {err}");
}

#[tokio::test]
async fn h2c_requests_sent_at_once_share_one_connection_from_the_start() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let requests: Vec<_> = (0..30)
        .map(|_| tokio::spawn(client.get(url(&gate.server, "/")).send()))
        .collect();
    until_arrived(&gate, 30).await;
    assert_eq!(client.stats().total().live, 1, "{:?}", client.stats());
    for _ in 0..30 {
        gate.release.send(()).await.unwrap();
    }
    for request in requests {
        let res = within(request).await.unwrap().unwrap();
        assert_eq!(res.text().await.unwrap(), "released");
    }
    gate.server.close().await;
}

/// Records each span's name and its parent's, for the span tree test.
mod spans {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Each span's name and parent, by id.
    type Tree = HashMap<u64, (String, Option<u64>)>;

    #[derive(Clone, Default)]
    pub struct Recorder {
        next: Arc<AtomicU64>,
        spans: Arc<Mutex<Tree>>,
    }

    thread_local! {
        static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }

    impl Recorder {
        /// The names of `name`'s ancestors, nearest first.
        pub fn ancestors(&self, name: &str) -> Vec<Vec<String>> {
            let spans = self.spans.lock().unwrap();
            spans
                .values()
                .filter(|(n, _)| n == name)
                .map(|(_, parent)| {
                    let mut out = Vec::new();
                    let mut at = *parent;
                    while let Some(id) = at {
                        let (n, p) = &spans[&id];
                        out.push(n.clone());
                        at = *p;
                    }
                    out
                })
                .collect()
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
            let parent = if let Some(p) = attrs.parent() {
                Some(p.into_u64())
            } else if attrs.is_contextual() {
                STACK.with(|s| s.borrow().last().copied())
            } else {
                None
            };
            self.spans
                .lock()
                .unwrap()
                .insert(id, (attrs.metadata().name().to_owned(), parent));
            Id::from_u64(id)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, span: &Id) {
            STACK.with(|s| s.borrow_mut().push(span.into_u64()));
        }
        fn exit(&self, _: &Id) {
            STACK.with(|s| {
                s.borrow_mut().pop();
            });
        }
    }
}

#[test]
fn each_phase_is_a_span_under_the_request_span() {
    let recorder = spans::Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || {
        runtime.block_on(async {
            let server = serve(echo).await;
            let client = Client::default();
            let target = format!("http://localhost:{}/", server.port());
            let res = within(client.get(&target).send()).await.unwrap();
            res.text().await.unwrap();
            server.close().await;
        })
    });
    for phase in ["pool_wait", "dns", "connect", "handshake", "wait_headers"] {
        let ancestors = recorder.ancestors(phase);
        assert!(
            ancestors.iter().any(|a| a.contains(&"request".to_owned())),
            "{phase} under request: {ancestors:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn memory_does_not_grow_with_hosts_ever_seen() {
    let server = http::start_server(
        echo,
        ServerOptions {
            host: "0.0.0.0".parse().unwrap(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(ClientOptions {
        idle_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    });
    for i in 2..22 {
        let target = format!("http://127.0.0.{i}:{}/", server.port());
        let res = client.get(&target).send().await.unwrap();
        res.text().await.unwrap();
    }
    assert_eq!(client.stats().hosts.len(), 20);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(client.stats().hosts.is_empty(), "{:?}", client.stats());

    // Without keep-alive a host is forgotten as soon as its answer is read.
    let once = Client::new(ClientOptions {
        keep_alive: false,
        ..Default::default()
    });
    for i in 2..12 {
        let target = format!("http://127.0.0.{i}:{}/", server.port());
        let res = once.get(&target).send().await.unwrap();
        assert!(!res.reused());
        res.text().await.unwrap();
    }
    assert!(once.stats().hosts.is_empty(), "{:?}", once.stats());
    server.close().await;
}

#[tokio::test]
async fn at_the_total_limit_an_idle_connection_of_another_host_makes_room() {
    let server = http::start_server(
        echo,
        ServerOptions {
            host: "0.0.0.0".parse().unwrap(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(ClientOptions {
        total_connections: 1,
        ..Default::default()
    });
    let a = format!("http://127.0.0.2:{}/", server.port());
    let b = format!("http://127.0.0.3:{}/", server.port());
    within(client.get(&a).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    within(client.get(&b).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stats = until_settled(&client).await;
    assert_eq!(stats.total().live, 1, "{stats:?}");
    assert_eq!(stats.hosts.len(), 1, "{stats:?}");
    assert!(stats.hosts[0].key.contains("127.0.0.3"), "{stats:?}");
    server.close().await;
}

#[tokio::test]
async fn head_and_204_answers_give_their_connection_back_at_once() {
    let server = serve(|req: Request| {
        let mut res = Response::new(Body::from("body"));
        if req.uri().path() == "/none" {
            *res.status_mut() = StatusCode::NO_CONTENT;
            *res.body_mut() = Body::empty();
        }
        res
    })
    .await;
    let client = Client::new(ClientOptions {
        connections_per_host: 1,
        ..Default::default()
    });
    let head = within(client.head(url(&server, "/")).send()).await.unwrap();
    let none = within(client.get(url(&server, "/none")).send())
        .await
        .unwrap();
    assert!(
        none.reused(),
        "the HEAD's connection was free before its response was read"
    );
    assert_eq!(none.status(), StatusCode::NO_CONTENT);
    drop((head, none));
    server.close().await;
}

#[tokio::test]
async fn a_307_for_a_streamed_body_is_handed_back_not_followed() {
    let server = redirector().await;
    let client = Client::default();
    let chunks: Channel<Bytes> = Channel::buffered(1);
    chunks.send(Bytes::from("once")).await.unwrap();
    chunks.close();
    let res = within(client.post(url(&server, "/go/307/1")).body(chunks).send())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(res.redirects(), 0);
    server.close().await;
}

#[tokio::test]
async fn a_client_certificate_is_presented_to_a_server_that_asks() {
    use aleph::tls::{ClientAuth, ClientTlsOptions, TrustRoots};
    let server_id = Identity::self_signed(&["localhost"]).unwrap();
    let client_id = Identity::self_signed(&["client"]).unwrap();
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(server_id.clone()),
        client_auth: ClientAuth::Required(TrustRoots::Pem(
            client_id.certificate_pem().into_bytes(),
        )),
        ..Default::default()
    })
    .unwrap();
    let server = http::start_server(
        |req: Request| format!("certs={}", req.peer_certificates().len()),
        ServerOptions {
            tls: Some(tls),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(ClientOptions {
        tls: Some(
            ClientTls::new(ClientTlsOptions {
                roots: TrustRoots::Pem(server_id.certificate_pem().into_bytes()),
                identity: Some(client_id),
                ..Default::default()
            })
            .unwrap(),
        ),
        ..Default::default()
    });
    let target = format!("https://localhost:{}/", server.port());
    let res = within(client.get(&target).send()).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "certs=1");
    server.close().await;
}

#[tokio::test]
async fn connections_leave_from_the_local_address_with_the_user_agent_given() {
    let server = http::start_server(
        |req: Request| {
            format!(
                "{} {}",
                req.remote_addr()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default(),
                req.headers()["user-agent"].to_str().unwrap()
            )
        },
        ServerOptions {
            host: "0.0.0.0".parse().unwrap(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(ClientOptions {
        local_address: Some("127.0.0.5".parse().unwrap()),
        user_agent: Some("tester/1".parse().unwrap()),
        ..Default::default()
    });
    let target = format!("http://127.0.0.1:{}/", server.port());
    let res = within(client.get(&target).send()).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "127.0.0.5 tester/1");
    server.close().await;
}

#[tokio::test]
async fn a_file_body_is_streamed_with_its_length_and_sent_again_after_a_307() {
    let dir = support::peers::TempDir::new("client-file");
    let contents = "line of the file\n".repeat(5000);
    let path = dir.write("upload.txt", &contents);
    let server = redirector().await;
    let client = Client::default();
    let res = within(
        client
            .put(url(&server, "/go/307/1"))
            .header("x-show", "content-length")
            .file(&path)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(res.redirects(), 1);
    assert_eq!(
        res.text().await.unwrap(),
        format!(
            "PUT /final HTTP/1.1 [content-length={}] {contents}",
            contents.len()
        )
    );
    let missing = within(client.put(url(&server, "/")).file(dir.join("nope")).send())
        .await
        .unwrap_err();
    assert!(missing.is_io(), "{missing}");
    assert!(missing.to_string().contains("nope"), "{missing}");
    server.close().await;
}

#[tokio::test]
async fn queued_requests_are_served_in_the_order_they_came() {
    let order = Arc::new(shared_list::Order::default());
    let release: Channel<()> = Channel::buffered(16);
    let (o, r) = (order.clone(), release.clone());
    let server = serve(move |req: Request| {
        let (o, r) = (o.clone(), r.clone());
        async move {
            o.push(req.uri().path().to_owned());
            r.recv().await;
            "done"
        }
    })
    .await;
    let client = Client::new(ClientOptions {
        connections_per_host: 1,
        ..Default::default()
    });
    let mut requests = Vec::new();
    for (i, path) in ["/a", "/b", "/c", "/d"].into_iter().enumerate() {
        requests.push(tokio::spawn(client.get(url(&server, path)).send()));
        // Each is queued (or, the first, in flight) before the next comes.
        until_stats(&client, "the request taken in", |t| {
            t.in_use + t.queued == i + 1
        })
        .await;
    }
    for _ in 0..4 {
        release.send(()).await.unwrap();
    }
    for request in requests {
        within(request)
            .await
            .unwrap()
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    assert_eq!(order.taken(), ["/a", "/b", "/c", "/d"]);
    server.close().await;
}

/// A list shared between the test and its handler.
mod shared_list {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Order(Mutex<Vec<String>>);

    impl Order {
        pub fn push(&self, item: String) {
            self.0.lock().unwrap().push(item);
        }

        pub fn taken(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }
}

#[tokio::test]
async fn a_stream_that_times_out_leaves_its_http2_connection_shared() {
    let gate = gated().await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        response_header_timeout: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let err = within(client.get(url(&gate.server, "/")).send())
        .await
        .unwrap_err();
    assert_eq!(
        err.timeout_kind(),
        Some(TimeoutKind::ResponseHeaders),
        "{err}"
    );
    for _ in 0..2 {
        gate.release.send(()).await.unwrap();
    }
    let res = within(client.get(url(&gate.server, "/")).send())
        .await
        .unwrap();
    assert!(res.reused(), "the same connection carries the next request");
    assert_eq!(res.text().await.unwrap(), "released");
    assert_eq!(client.stats().total().live, 1);
    gate.server.close().await;
}

/// With the clock paused, a sleep ends only once every other task is idle:
/// then a producer the connection does not hold back would have sent all
/// it had.
#[tokio::test(start_paused = true)]
async fn a_streamed_request_body_is_produced_only_as_fast_as_the_server_reads() {
    const CHUNKS: usize = 100_000; // 6.4 GB: far past any buffer
    let release: Channel<()> = Channel::buffered(1);
    let r = release.clone();
    let server = serve(move |req: Request| {
        let r = r.clone();
        async move {
            // Reads nothing until released, then all of it.
            r.recv().await;
            bytes::to_bytes(req.into_body())
                .await
                .map(|b| b.len().to_string())
                .unwrap_or_default()
        }
    })
    .await;
    let client = Client::default();
    let chunks: Channel<Bytes> = Channel::buffered(1);
    let sent = Arc::new(AtomicUsize::new(0));
    let (producer, count) = (chunks.clone(), sent.clone());
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        for _ in 0..CHUNKS {
            if producer.send(chunk.clone()).await.is_err() {
                return;
            }
            count.fetch_add(1, Ordering::SeqCst);
        }
        producer.close();
    });
    let request = tokio::spawn(client.post(url(&server, "/")).body(chunks.clone()).send());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let so_far = sent.load(Ordering::SeqCst);
    assert!(so_far > 0, "the body started");
    assert!(
        so_far < 1000,
        "{so_far} chunks sent to a server that reads nothing"
    );
    assert_eq!(chunks.description().pending_sends, 1, "the producer waits");
    request.abort();
    let _ = request.await;
    release.close();
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn retries_wait_a_backoff_that_doubles() {
    let (port, seen) = flaky(2).await;
    let client = Client::default();
    let started = tokio::time::Instant::now();
    let res = client
        .get(format!("http://127.0.0.1:{port}/"))
        .retry(2, Duration::from_secs(1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    // 1 s, then 2 s, on the paused clock.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}
