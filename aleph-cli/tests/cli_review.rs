//! Found by a hostile review: the command at the limits of its process
//! (almost no file descriptors, a stderr nobody reads) still fails in one
//! line, never with a panic, and a second stop signal still ends the demo.

mod support;

use std::process::Stdio;

use support::{kill, run, text, within};
use tokio::io::{AsyncBufReadExt, BufReader};

/// `aleph args...` in a process that may hold at most `fds` file
/// descriptors, with stdin empty.
async fn with_fd_limit(fds: u32, args: &[&str]) -> std::process::Output {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_aleph"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    run(command, b"").await
}

#[tokio::test]
async fn too_few_file_descriptors_to_start_is_one_line_and_exit_1_never_a_panic() {
    // Each limit runs out at another step of starting up (the runtime's
    // event queue, its signal pipe, the sockets); none of these limits
    // lets the demo start.
    for fds in 4..=8 {
        for args in [
            &["tcp", "127.0.0.1:1"][..],
            &["udp", "--wait", "0", "127.0.0.1:1"][..],
            &["demo", "--tcp-port", "0", "--udp-port", "0"][..],
        ] {
            let out = with_fd_limit(fds, args).await;
            let stderr = text(&out.stderr);
            assert!(
                !stderr.contains("panicked"),
                "ulimit -n {fds}, {args:?}: {stderr}"
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "ulimit -n {fds}, {args:?}: {stderr}"
            );
            assert_eq!(
                stderr.lines().count(),
                1,
                "ulimit -n {fds}, {args:?}: {stderr}"
            );
            assert!(
                stderr.starts_with("aleph: "),
                "ulimit -n {fds}, {args:?}: {stderr}"
            );
        }
    }
}

#[tokio::test]
async fn a_runtime_that_cannot_start_is_named_in_the_failure() {
    // Out of descriptors for the runtime's own event queue or signal pipe.
    for fds in [5, 6] {
        let out = with_fd_limit(fds, &["tcp", "127.0.0.1:1"]).await;
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("aleph: cannot start the async runtime: "),
            "ulimit -n {fds}: {stderr}"
        );
    }
}

/// A pipe already full, as the stderr of a process whose log reader stopped
/// reading (a paused pager, a stuck log collector): every write to it blocks.
/// The reading end is returned too, to be held open and never read.
fn full_pipe() -> (std::os::fd::OwnedFd, tokio::net::unix::pipe::Receiver) {
    use std::io::Write;

    let (sender, receiver) = tokio::net::unix::pipe::pipe().expect("a pipe");
    // Plain writes on the nonblocking end, until the pipe takes no byte more
    // (tokio's try_write would answer from its readiness cache instead).
    let mut file = std::fs::File::from(sender.into_nonblocking_fd().expect("the fd"));
    for chunk in [&[0u8; 4096][..], &[0u8; 1][..]] {
        loop {
            match file.write(chunk) {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("filling the pipe: {err}"),
            }
        }
    }
    let sender = tokio::net::unix::pipe::Sender::from_file(file).expect("a pipe end");
    (sender.into_blocking_fd().expect("a blocking fd"), receiver)
}

#[tokio::test]
async fn a_second_signal_ends_the_demo_even_when_its_stderr_is_full() {
    let (stderr, _unread) = full_pipe();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_aleph"))
        .args(["demo", "--tcp-port", "0", "--udp-port", "0"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .kill_on_drop(true)
        .spawn()
        .expect("the aleph binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    loop {
        let line = within(stdout.next_line()).await.unwrap();
        let line = line.expect("the demo prints its addresses");
        if line.starts_with("udp echo listening on ") {
            break;
        }
    }
    // The first signal's notice blocks on the full stderr; the second must
    // end the process all the same. Two different signals, so that the
    // second cannot merge with the first.
    let pid = child.id().expect("the demo runs");
    kill(pid, "TERM");
    kill(pid, "INT");
    let status = within(child.wait()).await.unwrap();
    assert!(
        matches!(status.code(), Some(130 | 143)),
        "a forced stop, not {status}"
    );
}

#[tokio::test]
async fn an_endless_cacert_file_is_refused_in_one_line_without_reading_it_all() {
    // /dev/zero never ends: read whole, it would take all the memory there is
    // (held to 1 GiB here, so that the bug fails the test, not the machine).
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_aleph"))
        .args(["tcp", "--tls", "--cacert", "/dev/zero", "127.0.0.1:9"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = run(command, b"").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let line = support::one_line(&out.stderr);
    assert!(line.contains("--cacert /dev/zero"), "{line}");
    assert!(line.contains("larger than"), "{line}");
}
