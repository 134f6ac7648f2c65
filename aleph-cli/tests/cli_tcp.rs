//! The `aleph` binary over real sockets: `aleph tcp` against a Python echo
//! server, an aleph Unix socket server and the TLS demo; `aleph demo` serving
//! a Python client and stopping on SIGINT; errors as one line and a non-zero
//! exit. Peers come from `scripts/install-test-peers.sh`.

mod support;

use std::process::Stdio;

use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpServerOptions};
use support::{peers, run_aleph, text, within, Demo, Out};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Lines of text, `lines` of them.
fn lines(lines: usize) -> Vec<u8> {
    (0..lines)
        .map(|i| format!("{i:06} piped through aleph tcp and back\n"))
        .collect::<String>()
        .into_bytes()
}

// ---- aleph tcp ----------------------------------------------------------------------

#[tokio::test]
async fn aleph_tcp_pipes_stdin_to_a_python_echo_server_and_prints_everything_back() {
    let python = peers::python_echo_server().await;
    let data = lines(50_000); // 2.2 MB: many reads each way
    let target = python.addr().to_string();
    let out = run_aleph(&["tcp", &target], &data).await;
    assert!(
        out.status.success(),
        "status {}; stderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert_eq!(
        out.stdout.len(),
        data.len(),
        "half close at the end of stdin loses nothing"
    );
    assert!(out.stdout == data, "the echoed bytes differ");
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
}

#[tokio::test]
async fn aleph_tcp_over_a_unix_socket_to_an_aleph_echo_server() {
    let dir = peers::TempDir::new("cli-unix");
    let path = dir.join("echo.sock");
    let server = tcp::start_server(
        |conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            unix: Some(path.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let data = lines(1000);
    let out = run_aleph(&["tcp", "--unix", path.to_str().unwrap()], &data).await;
    assert!(
        out.status.success(),
        "status {}; stderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        out.stdout == data,
        "{} bytes back for {}",
        out.stdout.len(),
        data.len()
    );
    within(server.close()).await;
}

#[tokio::test]
async fn aleph_tcp_to_a_refused_port_fails_with_one_line_on_stderr() {
    let port = peers::free_port();
    let target = format!("127.0.0.1:{port}");
    let out = run_aleph(&["tcp", &target], b"").await;
    assert_eq!(out.status.code(), Some(1), "status {}", out.status);
    let line = support::one_line(&out.stderr);
    assert!(
        line.starts_with(&format!(
            "aleph: connect to {target} failed: Connection refused"
        )),
        "{line}"
    );
    assert_eq!(line.matches("refused").count(), 1, "{line}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn aleph_tcp_connect_timeout_takes_fractions_and_cuts_a_connect_short() {
    // A listener whose accept queue is full: the kernel drops further SYNs,
    // so a connect to it neither succeeds nor fails until the client gives up.
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let _queued: Vec<_> = (0..3)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300)).ok()
        })
        .collect();
    let target = addr.to_string();
    let out = run_aleph(&["tcp", "--connect-timeout", "0.5", &target], b"").await;
    assert_eq!(out.status.code(), Some(1), "status {}", out.status);
    let line = support::one_line(&out.stderr);
    assert!(
        line.contains(&format!("connect to {target} timed out after 500ms")),
        "{line}"
    );
}

#[tokio::test]
async fn aleph_tcp_connect_timeout_bounds_the_tls_handshake_too() {
    // Connections complete in the kernel's queue, but nobody ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap().to_string();
    let out = run_aleph(
        &[
            "tcp",
            "--tls",
            "--insecure",
            "--connect-timeout",
            "0.25",
            &target,
        ],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "status {}", out.status);
    let line = support::one_line(&out.stderr);
    assert!(
        line.contains(&format!(
            "TLS handshake with {target} timed out after 250ms"
        )),
        "{line}"
    );
}

#[tokio::test]
async fn aleph_tcp_connect_timeout_of_zero_or_words_is_a_usage_error() {
    for bad in ["0", "-1", "soon"] {
        let out = run_aleph(&["tcp", "--connect-timeout", bad, "127.0.0.1:9"], b"").await;
        assert_eq!(out.status.code(), Some(2), "{bad}: status {}", out.status);
        let stderr = text(&out.stderr);
        assert!(stderr.contains("--connect-timeout"), "{stderr}");
    }
}

#[tokio::test]
async fn aleph_tcp_to_an_unknown_host_fails_with_one_line_naming_it() {
    let out = run_aleph(&["tcp", "nonexistent.invalid:80"], b"").await;
    assert!(!out.status.success(), "status {}", out.status);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains("nonexistent.invalid"), "{stderr:?}");
}

#[tokio::test]
async fn aleph_tcp_help_lists_its_options() {
    let out = run_aleph(&["tcp", "--help"], b"").await;
    assert!(out.status.success(), "status {}", out.status);
    let help = text(&out.stdout);
    for flag in ["HOST:PORT", "--tls", "--insecure", "--unix"] {
        assert!(
            help.contains(flag),
            "`aleph tcp --help` lacks {flag}: {help}"
        );
    }
}

// ---- aleph demo ---------------------------------------------------------------------

#[tokio::test]
async fn aleph_demo_help_lists_the_tcp_port_flag() {
    let out = run_aleph(&["demo", "--help"], b"").await;
    assert!(out.status.success(), "status {}", out.status);
    let help = text(&out.stdout);
    assert!(help.contains("--tcp-port"), "{help}");
    assert!(help.contains("10001"), "the default port is shown: {help}");
    assert!(help.contains("--tls"), "{help}");
}

#[tokio::test]
async fn aleph_demo_echoes_for_a_python_client_and_exits_0_on_sigint() {
    let mut demo = Demo::start(&[]).await;
    let data = lines(2000);
    let back = peers::python_client(demo.tcp, &[], &data).await;
    assert!(back == data, "{} bytes back for {}", back.len(), data.len());

    demo.signal("INT");
    let status = demo.exit().await;
    assert_eq!(status.code(), Some(0), "Ctrl-C is a graceful stop");
    let stderr = demo.output(Out::Stderr);
    assert!(
        stderr.contains("SIGINT received: shutting down"),
        "{stderr:?}"
    );
}

#[tokio::test]
async fn aleph_demo_with_tls_echoes_for_aleph_tcp_and_openssl_s_client() {
    let mut demo = Demo::start(&["--tls"]).await;
    let target = demo.tcp.to_string();

    let data = lines(20_000);
    let out = run_aleph(&["tcp", "--tls", "--insecure", &target], &data).await;
    assert!(
        out.status.success(),
        "status {}; stderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        out.stdout == data,
        "{} bytes back for {}",
        out.stdout.len(),
        data.len()
    );

    let openssl = peers::require("openssl");
    let mut s_client = Command::new(openssl)
        .args(["s_client", "-connect", &target, "-quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl starts");
    let stdin = s_client.stdin.as_mut().unwrap();
    stdin.write_all(b"hello from s_client\n").await.unwrap();
    stdin.flush().await.unwrap();
    let mut echoed = String::new();
    let mut reader = BufReader::new(s_client.stdout.take().unwrap());
    within(reader.read_line(&mut echoed)).await.unwrap();
    assert_eq!(echoed, "hello from s_client\n");
    drop(s_client);

    demo.signal("INT");
    assert_eq!(demo.exit().await.code(), Some(0));
}

#[tokio::test]
async fn aleph_demo_exits_0_on_a_sigint_sent_as_soon_as_it_prints_its_address() {
    for _ in 0..10 {
        let mut demo = Demo::start(&[]).await;
        demo.signal("INT");
        let status = demo.exit().await;
        assert_eq!(
            status.code(),
            Some(0),
            "killed instead of shutting down: {status}"
        );
    }
}

#[tokio::test]
async fn aleph_demo_on_a_port_in_use_fails_with_one_line_saying_why() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run_aleph(&["demo", "--tcp-port", &port, "--udp-port", "0"], b"").await;
    assert_eq!(out.status.code(), Some(1), "status {}", out.status);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains(&port), "{stderr:?}");
    assert!(
        stderr.to_lowercase().contains("in use"),
        "the reason is given: {stderr:?}"
    );
}

#[tokio::test]
async fn aleph_tcp_with_unreadable_stdin_says_so_closes_its_side_and_exits_1() {
    let demo = Demo::start(&[]).await;
    let mut command = support::aleph(&["tcp", &demo.tcp.to_string()]);
    // A directory opens, but reading it fails (EISDIR).
    command.stdin(std::fs::File::open("/").unwrap());
    let out = support::run(command, b"").await;
    assert_eq!(out.status.code(), Some(1));
    let line = support::one_line(&out.stderr);
    assert!(line.starts_with("aleph: cannot read stdin: "), "{line}");
    assert!(line.ends_with("the sending side is closed"), "{line}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn aleph_demo_on_a_udp_port_in_use_fails_before_printing_any_address() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run_aleph(&["demo", "--tcp-port", "0", "--udp-port", &port], b"").await;
    assert_eq!(out.status.code(), Some(1), "status {}", out.status);
    let line = support::one_line(&out.stderr);
    assert!(line.starts_with("aleph: udp echo: "), "{line}");
    assert!(line.contains(&port) && line.contains("in use"), "{line}");
    assert!(out.stdout.is_empty(), "{:?}", text(&out.stdout));
}
