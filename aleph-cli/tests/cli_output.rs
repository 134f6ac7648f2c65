//! Output that cannot be written: a reader that went away (`| head`), a full
//! disk (`/dev/full`), a closed stderr. The command never panics; a reader
//! that went away ends it quietly with exit status 0, as nc and curl do.

mod support;

use std::process::Stdio;

use support::{aleph, run, text, within, Demo, Out};

/// Runs a bash script with `$ALEPH` set to the binary, and returns its output.
async fn bash(script: &str) -> std::process::Output {
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-c", script])
        .env("ALEPH", env!("CARGO_BIN_EXE_aleph"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    run(command, b"").await
}

#[tokio::test]
async fn demo_whose_stdout_reader_left_still_serves_and_stops_cleanly_on_sigint() {
    let mut demo = Demo::start(&[]).await;
    // As `aleph demo | head -1`: the reader has what it wanted and is gone.
    demo.close_stdout();
    let out = run(aleph(&["tcp", &demo.tcp.to_string()]), b"still serving\n").await;
    assert_eq!(out.stdout, b"still serving\n");
    demo.signal("INT");
    let status = demo.exit().await;
    assert_eq!(status.code(), Some(0), "{:#?}", demo.lines);
    let stderr = demo.output(Out::Stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("SIGINT received"), "{stderr}");
}

#[tokio::test]
async fn demo_whose_stdout_pipe_is_closed_from_the_start_serves_and_stops_cleanly() {
    // Every line the demo prints meets a pipe nobody reads: EPIPE each time.
    let mut demo = Demo::start_with(&["-v"], closed_pipe()).await;
    let out = run(aleph(&["tcp", &demo.tcp.to_string()]), b"hello\n").await;
    assert_eq!(out.stdout, b"hello\n");
    demo.signal("INT");
    assert_eq!(demo.exit().await.code(), Some(0), "{:#?}", demo.lines);
    let stderr = demo.output(Out::Stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("SIGINT received"), "{stderr}");
}

#[tokio::test]
async fn demo_with_stdout_at_dev_full_serves_and_logs_its_addresses() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists on Linux");
    let mut demo = Demo::start_with(&["-v"], Stdio::from(full)).await;
    let out = run(aleph(&["tcp", &demo.tcp.to_string()]), b"hello\n").await;
    assert_eq!(out.stdout, b"hello\n");
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0), "{:#?}", demo.lines);
    let stderr = demo.output(Out::Stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn aleph_tcp_into_head_ends_quietly_with_status_0() {
    let demo = Demo::start(&[]).await;
    // An endless upload, echoed back, read by a reader that wants 5 bytes.
    let script = format!(
        "\"$ALEPH\" tcp {} < /dev/zero | head -c 5 | od -An -c; echo \"status ${{PIPESTATUS[0]}}\"",
        demo.tcp
    );
    let out = bash(&script).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("status 0"),
        "stdout {stdout:?}, stderr {:?}",
        text(&out.stderr)
    );
    assert!(stdout.contains("\\0"), "head got its bytes: {stdout:?}");
    assert!(
        out.stderr.is_empty(),
        "quiet, as nc: {:?}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn aleph_tcp_with_stdout_at_dev_full_fails_with_one_line() {
    let demo = Demo::start(&[]).await;
    let out = bash(&format!(
        "echo hello | \"$ALEPH\" tcp {} > /dev/full",
        demo.tcp
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = support::one_line(&out.stderr);
    assert!(line.contains("cannot write to stdout"), "{line}");
    assert!(line.contains("No space left on device"), "{line}");
}

#[tokio::test]
async fn aleph_with_stderr_closed_still_exits_with_its_status() {
    // A failure with nowhere to report it: exit 1, not a panic (101).
    let port = support::peers::free_port();
    let out = bash(&format!(
        "\"$ALEPH\" tcp 127.0.0.1:{port} 2>&-; echo \"status $?\""
    ))
    .await;
    assert_eq!(text(&out.stdout).trim(), "status 1");
    // A usage error with stderr closed: clap's status 2.
    let out = bash("\"$ALEPH\" tcp 2>&-; echo \"status $?\"").await;
    assert_eq!(text(&out.stdout).trim(), "status 2");
    // Help into a closed pipe.
    let out = bash("\"$ALEPH\" --help | true; echo \"status ${PIPESTATUS[0]}\"").await;
    assert_eq!(text(&out.stdout).trim(), "status 0");
}

/// A pipe whose reader is gone, as a standard stream: every write is EPIPE.
fn closed_pipe() -> Stdio {
    let (writer, reader) = tokio::net::unix::pipe::pipe().unwrap();
    drop(reader);
    Stdio::from(writer.into_blocking_fd().unwrap())
}

#[tokio::test]
async fn failures_and_usage_errors_into_a_closed_stderr_pipe_keep_their_status() {
    let port = support::peers::free_port();
    let target = format!("127.0.0.1:{port}");
    let mut refused = aleph(&["tcp", &target]);
    refused.stderr(closed_pipe());
    assert_eq!(run(refused, b"").await.status.code(), Some(1));
    let mut usage = aleph(&["tcp"]);
    usage.stderr(closed_pipe());
    assert_eq!(run(usage, b"").await.status.code(), Some(2));
    let mut help = aleph(&["--help"]);
    help.stdout(closed_pipe());
    assert_eq!(run(help, b"").await.status.code(), Some(0));
}

#[tokio::test]
async fn aleph_udp_whose_reader_left_ends_quietly_with_status_0() {
    let demo = Demo::start(&[]).await;
    // Endless lines of zeros, echoed back; head wants the first 5 bytes.
    let script = format!(
        "tr '\\0' 'x' < /dev/zero | fold -w 100 | \"$ALEPH\" udp {} | head -c 5; \
         status=${{PIPESTATUS[2]}}; echo; echo \"status $status\"",
        demo.udp
    );
    let out = within(bash(&script)).await;
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("xxxxx\n"), "{stdout:?}");
    assert!(
        stdout.contains("status 0"),
        "{stdout:?} {:?}",
        text(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{:?}", text(&out.stderr));
}
