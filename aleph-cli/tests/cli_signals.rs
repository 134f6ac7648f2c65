//! `aleph demo` under SIGTERM and SIGINT, as systemd, Kubernetes and Ctrl-C
//! send them: the first starts a graceful shutdown, a second ends it at once.

mod support;

use support::{within, Demo, Out};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection to the demo's echo that has been served once (so the demo
/// has accepted it, and counts it as open).
async fn served_connection(demo: &Demo) -> TcpStream {
    let mut conn = within(TcpStream::connect(demo.tcp)).await.unwrap();
    echo(&mut conn, b"ping").await;
    conn
}

async fn echo(conn: &mut TcpStream, message: &[u8]) {
    conn.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    within(conn.read_exact(&mut back)).await.unwrap();
    assert_eq!(back, message);
}

#[tokio::test]
async fn sigterm_lets_an_open_connection_finish_then_exits_0() {
    let mut demo = Demo::start(&["--shutdown-timeout", "60"]).await;
    let mut conn = served_connection(&demo).await;
    demo.signal("TERM");
    let notice = demo.wait_for(Out::Stderr, "received").await;
    assert_eq!(
        notice,
        "aleph: SIGTERM received: shutting down, open connections get up to 60s to finish \
         (a second signal stops at once)"
    );
    // The connection is still served during the grace period...
    echo(&mut conn, b"still here").await;
    // ...and once it ends, the demo has nothing left to wait for.
    conn.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within(conn.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    let status = demo.exit().await;
    assert_eq!(status.code(), Some(0), "{:#?}", demo.lines);
    assert_eq!(
        demo.output(Out::Stderr),
        format!("{notice}\n"),
        "one line on stderr, nothing else"
    );
}

#[tokio::test]
async fn sigterm_with_an_idle_connection_sends_it_a_fin_after_the_grace_period() {
    let mut demo = Demo::start(&["--shutdown-timeout", "1.5", "-vv"]).await;
    let mut conn = served_connection(&demo).await;
    demo.signal("TERM");
    let notice = demo.wait_for(Out::Stderr, "SIGTERM received").await;
    assert!(notice.contains("up to 1.5s"), "{notice}");
    // The client does nothing; the demo closes the connection when the grace
    // period is over: an orderly end of stream (FIN), not a reset.
    let mut rest = Vec::new();
    let read = within(conn.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "a FIN, not a reset: {read:?}");
    assert!(rest.is_empty());
    assert_eq!(demo.exit().await.code(), Some(0), "{:#?}", demo.lines);
    let stderr = demo.output(Out::Stderr);
    let grace_over = stderr
        .find("shutdown timeout passed")
        .unwrap_or_else(|| panic!("the grace period ran out: {stderr}"));
    let closed = stderr
        .rfind("connection closed")
        .unwrap_or_else(|| panic!("the connection's end is logged: {stderr}"));
    assert!(
        grace_over < closed,
        "the connection was closed because the grace period ran out: {stderr}"
    );
}

#[tokio::test]
async fn a_second_signal_cuts_the_grace_period_short() {
    for (first, second, code) in [
        ("TERM", "INT", 130),
        ("INT", "TERM", 143),
        ("TERM", "TERM", 143),
    ] {
        let mut demo = Demo::start(&["--shutdown-timeout", "600"]).await;
        let mut conn = served_connection(&demo).await;
        demo.signal(first);
        demo.wait_for(Out::Stderr, "received: shutting down").await;
        demo.signal(second);
        // Bounded by the tests' LIMIT, far below the 600 s grace period.
        let status = demo.exit().await;
        assert_eq!(
            status.code(),
            Some(code),
            "{first} then {second}: {:#?}",
            demo.lines
        );
        let stderr = demo.output(Out::Stderr);
        assert!(
            stderr.contains(&format!(
                "SIG{second} received: stopping now, closing 1 open connection(s)"
            )),
            "{stderr}"
        );
        // The process is gone, so the kernel closed the connection.
        let mut rest = Vec::new();
        let _ = within(conn.read_to_end(&mut rest)).await;
    }
}

#[tokio::test]
async fn a_fractional_shutdown_timeout_is_taken_and_a_negative_one_refused() {
    let mut demo = Demo::start(&["--shutdown-timeout", "0.25"]).await;
    demo.signal("INT");
    let notice = demo.wait_for(Out::Stderr, "SIGINT received").await;
    assert!(notice.contains("up to 250ms"), "{notice}");
    assert_eq!(demo.exit().await.code(), Some(0));

    let out = support::run_aleph(&["demo", "--shutdown-timeout", "-1"], b"").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::text(&out.stderr).contains("--shutdown-timeout"),
        "{}",
        support::text(&out.stderr)
    );
}
