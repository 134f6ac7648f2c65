//! The `aleph` binary over real sockets: `aleph tcp` against a Python echo
//! server, an aleph Unix socket server and the TLS demo; `aleph demo` serving
//! a Python client and stopping on SIGINT; errors as one line and a non-zero
//! exit. Peers come from `scripts/install-test-peers.sh`.

#[path = "../../aleph/tests/support/peers.rs"]
mod peers;

use std::future::Future;
use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::time::Duration;

use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpServerOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// Bounds every wait: CI runs debug builds on 2 cores.
const LIMIT: Duration = Duration::from_secs(10);

#[track_caller]
fn within<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(LIMIT, future).await {
            Ok(out) => out,
            Err(_) => panic!("the wait at {caller} took longer than {LIMIT:?}"),
        }
    }
}

fn aleph(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aleph"));
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `aleph args` with `input` on stdin (written while stdout is read, so
/// an echo of any size cannot deadlock) and waits for it to exit.
async fn run_aleph(args: &[&str], input: &[u8]) -> Output {
    let mut child = aleph(args).spawn().expect("the aleph binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
        // Dropping stdin is the end of input.
    });
    let output = within(child.wait_with_output()).await.expect("aleph runs");
    within(writer).await.unwrap();
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Lines of text, `lines` of them.
fn lines(lines: usize) -> Vec<u8> {
    (0..lines)
        .map(|i| format!("{i:06} piped through aleph tcp and back\n"))
        .collect::<String>()
        .into_bytes()
}

/// Sends SIGINT, as Ctrl-C does, through the shell's `kill` builtin.
fn interrupt(child: &Child) {
    let pid = child.id().expect("the child is running");
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -INT {pid}: {status}");
}

/// A running `aleph demo` and the address its TCP echo listens on.
struct Demo {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl Demo {
    /// Starts `aleph demo --tcp-port 0 extra...` and reads the address it prints.
    async fn start(extra: &[&str]) -> Demo {
        let mut args = vec!["demo", "--tcp-port", "0", "--udp-port", "0"];
        args.extend_from_slice(extra);
        let mut child = aleph(&args).spawn().expect("the aleph binary starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut first = String::new();
        within(stdout.read_line(&mut first)).await.unwrap();
        let addr = first
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("no address in the demo's first line {first:?}"));
        assert_eq!(
            addr.ip().to_string(),
            "127.0.0.1",
            "the demo listens on loopback"
        );
        assert_ne!(addr.port(), 0, "the printed address shows the port chosen");
        Demo {
            child,
            stdout,
            addr,
        }
    }

    /// Sends SIGINT and returns the exit status and the rest of stdout.
    async fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        interrupt(&self.child);
        let status = within(self.child.wait()).await.unwrap();
        let mut rest = String::new();
        within(self.stdout.read_to_string(&mut rest)).await.unwrap();
        (status, rest)
    }
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
    assert!(!out.status.success(), "status {}", out.status);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("aleph: "), "{stderr:?}");
    assert!(
        stderr.contains(&target) && stderr.contains("refused"),
        "{stderr:?}"
    );
    assert!(out.stdout.is_empty());
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
    let demo = Demo::start(&[]).await;
    let data = lines(2000);
    let back = peers::python_client(demo.addr, &[], &data).await;
    assert!(back == data, "{} bytes back for {}", back.len(), data.len());

    let (status, rest) = demo.interrupt().await;
    assert!(status.success(), "Ctrl-C is a graceful stop: {status}");
    assert!(
        rest.contains("shutting down"),
        "stdout after the address: {rest:?}"
    );
}

#[tokio::test]
async fn aleph_demo_with_tls_echoes_for_aleph_tcp_and_openssl_s_client() {
    let demo = Demo::start(&["--tls"]).await;
    let target = demo.addr.to_string();

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

    let (status, _) = demo.interrupt().await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn aleph_demo_exits_0_on_a_sigint_sent_as_soon_as_it_prints_its_address() {
    for _ in 0..10 {
        let demo = Demo::start(&[]).await;
        let (status, _) = demo.interrupt().await;
        assert!(
            status.success(),
            "killed instead of shutting down: {status}"
        );
    }
}

#[tokio::test]
async fn aleph_demo_on_a_port_in_use_fails_with_one_line_saying_why() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run_aleph(&["demo", "--tcp-port", &port], b"").await;
    assert!(!out.status.success(), "status {}", out.status);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains(&port), "{stderr:?}");
    assert!(
        stderr.to_lowercase().contains("in use"),
        "the reason is given: {stderr:?}"
    );
}
