//! Runs the built `aleph` binary the way a user would: help, version and
//! usage errors.

mod support;

use support::{run_aleph, text};

#[tokio::test]
async fn help_prints_usage_and_exits_zero() {
    let out = run_aleph(&["--help"], b"").await;
    assert!(out.status.success(), "status: {:?}", out.status);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Usage"), "stdout: {stdout}");
    assert!(stdout.contains("WebSocket"), "stdout: {stdout}");
}

#[tokio::test]
async fn no_arguments_prints_help_and_exits_zero() {
    let out = run_aleph(&[], b"").await;
    assert!(out.status.success(), "status: {:?}", out.status);
    assert!(text(&out.stdout).contains("Usage"));
}

#[tokio::test]
async fn version_prints_the_crate_version() {
    let out = run_aleph(&["--version"], b"").await;
    assert!(out.status.success(), "status: {:?}", out.status);
    assert_eq!(
        text(&out.stdout).trim(),
        format!("aleph {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn help_says_what_exists_what_is_coming_and_the_exit_codes() {
    let out = run_aleph(&["--help"], b"").await;
    let help = text(&out.stdout);
    for expected in [
        "an HTTP client",
        "WebSocket and DNS are coming",
        "a response status of 400 or more",
        "Exit status:",
        "  2    a usage error",
        "  1    a runtime failure",
        "130",
        "143",
        "RUST_LOG",
        "--verbose",
        "--quiet",
    ] {
        assert!(help.contains(expected), "{expected:?} missing from {help}");
    }
}

#[tokio::test]
async fn every_subcommand_help_shows_an_example() {
    for sub in ["demo", "tcp", "udp", "get", "post", "request"] {
        let out = run_aleph(&[sub, "--help"], b"").await;
        assert!(out.status.success());
        let help = text(&out.stdout);
        let examples = help
            .split_once("Examples:")
            .unwrap_or_else(|| panic!("`aleph {sub} --help` has no examples: {help}"))
            .1;
        assert!(
            examples.contains(&format!("aleph {sub}")),
            "{sub}: {examples}"
        );
    }
}

#[tokio::test]
async fn unknown_flag_fails_and_names_the_flag() {
    let out = run_aleph(&["--no-such-flag"], b"").await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--no-such-flag"), "stderr: {stderr}");
}

#[tokio::test]
async fn a_missing_argument_is_named_with_clap_s_full_message() {
    let out = run_aleph(&["tcp"], b"").await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the following required arguments were not provided")
            && stderr.contains("<HOST:PORT>")
            && stderr.contains("Usage: aleph tcp"),
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn a_mistyped_subcommand_gets_clap_s_suggestion() {
    let out = run_aleph(&["tcpp", "127.0.0.1:9"], b"").await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("'tcp'"), "stderr: {stderr}");
}

#[tokio::test]
async fn a_value_that_looks_like_a_flag_gets_clap_s_tip() {
    let out = run_aleph(&["tcp", "-x"], b"").await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("'-- -x'"), "stderr: {stderr}");
}
