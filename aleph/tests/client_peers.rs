//! The servers the HTTP client is tested against, checked with curl: nginx
//! (HTTP/1.1, h2c, h2 and HTTP/1.1 over TLS with a test CA, keep-alive
//! reuse visible in its access log), hypercorn (HTTP/2) and Python's
//! `http.server`. Each is installed by `scripts/install-test-peers.sh`; a
//! missing one fails these tests.

mod support;

use support::peers::{hypercorn, python_http_server, run, Certs, Nginx, TempDir};

/// curl's stdout, failing the test unless it exits 0.
async fn curl(args: &[&str]) -> String {
    let mut all = vec!["-sS", "--max-time", "10"];
    all.extend_from_slice(args);
    support::peers::require("curl");
    let output = run("curl", &all, b"").await;
    assert!(
        output.status.success(),
        "curl {all:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn nginx_serves_http11_h2c_and_tls_with_reuse_in_its_log() {
    let certs = Certs::generate().await;
    let nginx = Nginx::start(&certs, &[("file.txt", b"static file\n")]).await;
    let out = curl(&[
        "--http1.1",
        "-w",
        "%{http_version}",
        &nginx.http_url("/plain"),
    ])
    .await;
    assert_eq!(out, "hello from nginx\n1.1");
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        "%{http_version}",
        &nginx.h2c_url("/file.txt"),
    ])
    .await;
    assert_eq!(out, "static file\n2");
    let ca = certs.ca();
    let ca = ca.to_str().unwrap();
    let out = curl(&[
        "--cacert",
        ca,
        "-w",
        "%{http_version}",
        &nginx.https_url("/plain"),
    ])
    .await;
    assert_eq!(out, "hello from nginx\n2");
    let out = curl(&[
        "--http1.1",
        "--cacert",
        ca,
        "-w",
        "%{http_version}",
        &nginx.https_url("/plain"),
    ])
    .await;
    assert_eq!(out, "hello from nginx\n1.1");
    // Two requests on one curl: one connection, its second request.
    curl(&[
        "--http1.1",
        &nginx.http_url("/plain"),
        &nginx.http_url("/file.txt"),
    ])
    .await;
    let log = nginx.access_log();
    let last: Vec<&str> = log.lines().rev().take(2).collect();
    assert!(last[0].ends_with("2 HTTP/1.1 GET /file.txt 200"), "{log}");
    assert!(last[1].ends_with("1 HTTP/1.1 GET /plain 200"), "{log}");
    assert_eq!(
        last[0].split(' ').next(),
        last[1].split(' ').next(),
        "same connection: {log}"
    );
}

#[tokio::test]
async fn hypercorn_speaks_http2_in_clear_and_over_tls() {
    let h2c = hypercorn(None).await;
    let url = format!("http://127.0.0.1:{}/bytes/5", h2c.port());
    let out = curl(&["--http2-prior-knowledge", "-w", " %{http_version}", &url]).await;
    assert_eq!(out, "\0\0\0\0\0 2");
    let certs = Certs::generate().await;
    let tls = hypercorn(Some(&certs)).await;
    let url = format!("https://localhost:{}/", tls.port());
    let ca = certs.ca();
    let out = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-w",
        "%{http_version}",
        &url,
    ])
    .await;
    assert_eq!(out, "hello\n2");
}

#[tokio::test]
async fn python_http_server_serves_a_directory() {
    let root = TempDir::new("www");
    root.write("hello.txt", "from python\n");
    let server = python_http_server(root.path()).await;
    let url = format!("http://127.0.0.1:{}/hello.txt", server.port());
    assert_eq!(curl(&[&url]).await, "from python\n");
}
