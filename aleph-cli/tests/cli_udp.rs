//! `aleph demo`'s UDP echo and `aleph udp`, end to end.

mod support;

use std::process::Stdio;

use support::{aleph, converse, one_line, run_aleph, text, within, Demo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn aleph_udp_lines_come_back_from_the_demo_echo_one_per_line_with_lines() {
    let demo = Demo::start(&[]).await;
    let target = demo.udp.to_string();
    let out = converse(
        &["udp", &target, "--wait", "0", "--lines"],
        b"one\ntwo\n",
        |out| out.len() >= 8,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = printed.lines().collect();
    lines.sort();
    assert_eq!(lines, ["one", "two"]);
}

#[tokio::test]
async fn aleph_udp_prints_replies_as_received_without_adding_newlines() {
    let demo = Demo::start(&[]).await;
    let target = demo.udp.to_string();
    let out = converse(&["udp", &target, "--wait", "0"], b"one\ntwo\n", |out| {
        out.len() >= 6
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stdout == b"onetwo" || out.stdout == b"twoone",
        "{:?}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn aleph_udp_sends_lines_that_are_not_utf8_as_bytes() {
    let demo = Demo::start(&[]).await;
    let target = demo.udp.to_string();
    let line = b"\xff\xfe latin-1 \xe9";
    let out = converse(
        &["udp", &target, "--wait", "0"],
        &[&line[..], b"\n"].concat(),
        |out| out.len() >= line.len(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"\xff\xfe latin-1 \xe9");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[tokio::test]
async fn a_python_client_gets_the_demo_udp_echo() {
    let demo = Demo::start(&[]).await;
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(5)\n\
         s.sendto(b'from python', ('127.0.0.1', {}))\nprint(s.recvfrom(100)[0].decode())",
        demo.udp.port()
    );
    let python = support::peers::require("python3");
    let out = within(
        tokio::process::Command::new(python)
            .args(["-c", &script])
            .output(),
    )
    .await
    .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "from python");
}

#[tokio::test]
async fn lines_too_long_for_a_datagram_are_reported_and_the_next_lines_still_go() {
    let demo = Demo::start(&[]).await;
    let target = demo.udp.to_string();
    // Longer than any datagram (refused before sending), then longer than an
    // IPv4 datagram (refused by the system), then a line that goes.
    let mut input = vec![b'x'; 70_000];
    input.push(b'\n');
    input.extend(std::iter::repeat_n(b'y', 65_510));
    input.extend_from_slice(b"\nafter\n");
    let out = converse(&["udp", &target, "--wait", "0", "--lines"], &input, |out| {
        out.ends_with(b"after\n")
    })
    .await;
    assert_eq!(out.status.code(), Some(1), "lines were not sent");
    assert_eq!(
        text(&out.stdout),
        "after\n",
        "the next line went and came back"
    );
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line per line not sent: {stderr}");
    assert!(
        lines[0].starts_with("aleph: line 1 (70000 bytes) not sent: longer than"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("aleph: line 2 (65510 bytes) not sent: ")
            && lines[1].contains("Message too long"),
        "{stderr}"
    );
}

#[tokio::test]
async fn only_replies_from_the_peer_are_printed_unless_any_peer() {
    for any_peer in [false, true] {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = server.local_addr().unwrap().to_string();
        let mut args = vec!["udp", &target, "--wait", "0", "--lines"];
        if any_peer {
            args.push("--any-peer");
        }
        let mut child = aleph(&args).stderr(Stdio::inherit()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n").await.unwrap();
        let mut buf = [0u8; 100];
        let (n, client) = within(server.recv_from(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        // The stranger's datagram is queued first, so once the peer's reply
        // is printed the stranger's has been seen too.
        stranger.send_to(b"from a stranger", client).await.unwrap();
        server.send_to(b"from the peer", client).await.unwrap();

        let mut stdout = child.stdout.take().unwrap();
        let mut printed = Vec::new();
        while !text(&printed).contains("from the peer") {
            let mut chunk = [0u8; 256];
            let n = within(stdout.read(&mut chunk)).await.unwrap();
            assert_ne!(n, 0, "stdout ended early: {:?}", text(&printed));
            printed.extend_from_slice(&chunk[..n]);
        }
        drop(stdin);
        within(stdout.read_to_end(&mut printed)).await.unwrap();
        let status = within(child.wait()).await.unwrap();
        assert_eq!(status.code(), Some(0));
        assert_eq!(
            text(&printed).contains("from a stranger"),
            any_peer,
            "any_peer {any_peer}: {:?}",
            text(&printed)
        );
    }
}

#[tokio::test]
async fn aleph_udp_takes_fractional_durations_and_refuses_bad_ones() {
    let demo = Demo::start(&[]).await;
    let target = demo.udp.to_string();
    let out = run_aleph(
        &["udp", &target, "--wait", "0.25", "--connect-timeout", "1.5"],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for bad in [
        ["--wait", "-1"],
        ["--wait", "x"],
        ["--connect-timeout", "0"],
    ] {
        let out = run_aleph(&["udp", &target, bad[0], bad[1]], b"").await;
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(text(&out.stderr).contains(bad[0]), "{}", text(&out.stderr));
    }
}

#[tokio::test]
async fn aleph_udp_to_an_unknown_host_fails_with_one_line_naming_it() {
    let out = run_aleph(&["udp", "nonexistent.invalid:9"], b"hi\n").await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.contains("cannot resolve nonexistent.invalid"),
        "{line}"
    );
}

#[tokio::test]
async fn aleph_udp_help_and_demo_help_list_their_options() {
    let help = run_aleph(&["udp", "--help"], b"").await;
    let help = text(&help.stdout);
    for flag in ["--wait", "--lines", "--any-peer", "--connect-timeout"] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    let help = run_aleph(&["demo", "--help"], b"").await;
    let help = text(&help.stdout);
    for flag in ["--udp-port", "--host", "--cert-out", "--shutdown-timeout"] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
}
