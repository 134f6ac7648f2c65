//! Addresses: the demo on any host (IPv6 included), HOST:PORT parsed as a
//! usage error when wrong, and addresses in messages written once, IPv6 in
//! brackets.

mod support;

use support::{converse, one_line, run_aleph, text, Demo, Out};

#[tokio::test]
async fn demo_on_ipv6_loopback_serves_aleph_tcp_and_aleph_udp() {
    let mut demo = Demo::start(&["--host", "::1"]).await;
    assert_eq!(demo.tcp.ip().to_string(), "::1");
    let stdout = demo.output(Out::Stdout);
    assert!(
        stdout.contains(&format!("tcp echo listening on [::1]:{}", demo.tcp.port())),
        "{stdout}"
    );
    let out = run_aleph(
        &["tcp", &format!("[::1]:{}", demo.tcp.port())],
        b"over v6\n",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"over v6\n");
    let target = format!("[::1]:{}", demo.udp.port());
    let out = converse(
        &["udp", "--wait", "0", &target],
        b"datagram over v6\n",
        |out| out.len() >= 16,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"datagram over v6");
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0));
}

#[tokio::test]
async fn demo_on_every_interface_is_reachable_on_loopback() {
    let mut demo = Demo::start(&["--host", "0.0.0.0"]).await;
    assert!(demo.tcp.ip().is_unspecified());
    let out = run_aleph(
        &["tcp", &format!("127.0.0.1:{}", demo.tcp.port())],
        b"lan\n",
    )
    .await;
    assert_eq!(out.stdout, b"lan\n");
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0));
}

#[tokio::test]
async fn a_refused_ipv6_connect_names_the_address_once_in_brackets() {
    let port = support::peers::free_port();
    let target = format!("[::1]:{port}");
    let out = run_aleph(&["tcp", &target], b"").await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.starts_with(&format!(
            "aleph: connect to {target} failed: Connection refused"
        )),
        "{line}"
    );
    assert_eq!(line.matches("refused").count(), 1, "{line}");
}

#[tokio::test]
async fn bad_addresses_are_usage_errors_that_say_what_is_wrong() {
    let cases: &[(&[&str], &str)] = &[
        (&["tcp", "[::1]"], "'[::1]' has no port: write [::1]:PORT"),
        (&["tcp", "::1"], "write [::1]:PORT"),
        (&["tcp", "localhost"], "'localhost' has no port"),
        (&["tcp", "localhost:http"], "'http' is not a port number"),
        (&["tcp", "127.0.0.1:0"], "'0' is not a port number"),
        (&["udp", "[::1]"], "has no port"),
        (
            &["demo", "--host", "localhost"],
            "'localhost' is not an IP address",
        ),
        (&["demo", "--tcp-port", "70000"], "70000"),
    ];
    for (args, expected) in cases {
        let out = run_aleph(args, b"").await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            stderr.contains("Usage") || stderr.contains("--help"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn aleph_udp_to_localhost_reaches_the_demo_on_127_0_0_1() {
    // `localhost` often resolves to ::1 first; UDP cannot try each address
    // as TCP does, so the IPv4 one is chosen.
    let demo = Demo::start(&[]).await;
    let target = format!("localhost:{}", demo.udp.port());
    let out = converse(&["udp", "--wait", "0", &target], b"by name\n", |out| {
        out.len() >= 7
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"by name");
}
