//! Log output on stderr: levels from -v / -q or RUST_LOG, the demo's own
//! events, and warnings that repeat (accepts failing for want of file
//! descriptors) rate-limited.

mod support;

use std::process::Stdio;

use support::{run_aleph, within, Demo, Out};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn echo_once(demo: &Demo) {
    let mut conn = within(TcpStream::connect(demo.tcp)).await.unwrap();
    conn.write_all(b"hi").await.unwrap();
    conn.shutdown().await.unwrap();
    let mut back = Vec::new();
    within(conn.read_to_end(&mut back)).await.unwrap();
    assert_eq!(back, b"hi");
}

#[tokio::test]
async fn demo_with_vv_logs_startup_connections_and_shutdown() {
    let mut demo = Demo::start(&["-vv"]).await;
    let started = demo.wait_for(Out::Stderr, "tcp echo listening on").await;
    assert!(started.contains("INFO"), "{started}");
    let mut conn = within(TcpStream::connect(demo.tcp)).await.unwrap();
    let local = conn.local_addr().unwrap().to_string();
    let opened = demo.wait_for(Out::Stderr, "connection opened").await;
    assert!(
        opened.contains("DEBUG") && opened.contains(&local),
        "{opened}"
    );
    conn.write_all(b"hi").await.unwrap();
    conn.shutdown().await.unwrap();
    let mut back = Vec::new();
    within(conn.read_to_end(&mut back)).await.unwrap();
    let closed = demo.wait_for(Out::Stderr, "connection closed").await;
    assert!(
        closed.contains("DEBUG") && closed.contains(&local),
        "{closed}"
    );

    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0));
    let stderr = demo.output(Out::Stderr);
    assert!(
        stderr.contains("INFO aleph::demo: shutting down"),
        "{stderr}"
    );
    assert!(stderr.contains("INFO aleph::demo: shut down"), "{stderr}");
}

#[tokio::test]
async fn demo_logs_nothing_by_default_and_rust_log_overrides_the_flags() {
    let mut quiet = Demo::start(&[]).await;
    echo_once(&quiet).await;
    quiet.signal("TERM");
    assert_eq!(quiet.exit().await.code(), Some(0));
    let stderr = quiet.output(Out::Stderr);
    assert_eq!(
        stderr.lines().count(),
        1,
        "only the shutdown notice: {stderr}"
    );

    // RUST_LOG decides when set: info despite -q, nothing of debug despite -vv.
    let mut demo = Demo::launch(&["-q"], Stdio::piped(), None, &[("RUST_LOG", "info")]).await;
    demo.wait_for(Out::Stderr, "INFO aleph::demo: tcp echo listening on")
        .await;
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0));

    let mut demo = Demo::launch(&["-vv"], Stdio::piped(), None, &[("RUST_LOG", "warn")]).await;
    echo_once(&demo).await;
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0));
    let stderr = demo.output(Out::Stderr);
    assert!(
        !stderr.contains("DEBUG") && !stderr.contains("INFO"),
        "{stderr}"
    );
}

#[tokio::test]
async fn accept_failures_for_want_of_descriptors_are_warned_once_a_second() {
    let mut demo = Demo::start_limited(&[], 40).await;
    // Hold more connections than the demo has descriptors for: its accepts
    // fail again and again while they stay open.
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(within(TcpStream::connect(demo.tcp)).await.unwrap());
    }
    let warning = demo.wait_for(Out::Stderr, "accept failed").await;
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("Too many open files"), "{warning}");
    // The repeats are counted, not printed.
    let summary = demo
        .wait_for(Out::Stderr, "more like the next message were left out")
        .await;
    assert!(summary.starts_with("aleph: "), "{summary}");
    // Once connections close the demo serves again.
    held.clear();
    echo_once(&demo).await;
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0), "{:#?}", demo.lines);
}

#[tokio::test]
async fn verbose_and_quiet_together_are_a_usage_error() {
    let out = run_aleph(&["-v", "-q", "demo"], b"").await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = support::text(&out.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
