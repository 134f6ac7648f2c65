//! aleph's HTTP server against peers it did not write: curl (HTTP/1.1,
//! HTTP/2 over TLS, h2c with prior knowledge, uploads, connection reuse
//! across `--next`), Python's httpx with HTTP/2, nginx as a reverse proxy
//! in front of it, and load from h2load and wrk in which every request
//! succeeds. Each peer is installed by `scripts/install-test-peers.sh`.

mod support;

use std::ffi::OsStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aleph::bytes;
use aleph::http::{self, Body, Request, Response, ServerOptions, StatusCode};
use aleph::stream::Channel;
use aleph::tls::ServerTls;
use aleph::Server;

use support::peers::{fixture, run, Certs, PeerServer, TempDir};

/// The handler the peers talk to: `/` hello, `/stream` three chunks,
/// `/upload` the body's length, `/peer` the client's port.
async fn handler(req: Request) -> Response {
    use aleph::http::IntoResponse;
    match req.uri().path() {
        "/stream" => {
            let chunks = Channel::buffered(1);
            let producer = chunks.clone();
            tokio::spawn(async move {
                for i in 0..3 {
                    if producer.send(format!("chunk {i}\n")).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                producer.close();
            });
            let mut res = http::Response::new(Body::from(chunks));
            res.headers_mut()
                .insert("content-type", http::HeaderValue::from_static("text/plain"));
            res
        }
        "/upload" => match bytes::to_bytes(req.into_body()).await {
            Ok(body) => body.len().to_string().into_response(),
            Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
        },
        "/peer" => req
            .remote_addr()
            .map(|addr| addr.port().to_string())
            .unwrap_or_default()
            .into_response(),
        _ => "hello!".into_response(),
    }
}

async fn server(options: ServerOptions) -> Server {
    http::start_server(handler, options)
        .await
        .expect("the server starts")
}

async fn tls_server(certs: &Certs) -> Server {
    let tls = ServerTls::from_pem_files(certs.server_chain(), certs.server_key()).unwrap();
    server(ServerOptions {
        tls: Some(tls),
        ..Default::default()
    })
    .await
}

/// Runs curl with `args`, failing the test unless it exits 0; its stdout.
async fn curl<S: AsRef<OsStr>>(args: &[S]) -> String {
    let mut all: Vec<&OsStr> = vec![
        OsStr::new("-sS"),
        OsStr::new("--max-time"),
        OsStr::new("10"),
    ];
    all.extend(args.iter().map(AsRef::as_ref));
    let output = run("curl", &all, b"").await;
    assert!(
        output.status.success(),
        "curl {all:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---- curl ----------------------------------------------------------------------------

#[tokio::test]
async fn curl_gets_hello_over_http11_and_h2c() {
    let server = server(ServerOptions::default()).await;
    let url = format!("http://127.0.0.1:{}/", server.port());
    let out = curl(&[
        "--http1.1",
        "-w",
        "\n%{http_version} %{response_code}",
        &url,
    ])
    .await;
    assert_eq!(out, "hello!\n1.1 200");
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        "\n%{http_version} %{response_code}",
        &url,
    ])
    .await;
    assert_eq!(out, "hello!\n2 200");
    server.close().await;
}

#[tokio::test]
async fn curl_gets_http2_over_tls_by_alpn() {
    let certs = Certs::generate().await;
    let server = tls_server(&certs).await;
    let url = format!("https://localhost:{}/", server.port());
    let ca = certs.ca();
    let resolve = format!("localhost:{}:127.0.0.1", server.port());
    let out = curl(&[
        OsStr::new("--http2"),
        OsStr::new("--cacert"),
        ca.as_os_str(),
        OsStr::new("--resolve"),
        OsStr::new(&resolve),
        OsStr::new("-w"),
        OsStr::new("\n%{http_version} %{response_code}"),
        OsStr::new(&url),
    ])
    .await;
    assert_eq!(out, "hello!\n2 200");
    let out = curl(&[
        OsStr::new("--http1.1"),
        OsStr::new("--cacert"),
        ca.as_os_str(),
        OsStr::new("--resolve"),
        OsStr::new(&resolve),
        OsStr::new("-w"),
        OsStr::new("\n%{http_version}"),
        OsStr::new(&url),
    ])
    .await;
    assert_eq!(out, "hello!\n1.1");
    server.close().await;
}

#[tokio::test]
async fn curl_uploads_with_t_and_streams_chunks() {
    let server = server(ServerOptions::default()).await;
    let dir = TempDir::new("curl-upload");
    let file = dir.write("upload.bin", vec![b'z'; 3 * 1024 * 1024 + 7]);
    let url = format!("http://127.0.0.1:{}/upload", server.port());
    let out = curl(&[OsStr::new("-T"), file.as_os_str(), OsStr::new(&url)]).await;
    assert_eq!(out, (3 * 1024 * 1024 + 7).to_string());
    // From stdin: curl sends it chunked.
    let output = run(
        "curl",
        ["-sS", "--max-time", "10", "-T", "-", &url],
        &vec![b'y'; 100_000],
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&output.stdout), "100000");

    let url = format!("http://127.0.0.1:{}/stream", server.port());
    let out = curl(&["-N", &url]).await;
    assert_eq!(out, "chunk 0\nchunk 1\nchunk 2\n");
    let out = curl(&["-N", "--http2-prior-knowledge", &url]).await;
    assert_eq!(out, "chunk 0\nchunk 1\nchunk 2\n");
    server.close().await;
}

#[tokio::test]
async fn curl_gets_the_answer_of_a_handler_that_never_read_its_upload() {
    // `/` answers without reading the body; the server lingers until curl
    // stops sending, so curl reads the answer instead of a reset. Plain and
    // over TLS, several times (the reset raced curl's reads).
    let certs = Certs::generate().await;
    let dir = TempDir::new("curl-unread");
    let file = dir.write("upload.bin", vec![b'u'; 4 * 1024 * 1024]);
    let plain = server(ServerOptions::default()).await;
    let tls = tls_server(&certs).await;
    for _ in 0..3 {
        for (server, scheme, extra) in [(&plain, "http", None), (&tls, "https", Some(&certs))] {
            let url = format!("{scheme}://localhost:{}/", server.port());
            let mut args = vec![
                OsStr::new("-w").to_owned(),
                OsStr::new(" %{http_code}").to_owned(),
                OsStr::new("--http1.1").to_owned(),
                OsStr::new("-T").to_owned(),
                file.as_os_str().to_owned(),
            ];
            args.push("--resolve".into());
            args.push(format!("localhost:{}:127.0.0.1", server.port()).into());
            if let Some(certs) = extra {
                args.push("--cacert".into());
                args.push(certs.ca().as_os_str().to_owned());
            }
            args.push(url.into());
            assert_eq!(curl(&args).await, "hello! 200", "{scheme}");
        }
    }
    plain.close().await;
    tls.close().await;
}

#[tokio::test]
async fn curl_reuses_one_connection_across_next() {
    let server = server(ServerOptions::default()).await;
    let url = format!("http://127.0.0.1:{}/peer", server.port());
    let out = curl(&[
        "-w",
        " %{num_connects}\n",
        &url,
        "--next",
        "-w",
        " %{num_connects}\n",
        &url,
        "--next",
        "-w",
        " %{num_connects}\n",
        &url,
    ])
    .await;
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let port = lines[0].split(' ').next().unwrap();
    assert_eq!(
        lines,
        [
            format!("{port} 1"),
            format!("{port} 0"),
            format!("{port} 0")
        ],
        "one connection, then reused"
    );
    server.close().await;
}

// ---- httpx ---------------------------------------------------------------------------

#[tokio::test]
async fn httpx_speaks_http2_over_tls_and_streams() {
    let certs = Certs::generate().await;
    let server = tls_server(&certs).await;
    let script = fixture("http_client.py");
    let ca = certs.ca();
    let url = format!("https://localhost:{}/", server.port());
    let output = run(
        "python3",
        [
            script.as_os_str(),
            OsStr::new(&url),
            ca.as_os_str(),
            OsStr::new("--http2"),
        ],
        b"",
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "HTTP/2\n200\nhello!\n"
    );

    let url = format!("https://localhost:{}/stream", server.port());
    let output = run(
        "python3",
        [
            script.as_os_str(),
            OsStr::new(&url),
            ca.as_os_str(),
            OsStr::new("--http2"),
            OsStr::new("--stream"),
        ],
        b"",
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "HTTP/2\n200\nchunk: chunk 0\n\nchunk: chunk 1\n\nchunk: chunk 2\n\n"
    );
    server.close().await;
}

// ---- nginx ---------------------------------------------------------------------------

async fn nginx_in_front_of(upstream: u16) -> PeerServer {
    let template = std::fs::read_to_string(fixture("nginx-proxy.conf.in")).unwrap();
    PeerServer::start_in(
        "nginx",
        &[
            "-p",
            "@DIR@/",
            "-c",
            "nginx.conf",
            "-e",
            "stderr",
            "-g",
            "daemon off;",
        ],
        move |dir, port| {
            let config = template
                .replace("@PORT@", &port.to_string())
                .replace("@UPSTREAM@", &upstream.to_string());
            dir.write("nginx.conf", config);
            std::fs::create_dir_all(dir.join("tmp")).unwrap();
            // nginx's worker runs as an unprivileged user: it must reach the dir.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
        },
    )
    .await
}

#[tokio::test]
async fn nginx_proxies_with_keep_alive_upstream_and_passes_chunks_through() {
    let ports = Arc::new(Mutex::new(Vec::new()));
    let seen = ports.clone();
    let server = http::start_server(
        move |req: Request| {
            seen.lock()
                .unwrap()
                .push(req.remote_addr().map(|a| a.port()));
            handler(req)
        },
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let nginx = nginx_in_front_of(server.port()).await;
    let base = format!("http://127.0.0.1:{}", nginx.port());
    for _ in 0..3 {
        let out = curl(&[format!("{base}/")]).await;
        assert_eq!(out, "hello!");
    }
    // Three client connections to nginx, one kept-alive connection to aleph.
    let upstream: Vec<_> = ports.lock().unwrap().clone();
    assert_eq!(upstream.len(), 3);
    assert!(upstream.iter().all(|p| *p == upstream[0]), "{upstream:?}");

    let out = curl(&["-N".to_owned(), "-i".to_owned(), format!("{base}/stream")]).await;
    assert!(out.contains("Transfer-Encoding: chunked"), "{out}");
    assert!(out.ends_with("chunk 0\nchunk 1\nchunk 2\n"), "{out}");

    let output = run(
        "curl",
        [
            "-sS",
            "--max-time",
            "10",
            "-T",
            "-",
            &format!("{base}/upload"),
        ],
        &vec![b'n'; 200_000],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "200000",
        "{}",
        nginx.output()
    );
    drop(nginx);
    server.close().await;
}

// ---- load ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_and_wrk_runs_succeed_for_every_request() {
    let server = server(ServerOptions::default()).await;
    let url = format!("http://127.0.0.1:{}/", server.port());
    let output = run("h2load", ["-n", "2000", "-c", "8", "-m", "10", &url], b"").await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );

    let output = run("wrk", ["-t", "1", "-c", "16", "-d", "1s", &url], b"").await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("requests in"), "{text}");
    assert!(!text.contains("Socket errors"), "{text}");
    assert!(!text.contains("Non-2xx"), "{text}");
    server.close().await;
}
