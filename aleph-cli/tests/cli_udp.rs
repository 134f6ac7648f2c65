//! `aleph demo`'s UDP echo and `aleph udp`, end to end.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ALEPH: &str = env!("CARGO_BIN_EXE_aleph");

/// The demo on free ports; killed on drop.
struct Demo {
    child: Child,
    udp_port: u16,
    /// Kept open: the demo prints more, and a closed pipe would end it.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Demo {
    fn start() -> Demo {
        let mut child = Command::new(ALEPH)
            .args(["demo", "--tcp-port", "0", "--udp-port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the aleph binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let udp_port = loop {
            let line = lines
                .next()
                .expect("the demo prints its addresses before anything else")
                .expect("readable stdout");
            if let Some(addr) = line.strip_prefix("udp echo listening on ") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        Demo {
            child,
            udp_port,
            _stdout: lines,
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `aleph udp ...` with `input` on stdin, bounded in time.
fn aleph_udp(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(ALEPH)
        .arg("udp")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aleph binary starts");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "aleph udp did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn aleph_udp_lines_come_back_from_the_demo_echo() {
    let demo = Demo::start();
    let target = format!("127.0.0.1:{}", demo.udp_port);
    let out = aleph_udp(&[&target, "--wait", "0.5"], b"one\ntwo\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = printed.lines().collect();
    lines.sort();
    assert_eq!(lines, ["one", "two"]);
}

#[test]
fn a_python_client_gets_the_demo_udp_echo() {
    let demo = Demo::start();
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(5)\n\
         s.sendto(b'from python', ('127.0.0.1', {}))\nprint(s.recvfrom(100)[0].decode())",
        demo.udp_port
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs: install it with scripts/install-test-peers.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "from python");
}

#[test]
fn an_oversized_line_fails_with_one_line_saying_why() {
    let demo = Demo::start();
    let target = format!("127.0.0.1:{}", demo.udp_port);
    let mut line = vec![b'x'; 70_000];
    line.push(b'\n');
    let out = aleph_udp(&[&target, "--wait", "0"], &line);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("70000 bytes"), "{stderr}");
}

#[test]
fn aleph_udp_help_and_demo_help_list_their_options() {
    let help = Command::new(ALEPH)
        .args(["udp", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--wait"));
    let help = Command::new(ALEPH)
        .args(["demo", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--udp-port"));
}
