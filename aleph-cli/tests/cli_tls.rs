//! TLS trust from the command line: `demo --tls` shows and writes out its
//! certificate, `tcp --tls --cacert FILE` trusts it, and a refused
//! certificate is explained in plain words with what to do about it.

mod support;

use aleph::stream::{self, ConnectOptions};
use aleph::tcp::{self, TcpServerOptions};
use aleph::tls::{Identity, ServerTls, ServerTlsOptions};
use aleph::Server;
use support::peers::{self, TempDir};
use support::{one_line, run_aleph, text, within, Demo};

const HINT: &str = "to trust the server's certificate, give it with --cacert FILE; to skip \
                    verification (for testing only), use --insecure";

/// An echo server on 127.0.0.1 that shows `identity`.
async fn tls_echo(identity: Identity) -> Server {
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(identity),
        ..Default::default()
    })
    .unwrap();
    tcp::start_server(
        |conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            tls: Some(tls),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn demo_certificate_written_with_cert_out_is_trusted_with_cacert() {
    let dir = TempDir::new("cli-cert-out");
    let pem = dir.join("demo.pem");
    let mut demo = Demo::start(&["--tls", "--cert-out", pem.to_str().unwrap()]).await;

    // The fingerprint the demo prints is the one openssl computes from the file.
    let printed = demo
        .wait_for(support::Out::Stdout, "certificate SHA-256 fingerprint ")
        .await;
    let printed = printed.rsplit(' ').next().unwrap().to_owned();
    let openssl = peers::require("openssl");
    let x509 = within(
        tokio::process::Command::new(openssl)
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&pem)
            .output(),
    )
    .await
    .unwrap();
    assert!(x509.status.success(), "{}", text(&x509.stderr));
    let computed = text(&x509.stdout);
    let computed = computed.trim().rsplit('=').next().unwrap();
    assert_eq!(printed, computed);
    assert_eq!(printed.len(), 32 * 3 - 1, "32 bytes as XX:XX:...");

    let port = demo.tcp.port();
    for target in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let out = run_aleph(
            &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
            b"trusted\n",
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{target}: {}",
            text(&out.stderr)
        );
        assert_eq!(out.stdout, b"trusted\n");
    }
    demo.signal("TERM");
    assert_eq!(demo.exit().await.code(), Some(0));
}

#[tokio::test]
async fn a_self_signed_server_is_named_as_such_with_the_way_out() {
    let demo = Demo::start(&["--tls"]).await;
    let out = run_aleph(&["tcp", "--tls", &demo.tcp.to_string()], b"").await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert_eq!(
        line,
        format!(
            "aleph: TLS handshake with {} failed: its certificate is self-signed and not \
             trusted here (UnknownIssuer); {HINT}",
            demo.tcp
        )
    );
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_named_as_such() {
    let identity = Identity::self_signed(&["example.test"]).unwrap();
    let dir = TempDir::new("cli-wrong-name");
    let pem = dir.write("server.pem", identity.certificate_pem());
    let server = tls_echo(identity).await;
    let target = format!("127.0.0.1:{}", server.port());
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert_eq!(
        line,
        format!(
            "aleph: TLS handshake with {target} failed: its certificate is for example.test, \
             not for 127.0.0.1 (wrong host name); {INSECURE_HINT}"
        )
    );
    within(server.close()).await;
}

#[tokio::test]
async fn an_expired_certificate_is_named_as_such() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    let identity =
        Identity::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let dir = TempDir::new("cli-expired");
    let pem = dir.write("server.pem", cert.pem());
    let server = tls_echo(identity).await;
    let target = format!("127.0.0.1:{}", server.port());
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.contains("its certificate expired on 2001-01-01 00:00:00 UTC"),
        "{line}"
    );
    assert!(line.contains("(expired)"), "{line}");
    assert!(line.ends_with(INSECURE_HINT), "{line}");
    assert!(!line.contains("--cacert"), "{line}");
    within(server.close()).await;
}

#[tokio::test]
async fn an_unusable_cacert_file_fails_with_one_line_naming_it() {
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", "/no/such/ca.pem", "127.0.0.1:9"],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.contains("cannot read --cacert /no/such/ca.pem"),
        "{line}"
    );

    let dir = TempDir::new("cli-bad-ca");
    let junk = dir.write("junk.pem", "not a certificate");
    let out = run_aleph(
        &[
            "tcp",
            "--tls",
            "--cacert",
            junk.to_str().unwrap(),
            "127.0.0.1:9",
        ],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.contains(&format!("--cacert {}", junk.display())),
        "{line}"
    );
}

#[tokio::test]
async fn cacert_needs_tls_and_excludes_insecure() {
    for args in [
        &["tcp", "--cacert", "ca.pem", "127.0.0.1:9"][..],
        &[
            "tcp",
            "--tls",
            "--insecure",
            "--cacert",
            "ca.pem",
            "127.0.0.1:9",
        ][..],
        &["demo", "--cert-out", "demo.pem"][..],
    ] {
        let out = run_aleph(args, b"").await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("Usage"), "{}", text(&out.stderr));
    }
}

/// A certificate authority called `ca_name` and a server certificate it
/// issued for `name`.
fn ca_and_server(ca_name: &str, name: &str) -> (String, Identity) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let identity =
        Identity::from_pem(leaf.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    (ca.pem(), identity)
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_authority_is_named_as_such() {
    let (_, identity) = ca_and_server("the server's CA", "127.0.0.1");
    let (other_ca, _) = ca_and_server("another CA", "127.0.0.1");
    let dir = TempDir::new("cli-unknown-ca");
    let pem = dir.write("other-ca.pem", other_ca);
    let server = tls_echo(identity).await;
    let target = format!("127.0.0.1:{}", server.port());
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert_eq!(
        line,
        format!(
            "aleph: TLS handshake with {target} failed: its certificate was issued by an \
             authority that is not trusted here (UnknownIssuer); {HINT}"
        )
    );
    within(server.close()).await;
}

#[tokio::test]
async fn a_certificate_from_a_trusted_authority_is_accepted() {
    let (ca, identity) = ca_and_server("a CA", "127.0.0.1");
    let dir = TempDir::new("cli-known-ca");
    let pem = dir.write("ca.pem", ca);
    let server = tls_echo(identity).await;
    let target = format!("127.0.0.1:{}", server.port());
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
        b"via a CA\n",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"via a CA\n");
    within(server.close()).await;
}

#[tokio::test]
async fn a_certificate_signed_by_another_key_of_the_trusted_name_is_named_as_such() {
    // A CA regenerated under the same name: the client finds the authority
    // by name, and its key does not match the signature.
    let (_, identity) = ca_and_server("the CA", "127.0.0.1");
    let (regenerated, _) = ca_and_server("the CA", "127.0.0.1");
    let dir = TempDir::new("cli-same-name-ca");
    let pem = dir.write("ca.pem", regenerated);
    let server = tls_echo(identity).await;
    let target = format!("127.0.0.1:{}", server.port());
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.contains(
            "its certificate is signed with another key than the trusted authority of that \
             name holds (BadSignature)"
        ),
        "{line}"
    );
    within(server.close()).await;
}

#[tokio::test]
async fn a_stale_cacert_for_a_regenerated_self_signed_server_says_self_signed() {
    // As after a restart of `aleph demo --tls` with the last run's --cert-out.
    let stale = Identity::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let fresh = Identity::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let dir = TempDir::new("cli-stale-cert");
    let pem = dir.write("demo.pem", stale.certificate_pem());
    let server = tls_echo(fresh).await;
    let target = format!("127.0.0.1:{}", server.port());
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(
        line.contains("its certificate is self-signed and not trusted here"),
        "{line}"
    );
    within(server.close()).await;
}

/// What a refusal that trusting the certificate cannot cure suggests.
const INSECURE_HINT: &str = "to skip verification (for testing only), use --insecure";

/// A self-signed certificate for 127.0.0.1 made by `openssl req -x509` with
/// `extra` arguments, its key, and the server showing it.
async fn openssl_self_signed(dir: &TempDir, extra: &[&str]) -> (std::path::PathBuf, Server) {
    let cert = dir.join("server.pem");
    let key = dir.join("server.key");
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let made = peers::run("openssl", &args, b"").await;
    assert!(made.status.success(), "{}", text(&made.stderr));
    let identity = Identity::from_pem_files(&cert, &key).unwrap();
    (cert, tls_echo(identity).await)
}

#[tokio::test]
async fn a_trusted_certificate_with_a_refused_signature_algorithm_is_not_called_untrusted() {
    // SHA-1: the certificate is the one --cacert trusts, but its signature
    // cannot be checked. Trusting it again would not help.
    let dir = TempDir::new("cli-sha1");
    let (pem, server) = openssl_self_signed(
        &dir,
        &["-sha1", "-addext", "basicConstraints=critical,CA:FALSE"],
    )
    .await;
    let target = format!("127.0.0.1:{}", server.port());
    let out = run_aleph(
        &["tcp", "--tls", "--cacert", pem.to_str().unwrap(), &target],
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = one_line(&out.stderr);
    assert!(!line.contains("not trusted"), "{line}");
    assert!(line.contains("(unsupported signature algorithm)"), "{line}");
    assert!(line.ends_with(INSECURE_HINT), "{line}");
    assert!(!line.contains("--cacert"), "{line}");
    within(server.close()).await;
}

#[tokio::test]
async fn a_ca_certificate_serving_as_the_servers_own_is_named_as_such() {
    // `openssl req -x509` marks its certificates CA:TRUE by default, which
    // webpki refuses for a server, trusted or not.
    let dir = TempDir::new("cli-ca-as-leaf");
    let (pem, server) =
        openssl_self_signed(&dir, &["-addext", "basicConstraints=critical,CA:TRUE"]).await;
    let target = format!("127.0.0.1:{}", server.port());
    for trusted in [true, false] {
        let mut args = vec!["tcp", "--tls"];
        if trusted {
            args.extend(["--cacert", pem.to_str().unwrap()]);
        }
        args.push(&target);
        let out = run_aleph(&args, b"").await;
        assert_eq!(out.status.code(), Some(1));
        let line = one_line(&out.stderr);
        assert_eq!(
            line,
            format!(
                "aleph: TLS handshake with {target} failed: its certificate is a CA \
                 certificate (basic constraints CA:TRUE), which a server cannot present as \
                 its own (CaUsedAsEndEntity); {INSECURE_HINT}"
            ),
            "trusted: {trusted}"
        );
    }
    within(server.close()).await;
}
