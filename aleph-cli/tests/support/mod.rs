//! What every CLI test file shares: running the built `aleph` binary, bounded
//! waits, signals, and [`Demo`], the one way the tests start `aleph demo`.

#![allow(dead_code)]

#[path = "../../../aleph/tests/support/peers.rs"]
pub mod peers;

use std::future::Future;
use std::net::SocketAddr;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bounds every wait: CI runs debug builds on 2 cores.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test at the caller if it takes longer than [`LIMIT`].
#[track_caller]
pub fn within<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(LIMIT, future).await {
            Ok(out) => out,
            Err(_) => panic!("the wait at {caller} took longer than {LIMIT:?}"),
        }
    }
}

/// `aleph args...` with every standard stream piped, killed if dropped.
pub fn aleph(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aleph"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `aleph args` with `input` on stdin (written while stdout is read, so
/// an echo of any size cannot deadlock) and waits for it to exit.
pub async fn run_aleph(args: &[&str], input: &[u8]) -> Output {
    run(aleph(args), input).await
}

/// Runs a prepared command as [`run_aleph`] does.
pub async fn run(mut command: Command, input: &[u8]) -> Output {
    let mut child = command.spawn().expect("the aleph binary starts");
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            // Dropping stdin is the end of input.
        })
    });
    let output = within(child.wait_with_output()).await.expect("aleph runs");
    if let Some(writer) = writer {
        within(writer).await.unwrap();
    }
    output
}

/// Runs `aleph args`, writes `input` to its stdin and keeps stdin open until
/// what it printed satisfies `enough` (replies that take their time), then
/// ends stdin and waits for it to exit.
pub async fn converse(args: &[&str], input: &[u8], enough: impl Fn(&[u8]) -> bool) -> Output {
    use tokio::io::AsyncReadExt;

    let mut child = aleph(args).spawn().expect("the aleph binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let errors = tokio::spawn(async move {
        let mut errors = Vec::new();
        let _ = stderr.read_to_end(&mut errors).await;
        errors
    });
    within(stdin.write_all(input)).await.unwrap();
    let mut printed = Vec::new();
    while !enough(&printed) {
        let mut chunk = [0u8; 4096];
        let n = within(stdout.read(&mut chunk)).await.unwrap();
        assert_ne!(n, 0, "stdout ended with only {:?}", text(&printed));
        printed.extend_from_slice(&chunk[..n]);
    }
    drop(stdin);
    within(stdout.read_to_end(&mut printed)).await.unwrap();
    let status = within(child.wait()).await.unwrap();
    Output {
        status,
        stdout: printed,
        stderr: within(errors).await.unwrap(),
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts `stderr` is exactly one line, starting with "aleph: ", and returns it.
#[track_caller]
pub fn one_line(stderr: &[u8]) -> String {
    let stderr = text(stderr);
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(stderr.starts_with("aleph: "), "{stderr:?}");
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    stderr.trim_end().to_owned()
}

/// Sends `signal` ("TERM", "INT") to process `pid` with the shell's `kill`
/// builtin (a `kill` program is not in every image).
pub fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -{signal} {pid}")])
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// Which of a process's output streams a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    Stdout,
    Stderr,
}

/// A running `aleph demo` on free ports, its printed addresses, and every
/// line it has written so far. Killed when dropped.
pub struct Demo {
    child: Child,
    /// Where the TCP (or TLS) echo listens.
    pub tcp: SocketAddr,
    /// Where the UDP echo listens.
    pub udp: SocketAddr,
    /// Where the HTTP (or HTTPS) server listens.
    pub http: SocketAddr,
    /// Every line read from the demo so far, in order of arrival per stream.
    pub lines: Vec<(Out, String)>,
    incoming: mpsc::UnboundedReceiver<(Out, String)>,
    stdout_reader: Option<JoinHandle<()>>,
}

impl Demo {
    /// Starts `aleph demo --tcp-port 0 --udp-port 0 --http-port 0 extra...` and reads the
    /// addresses it prints.
    pub async fn start(extra: &[&str]) -> Demo {
        Demo::start_with(extra, Stdio::piped()).await
    }

    /// As [`start`](Demo::start), with stdout sent to `stdout`. When stdout
    /// is not a pipe the addresses are read from the info log on stderr, so
    /// `extra` must hold `-v`.
    pub async fn start_with(extra: &[&str], stdout: Stdio) -> Demo {
        Demo::launch(extra, stdout, None, &[]).await
    }

    /// As [`start`](Demo::start), in a process that may hold at most `fds`
    /// file descriptors (`ulimit -n`), to run it out of them.
    pub async fn start_limited(extra: &[&str], fds: u32) -> Demo {
        Demo::launch(extra, Stdio::piped(), Some(fds), &[]).await
    }

    /// As [`start_with`](Demo::start_with), in a process with at most
    /// `fd_limit` file descriptors if given, and `env` added to its environment.
    pub async fn launch(
        extra: &[&str],
        stdout: Stdio,
        fd_limit: Option<u32>,
        env: &[(&str, &str)],
    ) -> Demo {
        let mut args = vec![
            "demo",
            "--tcp-port",
            "0",
            "--udp-port",
            "0",
            "--http-port",
            "0",
        ];
        args.extend_from_slice(extra);
        let mut command = match fd_limit {
            None => aleph(&args),
            Some(fds) => {
                // The shell sets the limit, then becomes the demo (same pid).
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_aleph"))
                    .args(&args)
                    .env_remove("RUST_LOG")
                    .kill_on_drop(true);
                shell
            }
        };
        command
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the aleph binary starts");
        let (lines, incoming) = mpsc::unbounded_channel();
        let stdout_reader = child
            .stdout
            .take()
            .map(|stdout| tokio::spawn(forward(stdout, Out::Stdout, lines.clone())));
        let stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(forward(stderr, Out::Stderr, lines));
        let mut demo = Demo {
            child,
            tcp: SocketAddr::from(([0, 0, 0, 0], 0)),
            udp: SocketAddr::from(([0, 0, 0, 0], 0)),
            http: SocketAddr::from(([0, 0, 0, 0], 0)),
            lines: Vec::new(),
            incoming,
            stdout_reader,
        };
        let from = if demo.stdout_reader.is_some() {
            Out::Stdout
        } else {
            Out::Stderr
        };
        demo.tcp = address_in(&demo.wait_for(from, "echo listening on ").await);
        demo.udp = address_in(&demo.wait_for(from, "udp echo listening on ").await);
        assert_ne!(demo.tcp.port(), 0, "the printed address shows the port");
        demo.http = address_in(&demo.wait_for(from, "server listening on ").await);
        assert_ne!(demo.udp.port(), 0, "the printed address shows the port");
        assert_ne!(demo.http.port(), 0, "the printed address shows the port");
        demo
    }

    /// The demo's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the demo is running")
    }

    /// Sends `signal` ("TERM", "INT") to the demo.
    pub fn signal(&self, signal: &str) {
        kill(self.pid(), signal);
    }

    /// The first line from `out` holding `needle`, waiting for it if it has
    /// not come yet.
    #[track_caller]
    pub fn wait_for<'a>(
        &'a mut self,
        out: Out,
        needle: &'a str,
    ) -> impl Future<Output = String> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let mut seen = 0;
            loop {
                if let Some((_, line)) = self.lines[seen..]
                    .iter()
                    .find(|(from, line)| *from == out && line.contains(needle))
                {
                    return line.clone();
                }
                seen = self.lines.len();
                match tokio::time::timeout(LIMIT, self.incoming.recv()).await {
                    Ok(Some(line)) => self.lines.push(line),
                    Ok(None) => panic!(
                        "the demo ended its output without {needle:?} on {out:?} \
                         (waited at {caller}); it wrote {:#?}",
                        self.lines
                    ),
                    Err(_) => panic!(
                        "no {needle:?} on {out:?} within {LIMIT:?} (waited at {caller}); \
                         the demo wrote {:#?}",
                        self.lines
                    ),
                }
            }
        }
    }

    /// Stops reading the demo's stdout and closes the pipe, as `head -1`
    /// does once it has its line.
    pub fn close_stdout(&mut self) {
        if let Some(reader) = self.stdout_reader.take() {
            reader.abort();
        }
    }

    /// Waits for the demo to exit, then collects the rest of its output.
    pub async fn exit(&mut self) -> ExitStatus {
        let status = within(self.child.wait()).await.expect("wait for the demo");
        while let Ok(Some(line)) = tokio::time::timeout(LIMIT, self.incoming.recv()).await {
            self.lines.push(line);
        }
        status
    }

    /// Everything the demo wrote to `out` so far, one line each.
    pub fn output(&self, out: Out) -> String {
        self.lines
            .iter()
            .filter(|(from, _)| *from == out)
            .map(|(_, line)| format!("{line}\n"))
            .collect()
    }
}

/// The socket address at the end of a "... listening on ADDR" line.
fn address_in(line: &str) -> SocketAddr {
    line.trim_end()
        .rsplit(' ')
        .next()
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address at the end of {line:?}"))
}

/// Sends each line of `stream` to `lines`, tagged with where it came from.
async fn forward(
    stream: impl AsyncRead + Unpin,
    out: Out,
    lines: mpsc::UnboundedSender<(Out, String)>,
) {
    let mut reader = BufReader::new(stream).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        if lines.send((out, line)).is_err() {
            return;
        }
    }
}
