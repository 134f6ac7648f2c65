//! Runs the built `aleph` binary the way a user would.

use std::process::{Command, Output};

fn aleph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aleph"))
        .args(args)
        .output()
        .expect("the aleph binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_prints_usage_and_exits_zero() {
    let out = aleph(&["--help"]);
    assert!(out.status.success(), "status: {:?}", out.status);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Usage"), "stdout: {stdout}");
    assert!(stdout.contains("WebSocket"), "stdout: {stdout}");
}

#[test]
fn no_arguments_prints_help_and_exits_zero() {
    let out = aleph(&[]);
    assert!(out.status.success(), "status: {:?}", out.status);
    assert!(text(&out.stdout).contains("Usage"));
}

#[test]
fn version_prints_the_crate_version() {
    let out = aleph(&["--version"]);
    assert!(out.status.success(), "status: {:?}", out.status);
    assert_eq!(
        text(&out.stdout).trim(),
        format!("aleph {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_flag_fails_and_names_the_flag() {
    let out = aleph(&["--no-such-flag"]);
    assert!(!out.status.success(), "status: {:?}", out.status);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--no-such-flag"), "stderr: {stderr}");
}

#[test]
fn unknown_argument_error_is_one_line() {
    let out = aleph(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.contains("no-such-command"), "stderr: {stderr}");
}
