//! Found by a hostile review: the command at the limits of its process
//! (almost no file descriptors) still fails in one line, never with a panic.

mod support;

use std::process::Stdio;

use support::{run, text};

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
