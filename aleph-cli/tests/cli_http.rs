//! `aleph demo`'s HTTP service, tried with curl as any user would: HTTP/1.1,
//! h2c, HTTPS with HTTP/2 by ALPN, streams, server-sent events, the
//! httpbin-like endpoints, and a graceful drain on SIGTERM.

mod support;

use std::time::Duration;

use support::{within, Demo, Out};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Runs curl with `args` (silent, errors shown, bounded), its stdout; fails
/// the test unless curl exits 0.
async fn curl(args: &[&str]) -> String {
    let mut all = vec!["-sS", "--max-time", "10"];
    all.extend_from_slice(args);
    support::peers::require("curl");
    let mut command = tokio::process::Command::new("curl");
    command
        .args(&all)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let output = support::run(command, b"").await;
    assert!(
        output.status.success(),
        "curl {all:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn url(demo: &Demo, path: &str) -> String {
    format!("http://{}{path}", demo.http)
}

#[tokio::test]
async fn the_demo_answers_curl_over_http11_and_h2c_with_streams() {
    let demo = Demo::start(&[]).await;
    let out = curl(&["-w", " %{http_version} %{content_type}", &url(&demo, "/")]).await;
    assert_eq!(out, "hello! 1.1 text/plain; charset=utf-8");
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        " %{http_version}",
        &url(&demo, "/"),
    ])
    .await;
    assert_eq!(out, "hello! 2");
    let out = curl(&["-N", &url(&demo, "/stream?n=3&ms=5")]).await;
    assert_eq!(out, "chunk 0\nchunk 1\nchunk 2\n");
    let out = curl(&["-N", "--http2-prior-knowledge", &url(&demo, "/stream?n=2")]).await;
    assert_eq!(out, "chunk 0\nchunk 1\n");
    let out = curl(&["-N", &url(&demo, "/stream")]).await;
    assert_eq!(out.lines().count(), 10, "n defaults to 10: {out}");
}

#[tokio::test]
async fn the_demo_streams_server_sent_events_numbered_from_0() {
    let demo = Demo::start(&[]).await;
    let mut stream = within(TcpStream::connect(demo.http)).await.unwrap();
    stream
        .write_all(b"GET /events?ms=10 HTTP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("id: 2\n") {
        let n = within(stream.read(&mut buf)).await.unwrap();
        assert!(
            n > 0,
            "the stream ended: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    for i in 0..3 {
        assert!(
            text.contains(&format!("id: {i}\ndata: tick {i}\n\n")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_demo_endpoints_answer_like_httpbin() {
    let demo = Demo::start(&[]).await;
    let code = |path: &str| {
        let url = url(&demo, path);
        async move { curl(&["-o", "/dev/null", "-w", "%{http_code}", &url]).await }
    };
    assert_eq!(code("/status/418").await, "418");
    assert_eq!(code("/status/599").await, "599");
    assert_eq!(code("/status/99").await, "400");
    assert_eq!(code("/status/600").await, "400");
    assert_eq!(code("/status/101").await, "400");
    assert_eq!(curl(&[&url(&demo, "/delay/20")]).await, "hello!");
    assert_eq!(code("/delay/60001").await, "400");
    assert_eq!(code("/bytes/104857601").await, "400");
    assert_eq!(code("/nowhere").await, "404");

    let out = curl(&["-D", "-", "-o", "/dev/null", &url(&demo, "/bytes/100000")]).await;
    assert!(
        out.to_ascii_lowercase().contains("content-length: 100000"),
        "{out}"
    );
    let out = curl(&[
        "-w",
        "%{size_download}",
        "-o",
        "/dev/null",
        &url(&demo, "/bytes/100000"),
    ])
    .await;
    assert_eq!(out, "100000");

    let dir = support::peers::TempDir::new("demo-upload");
    let file = dir.write("up.bin", vec![b'u'; 1_000_001]);
    let file = file.to_str().unwrap();
    assert_eq!(
        curl(&["-T", file, &url(&demo, "/upload")]).await,
        "1000001\n"
    );
    let out = curl(&[
        "-H",
        "content-type: text/x-demo",
        "--data-binary",
        "echo me",
        "-w",
        " %{content_type}",
        &url(&demo, "/echo"),
    ])
    .await;
    assert_eq!(out, "echo me text/x-demo");
}

#[tokio::test]
async fn the_demo_request_endpoint_answers_ring_keys_as_json() {
    let demo = Demo::start(&[]).await;
    let out = curl(&[
        "-H",
        "x-twice: one",
        "-H",
        "x-twice: two",
        "-A",
        "probe",
        &url(&demo, "/request?a=1&a=2"),
    ])
    .await;
    let port = demo.http.port();
    assert_eq!(
        out,
        format!(
            "{{\"request_method\":\"get\",\"uri\":\"/request\",\"query_string\":\"a=1&a=2\",\
             \"headers\":{{\"host\":[\"{addr}\"],\"user-agent\":[\"probe\"],\"accept\":[\"*/*\"],\
             \"x-twice\":[\"one\",\"two\"]}},\"remote_addr\":\"127.0.0.1\",\
             \"server_name\":\"127.0.0.1\",\"server_port\":{port},\"scheme\":\"http\",\
             \"version\":\"HTTP/1.1\",\"tls\":false}}\n",
            addr = demo.http
        )
    );
    let out = curl(&["--http1.0", &url(&demo, "/request")]).await;
    assert!(out.contains("\"query_string\":null"), "{out}");
    assert!(out.contains("\"version\":\"HTTP/1.0\""), "{out}");
}

#[tokio::test]
async fn the_demo_with_tls_serves_https_with_http2_by_alpn() {
    let dir = support::peers::TempDir::new("demo-https");
    let cert = dir.join("demo.pem");
    let cert = cert.to_str().unwrap().to_owned();
    let demo = Demo::start(&["--tls", "--cert-out", &cert]).await;
    let url = format!("https://localhost:{}/request", demo.http.port());
    let resolve = format!("localhost:{}:127.0.0.1", demo.http.port());
    let out = curl(&["--http2", "--cacert", &cert, "--resolve", &resolve, &url]).await;
    assert!(out.contains("\"scheme\":\"https\""), "{out}");
    assert!(out.contains("\"version\":\"HTTP/2\""), "{out}");
    assert!(out.contains("\"tls\":true"), "{out}");
    assert!(out.contains("\"server_name\":\"localhost\""), "{out}");
}

#[tokio::test]
async fn sigterm_drains_http_in_flight_finishes_idle_closes_and_exits_0() {
    let mut demo = Demo::start(&["--shutdown-timeout", "30"]).await;
    // An idle keep-alive connection.
    let mut idle = within(TcpStream::connect(demo.http)).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = within(idle.read(&mut buf)).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("hello!"));
    // A request in flight.
    let mut busy = within(TcpStream::connect(demo.http)).await.unwrap();
    busy.write_all(b"GET /delay/1500 HTTP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    demo.signal("TERM");
    demo.wait_for(Out::Stderr, "SIGTERM received").await;
    // The idle connection is closed at once, well inside the grace period.
    let mut rest = Vec::new();
    within(idle.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    // The request in flight finishes and says the connection closes.
    let mut answer = Vec::new();
    within(busy.read_to_end(&mut answer)).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.ends_with("hello!"), "{answer}");
    assert_eq!(demo.exit().await.code(), Some(0), "{:#?}", demo.lines);
}

#[tokio::test]
async fn sigterm_exits_0_after_cutting_a_request_at_the_shutdown_timeout() {
    let mut demo = Demo::start(&["--shutdown-timeout", "0.3"]).await;
    let mut busy = within(TcpStream::connect(demo.http)).await.unwrap();
    busy.write_all(b"GET /delay/60000 HTTP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0), "{:#?}", demo.lines);
    let mut rest = Vec::new();
    let _ = within(busy.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}

#[tokio::test]
async fn the_demos_http_limits_are_flags() {
    let demo = Demo::start(&["--max-body-size", "10", "--max-connections", "100"]).await;
    let out = curl(&[
        "--data-binary",
        "01234567890",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url(&demo, "/upload"),
    ])
    .await;
    assert_eq!(out, "413");
    let out = support::run_aleph(&["demo", "--help"], b"").await;
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--http-port",
        "--header-read-timeout",
        "--body-read-timeout",
        "--max-body-size",
        "--max-connections",
        "--idle-timeout",
        "/events?ms=M",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}
