//! `aleph get`, `aleph post` and `aleph request` against `aleph demo`'s
//! httpbin-like endpoints and against nginx (HTTP/1.1, h2c, and HTTP/2 or
//! HTTP/1.1 over TLS with a test CA), with curl's conventions and the
//! command's exit statuses: 0 done, 1 a failure or a status of 400 or more
//! (told in one line on stderr), 2 a usage error.

mod support;

use support::peers::{Certs, Nginx, TempDir};
use support::{one_line, run_aleph, text, Demo};

fn url(demo: &Demo, path: &str) -> String {
    format!("http://{}{path}", demo.http)
}

#[tokio::test]
async fn get_writes_the_body_and_exits_0() {
    let demo = Demo::start(&[]).await;
    let out = run_aleph(&["get", &url(&demo, "/")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"hello!");
    assert_eq!(text(&out.stderr), "");
    let out = run_aleph(&["get", &url(&demo, "/bytes/100000")], b"").await;
    assert_eq!(out.stdout.len(), 100_000);
}

#[tokio::test]
async fn include_prints_the_head_first_and_verbose_both_heads_on_stderr() {
    let demo = Demo::start(&[]).await;
    let out = run_aleph(&["get", "-i", &url(&demo, "/")], b"").await;
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout:?}");
    assert!(stdout.contains("\r\ncontent-length: 6\r\n"), "{stdout:?}");
    assert!(stdout.ends_with("\r\n\r\nhello!"), "{stdout:?}");

    let out = run_aleph(&["get", "-v", &url(&demo, "/?a=1")], b"").await;
    assert_eq!(out.stdout, b"hello!");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("> GET /?a=1 HTTP/1.1\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("> host: {}\n", demo.http)),
        "{stderr}"
    );
    assert!(stderr.contains("> user-agent: aleph/"), "{stderr}");
    assert!(stderr.contains("< HTTP/1.1 200 OK\n"), "{stderr}");
    assert!(stderr.contains("< content-length: 6\n"), "{stderr}");
}

#[tokio::test]
async fn a_status_of_400_or_more_writes_the_body_names_the_status_and_exits_1() {
    let demo = Demo::start(&[]).await;
    let target = url(&demo, "/nowhere");
    let out = run_aleph(&["get", &target], b"").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("no such endpoint"));
    assert_eq!(
        one_line(&out.stderr),
        format!("aleph: status 404 Not Found from {target}")
    );
    let out = run_aleph(&["get", "--no-fail", "-i", &url(&demo, "/status/503")], b"").await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
}

#[tokio::test]
async fn post_sends_data_json_and_forms_with_their_content_types() {
    let demo = Demo::start(&[]).await;
    let echo = url(&demo, "/echo");
    let request = url(&demo, "/request");
    let out = run_aleph(&["post", "--data", "a=1&b=2", &echo], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"a=1&b=2");
    let out = run_aleph(&["post", "--data", "x", &request], b"").await;
    let seen = text(&out.stdout);
    assert!(seen.contains(r#""request_method":"post""#), "{seen}");
    assert!(
        seen.contains(r#""content-type":["application/x-www-form-urlencoded"]"#),
        "{seen}"
    );
    let out = run_aleph(
        &[
            "post",
            "--data",
            "x",
            "-H",
            "Content-Type: text/plain",
            &request,
        ],
        b"",
    )
    .await;
    let seen = text(&out.stdout);
    assert!(seen.contains(r#""content-type":["text/plain"]"#), "{seen}");

    let out = run_aleph(&["post", "--json", r#"{"n": [1, 2]}"#, &request], b"").await;
    let seen = text(&out.stdout);
    assert!(
        seen.contains(r#""content-type":["application/json"]"#),
        "{seen}"
    );
    assert!(seen.contains(r#""accept":["application/json"]"#), "{seen}");
    let out = run_aleph(&["post", "--json", r#"{"n": [1, 2]}"#, &echo], b"").await;
    assert_eq!(out.stdout, br#"{"n": [1, 2]}"#);

    let out = run_aleph(&["post", "--form", "k=v w", "--form", "k=2&", &echo], b"").await;
    assert_eq!(text(&out.stdout), "k=v+w&k=2%26");
}

#[tokio::test]
async fn data_from_a_file_or_stdin_is_streamed_whole() {
    let demo = Demo::start(&[]).await;
    let dir = TempDir::new("cli-data");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let file = dir.write("body.bin", &body);
    let arg = format!("@{}", file.display());
    let out = run_aleph(&["post", "--data", &arg, &url(&demo, "/echo")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout == body, "{} bytes came back", out.stdout.len());
    let out = run_aleph(
        &["request", "-X", "PUT", "--data", "@-", &url(&demo, "/echo")],
        b"from stdin",
    )
    .await;
    assert_eq!(out.stdout, b"from stdin");
    let out = run_aleph(
        &["post", "--data", "@/no/such/file", &url(&demo, "/echo")],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line(&out.stderr).contains("cannot read --data @/no/such/file"));
}

#[tokio::test]
async fn request_takes_any_method() {
    let demo = Demo::start(&[]).await;
    let out = run_aleph(&["request", "-X", "DELETE", &url(&demo, "/request")], b"").await;
    assert!(text(&out.stdout).contains(r#""request_method":"delete""#));
    let out = run_aleph(&["request", "-X", "HEAD", "-i", &url(&demo, "/")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout:?}");
    assert!(
        stdout.ends_with("\r\n\r\n"),
        "no body after the head: {stdout:?}"
    );
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &["get", "http://h/", "-H", "X: a\r\nEvil: 1"],
        &["get", "http://h/", "-H", "X: a\nb"],
        &["get", "http://h/", "-H", "no colon"],
        &["post", "http://h/", "--json", "{not json}"],
        &["post", "http://h/", "--data", "a", "--json", "{}"],
        &["post", "http://h/", "--form", "novalue"],
        &["get", "ftp://h/"],
        &["get", "h/path"],
        &["get", "http://h/", "--max-time", "-1"],
        &["get", "http://h/", "--connect-timeout", "soon"],
        &["request", "http://h/"],
        &["request", "-X", "BAD METHOD", "http://h/"],
        &["get", "--data", "x", "http://h/"],
    ];
    for args in cases {
        let out = run_aleph(args, b"").await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).starts_with("error: "), "{args:?}");
    }
}

#[tokio::test]
async fn output_to_a_file_streams_there_without_a_progress_bar_in_a_pipe() {
    let demo = Demo::start(&[]).await;
    let dir = TempDir::new("cli-out");
    let path = dir.join("got.bin");
    let out = run_aleph(
        &[
            "get",
            "-o",
            path.to_str().unwrap(),
            &url(&demo, "/bytes/1000000"),
        ],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        out.stderr, b"",
        "no progress bar when stderr is not a terminal"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1_000_000);
}

#[tokio::test]
async fn each_timeout_names_itself() {
    let demo = Demo::start(&[]).await;
    let out = run_aleph(
        &["get", "--header-timeout", "0.2", &url(&demo, "/delay/5000")],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(line.contains("response headers timeout (200ms)"), "{line}");

    let out = run_aleph(
        &["get", "--max-time", "0.3", &url(&demo, "/delay/5000")],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(line.contains("request timeout (300ms)"), "{line}");

    let out = run_aleph(
        &[
            "get",
            "--read-timeout",
            "0.2",
            &url(&demo, "/stream?n=3&ms=2000"),
        ],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        out.stdout, b"chunk 0\n",
        "what came before the silence is written"
    );
    let line = one_line(&out.stderr);
    assert!(line.contains("read timeout (200ms)"), "{line}");
}

#[tokio::test]
async fn a_refused_connection_is_one_line_and_exit_1() {
    let port = support::peers::free_port();
    let out = run_aleph(&["get", &format!("http://127.0.0.1:{port}/")], b"").await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
}

#[tokio::test]
async fn get_fetches_from_nginx_over_http11_h2c_and_tls_h2() {
    let certs = Certs::generate().await;
    let nginx = Nginx::start(&certs, &[("file.txt", b"static file\n")]).await;
    let out = run_aleph(&["get", "-i", &nginx.http_url("/file.txt")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout:?}");
    assert!(stdout.contains("server: nginx"), "{stdout:?}");
    assert!(stdout.ends_with("\r\n\r\nstatic file\n"), "{stdout:?}");

    let out = run_aleph(&["get", "-i", "--http2", &nginx.h2c_url("/file.txt")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("HTTP/2 200\r\n"), "{stdout:?}");
    assert!(stdout.ends_with("static file\n"), "{stdout:?}");

    let ca = certs.ca();
    let ca = ca.to_str().unwrap();
    let https = nginx.https_url("/file.txt");
    let out = run_aleph(&["get", "-i", "--http2", "--cacert", ca, &https], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("HTTP/2 200\r\n"));
    let out = run_aleph(&["get", "-i", "--cacert", ca, &https], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("HTTP/1.1 200 OK\r\n"));

    let log = nginx.access_log();
    assert!(log.contains("HTTP/1.1 GET /file.txt 200"), "{log}");
    assert!(log.contains("HTTP/2.0 GET /file.txt 200"), "{log}");
}

#[tokio::test]
async fn tls_needs_a_trusted_certificate_or_insecure() {
    let certs = Certs::generate().await;
    let nginx = Nginx::start(&certs, &[]).await;
    let https = nginx.https_url("/plain");
    let out = run_aleph(&["get", &https], b"").await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.contains("--cacert"),
        "the hint names the way out: {line}"
    );
    let out = run_aleph(&["get", "--insecure", &https], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"hello from nginx\n");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let certs = Certs::generate().await;
    let nginx = Nginx::start(&certs, &[]).await;
    let out = run_aleph(&["get", &nginx.http_url("/redirect")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"hello from nginx\n");
    let out = run_aleph(&["get", &nginx.http_url("/loop")], b"").await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(line.contains("too many redirects (10)"), "{line}");
    let loops = nginx.access_log().matches("GET /loop 302").count();
    assert_eq!(loops, 11, "the first request and 10 redirects");
    let out = run_aleph(
        &[
            "get",
            "-i",
            "--max-redirects",
            "0",
            &nginx.http_url("/redirect"),
        ],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("HTTP/1.1 302 Found\r\n"));
}

#[tokio::test]
async fn bodies_nginx_compresses_come_out_decoded_unless_asked_for_as_they_are() {
    let certs = Certs::generate().await;
    let plain = "a line of text that gzip shrinks nicely\n".repeat(2000);
    let nginx = Nginx::start(&certs, &[("text.txt", plain.as_bytes())]).await;
    let out = run_aleph(&["get", "-i", &nginx.http_url("/text.txt")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (head, body) = stdout.split_once("\r\n\r\n").unwrap();
    assert!(!head.contains("content-encoding"), "{head}");
    assert!(body == plain, "{} bytes of body", body.len());
    let log = nginx.access_log();
    assert!(log.contains("GET /text.txt 200"), "{log}");

    let out = run_aleph(
        &[
            "get",
            "-H",
            "Accept-Encoding: gzip",
            &nginx.http_url("/text.txt"),
        ],
        b"",
    )
    .await;
    assert_eq!(&out.stdout[..2], b"\x1f\x8b", "the gzip stream as sent");
    assert!(out.stdout.len() < plain.len() / 10);
}

#[tokio::test]
async fn redirects_after_post_keep_or_drop_the_body_as_curl_does() {
    let certs = Certs::generate().await;
    let nginx = Nginx::start(&certs, &[]).await;
    let demo = Demo::start(&[]).await;
    let dir = TempDir::new("cli-307");
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let file = dir.write("body.bin", &body);
    let data = format!("@{}", file.display());

    let to = |code: &str, path: &str| nginx.http_url(&format!("/{code}to?to={}", url(&demo, path)));
    let out = run_aleph(&["post", "--data", &data, &to("307", "/echo")], b"").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stdout == body,
        "307 sent the file again: {} bytes",
        out.stdout.len()
    );

    for code in ["302", "303"] {
        let out = run_aleph(&["post", "--data", "x=1", &to(code, "/request")], b"").await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let seen = text(&out.stdout);
        assert!(seen.contains(r#""request_method":"get""#), "{code}: {seen}");
    }

    // nginx and the demo are different origins (ports): no credentials follow.
    let out = run_aleph(
        &[
            "get",
            "-H",
            "Authorization: Bearer s3cret",
            &to("302", "/request"),
        ],
        b"",
    )
    .await;
    let seen = text(&out.stdout);
    assert!(seen.contains(r#""request_method":"get""#), "{seen}");
    assert!(!seen.contains("s3cret"), "{seen}");
    assert!(!seen.contains("authorization"), "{seen}");
}

#[tokio::test]
async fn a_connect_timeout_names_itself() {
    // A listener whose accept queue is full (backlog 0, one connection
    // waiting, never accepted): the kernel drops further SYNs, so a connect
    // neither succeeds nor fails.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(stream) =
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
        {
            fillers.push(stream);
        }
    }
    let out = run_aleph(
        &[
            "get",
            "--connect-timeout",
            "0.3",
            &format!("http://{addr}/"),
        ],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(line.contains("timed out after 300ms"), "{line}");
    assert!(line.contains(&addr.to_string()), "{line}");
    drop(socket);
}

#[tokio::test]
async fn the_progress_bar_shows_on_a_terminal() {
    // `script` gives the command a terminal for stdin, stdout and stderr.
    support::peers::require("script");
    let demo = Demo::start(&[]).await;
    let dir = TempDir::new("cli-tty");
    let path = dir.join("got.txt");
    let command = format!(
        "{} get -o {} '{}'",
        env!("CARGO_BIN_EXE_aleph"),
        path.display(),
        url(&demo, "/stream?n=4&ms=300")
    );
    let out = support::peers::run("script", ["-qec", &command, "/dev/null"], b"").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let terminal = text(&out.stdout);
    assert!(
        terminal.contains("B/s"),
        "a rate on the terminal: {terminal:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "chunk 0\nchunk 1\nchunk 2\nchunk 3\n"
    );
}

#[tokio::test]
async fn an_endless_body_is_written_as_it_comes() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let demo = Demo::start(&[]).await;
    // /events never ends: what is printed before the end can only have
    // been written as it came.
    let mut child = support::aleph(&["get", &url(&demo, "/events?ms=50")])
        .spawn()
        .expect("the aleph binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    while !seen.iter().any(|line: &String| line == "id: 1") {
        let line = support::within(lines.next_line()).await.unwrap();
        seen.push(line.expect("the stream goes on"));
    }
    assert!(
        seen.iter().any(|line| line.starts_with("data: ")),
        "{seen:?}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_reader_that_goes_away_ends_get_quietly_with_0() {
    let demo = Demo::start(&[]).await;
    let script = format!(
        "\"$ALEPH\" get '{}' | head -c 5 >/dev/null; echo \"status ${{PIPESTATUS[0]}}\"",
        url(&demo, "/bytes/50000000")
    );
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-c", &script])
        .env("ALEPH", env!("CARGO_BIN_EXE_aleph"))
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = support::run(command, b"").await;
    assert_eq!(text(&out.stdout), "status 0\n");
    assert_eq!(text(&out.stderr), "");
}
