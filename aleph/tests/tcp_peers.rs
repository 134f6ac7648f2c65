//! aleph's TCP and TLS against peers it did not write: Python's `socket` and
//! `ssl` modules and `openssl s_client`, as clients of our servers and as
//! servers for our client, with certificates made by `openssl`. The peers are
//! installed by `scripts/install-test-peers.sh`; a missing one fails the test.

mod support;

use std::ffi::OsStr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aleph::bytes::{self, Bytes};
use aleph::stream::{self, ConnectOptions, Duplex};
use aleph::tcp::{self, ConnectionInfo, TcpClientOptions, TcpServerOptions};
use aleph::tls::{
    ClientAuth, ClientTls, ClientTlsOptions, Identity, ServerTls, ServerTlsOptions, TrustRoots,
};
use aleph::Server;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use support::peers::{self, Certs, TempDir};
use support::{eventually, within};

type Conn = Duplex<Bytes, Bytes>;

/// The seed's echo server, reporting each connection's info on `infos`.
async fn echo_server(
    tls: Option<ServerTls>,
    infos: mpsc::UnboundedSender<ConnectionInfo>,
) -> Server {
    tcp::start_server(
        move |conn: Conn, info: ConnectionInfo| {
            let _ = infos.send(info);
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            tls,
            ..Default::default()
        },
    )
    .await
    .expect("the echo server starts")
}

/// Text of many lines, large enough to take several reads.
fn text(lines: usize) -> Vec<u8> {
    (0..lines)
        .map(|i| format!("line {i}: the quick brown fox jumps over the lazy dog\n"))
        .collect::<String>()
        .into_bytes()
}

/// `openssl s_client` connected to `port`, its stdin and stdout piped.
struct SClient {
    child: tokio::process::Child,
}

impl SClient {
    fn start(port: u16, extra: &[&OsStr]) -> SClient {
        let openssl = peers::require("openssl");
        let connect = format!("127.0.0.1:{port}");
        let child = tokio::process::Command::new(openssl)
            .args(["s_client", "-connect", &connect, "-servername", "localhost"])
            .args([
                "-verify_return_error",
                "-verify_hostname",
                "localhost",
                "-quiet",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start openssl s_client: {e} (run {})",
                    peers::INSTALL
                )
            });
        SClient { child }
    }

    /// Writes `line`, then reads until it comes back (or s_client ends,
    /// returning what it printed).
    async fn echo(&mut self, line: &str) -> String {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
        let stdout = self.child.stdout.as_mut().expect("stdout is piped");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(line) {
            match within(stdout.read(&mut buf)).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    }

    /// What s_client printed on stderr, once it has ended.
    async fn stderr(mut self) -> String {
        drop(self.child.stdin.take());
        let _ = within(self.child.wait()).await;
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = within(stderr.read_to_string(&mut text)).await;
        }
        text
    }
}

// ---- third-party clients against our servers ----------------------------------------

#[tokio::test]
async fn a_python_socket_client_gets_everything_back_from_our_echo_server() {
    let (infos, _) = mpsc::unbounded_channel();
    let server = echo_server(None, infos).await;
    let data = text(2000);
    let back = peers::python_client(server.local_addr().unwrap(), &[], &data).await;
    assert_eq!(
        back.len(),
        data.len(),
        "half close: everything sent comes back before EOF"
    );
    assert!(back == data);
    within(server.close()).await;
}

#[tokio::test]
async fn a_python_ssl_client_trusting_our_self_signed_certificate_gets_an_echo() {
    let identity = Identity::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let dir = TempDir::new("pyssl");
    let ca = dir.write("server.pem", identity.certificate_pem());
    let (infos, mut infos_rx) = mpsc::unbounded_channel();
    let server = echo_server(Some(tls_serving(identity)), infos).await;

    let data = text(500);
    let extra = [
        OsStr::new("--cafile"),
        ca.as_os_str(),
        OsStr::new("--server-name"),
        OsStr::new("localhost"),
    ];
    let back = peers::python_client(server.local_addr().unwrap(), &extra, &data).await;
    assert!(back == data, "{} bytes back for {}", back.len(), data.len());
    let tls = within(infos_rx.recv())
        .await
        .unwrap()
        .tls
        .expect("a TLS session");
    assert_eq!(
        tls.server_name.as_deref(),
        Some("localhost"),
        "Python sent SNI"
    );
    within(server.close()).await;
}

#[tokio::test]
async fn openssl_s_client_gets_an_echo_from_our_tls_server() {
    let identity = Identity::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let dir = TempDir::new("s_client");
    let ca = dir.write("server.pem", identity.certificate_pem());
    let (infos, _) = mpsc::unbounded_channel();
    let server = echo_server(Some(tls_serving(identity)), infos).await;

    let mut client = SClient::start(server.port(), &[OsStr::new("-CAfile"), ca.as_os_str()]);
    let echoed = client.echo("hello from openssl s_client\n").await;
    assert!(
        echoed.contains("hello from openssl s_client\n"),
        "s_client printed {echoed:?}; stderr: {}",
        client.stderr().await
    );
    drop(client);
    eventually("s_client's connection ends", || server.connections() == 0).await;
    within(server.close()).await;
}

fn tls_serving(identity: Identity) -> ServerTls {
    ServerTls::new(ServerTlsOptions {
        identity: Some(identity),
        ..Default::default()
    })
    .unwrap()
}

// ---- mutual TLS with certificates made by openssl -----------------------------------

/// Our TLS echo server with the openssl-made server certificate, requiring
/// client certificates signed by the openssl-made CA. Each handler call
/// reports the client's certificate chain.
async fn mutual_tls_server(
    certs: &Certs,
    calls: &Arc<AtomicUsize>,
) -> (
    Server,
    mpsc::UnboundedReceiver<Vec<CertificateDer<'static>>>,
) {
    let ca = std::fs::read(certs.ca()).unwrap();
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(Identity::from_pem_files(certs.server_chain(), certs.server_key()).unwrap()),
        client_auth: ClientAuth::Required(TrustRoots::Pem(ca)),
        ..Default::default()
    })
    .unwrap();
    let (chains_tx, chains_rx) = mpsc::unbounded_channel();
    let calls = calls.clone();
    let server = tcp::start_server(
        move |conn: Conn, info: ConnectionInfo| {
            calls.fetch_add(1, Ordering::SeqCst);
            let chain = info
                .tls
                .map(|tls| tls.peer_certificates)
                .unwrap_or_default();
            let _ = chains_tx.send(chain);
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            tls: Some(tls),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (server, chains_rx)
}

fn leaf_der(path: &std::path::Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

#[tokio::test]
async fn mutual_tls_gives_the_handler_the_certificate_openssl_s_client_sent() {
    let certs = Certs::generate().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (server, mut chains) = mutual_tls_server(&certs, &calls).await;

    let mut client = SClient::start(
        server.port(),
        &[
            OsStr::new("-CAfile"),
            certs.ca().as_os_str(),
            OsStr::new("-cert"),
            certs.client_cert().as_os_str(),
            OsStr::new("-key"),
            certs.client_key().as_os_str(),
        ],
    );
    let echoed = client.echo("mutual\n").await;
    assert!(
        echoed.contains("mutual\n"),
        "s_client printed {echoed:?}; stderr: {}",
        client.stderr().await
    );
    let chain = within(chains.recv()).await.unwrap();
    assert!(
        !chain.is_empty(),
        "the handler sees the client's certificate"
    );
    assert_eq!(
        chain[0],
        leaf_der(&certs.client_cert()),
        "the very certificate s_client sent"
    );
    drop(client);
    eventually("s_client's connection ends", || server.connections() == 0).await;
    within(server.close()).await;
}

#[tokio::test]
async fn mutual_tls_keeps_an_openssl_client_without_a_certificate_from_the_handler() {
    let certs = Certs::generate().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (server, _chains) = mutual_tls_server(&certs, &calls).await;

    let mut client = SClient::start(
        server.port(),
        &[OsStr::new("-CAfile"), certs.ca().as_os_str()],
    );
    // With TLS 1.3 the client finishes its side of the handshake before the
    // server refuses it, so s_client sends the line and then reads the alert.
    let echoed = client.echo("no certificate\n").await;
    let stderr = client.stderr().await;
    assert!(
        !echoed.contains("no certificate"),
        "echoed without a client certificate: {echoed:?}"
    );
    assert!(
        stderr.contains("alert"),
        "s_client reports the server's alert: {stderr}"
    );
    eventually("the refused handshake ends", || server.connections() == 0).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never ran");
    within(server.close()).await;
}

#[tokio::test]
async fn mutual_tls_with_our_client_and_an_openssl_made_client_certificate() {
    let certs = Certs::generate().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (server, mut chains) = mutual_tls_server(&certs, &calls).await;
    let ca = std::fs::read(certs.ca()).unwrap();

    let with_cert = ClientTls::new(ClientTlsOptions {
        roots: TrustRoots::Pem(ca.clone()),
        identity: Some(Identity::from_pem_files(certs.client_cert(), certs.client_key()).unwrap()),
        ..Default::default()
    })
    .unwrap();
    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(with_cert),
        ..TcpClientOptions::new("localhost", server.port())
    }))
    .await
    .unwrap();
    conn.send(Bytes::from("with a certificate")).await.unwrap();
    conn.close();
    assert_eq!(
        within(bytes::to_bytes(conn)).await.unwrap(),
        "with a certificate"
    );
    let chain = within(chains.recv()).await.unwrap();
    assert_eq!(chain.first(), Some(&leaf_der(&certs.client_cert())));

    // Without one: TLS 1.3 lets the client finish first, so the refusal shows
    // either in the handshake or as the connection's end with the server's alert.
    let without = ClientTls::new(ClientTlsOptions {
        roots: TrustRoots::Pem(ca),
        ..Default::default()
    })
    .unwrap();
    let refused = within(tcp::client(TcpClientOptions {
        tls: Some(without),
        ..TcpClientOptions::new("localhost", server.port())
    }))
    .await;
    match refused {
        Err(err) => assert!(err.is_tls(), "{:?}: {err}", err.kind()),
        Ok(conn) => {
            let _ = conn.send(Bytes::from("let me in")).await;
            assert_eq!(
                within(conn.recv()).await,
                None,
                "no echo without a certificate"
            );
            let err = conn
                .error()
                .expect("the connection ends with the server's alert");
            let chain = support::error_chain(&err);
            assert!(chain.contains("CertificateRequired"), "{chain}");
        }
    }
    eventually("the refused handshake ends", || server.connections() == 0).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the client with a certificate got in"
    );
    within(server.close()).await;
}

// ---- our client against third-party servers -----------------------------------------

#[tokio::test]
async fn our_client_gets_everything_back_from_a_python_echo_server() {
    let python = peers::python_echo_server().await;
    let conn = within(tcp::client(TcpClientOptions::new(
        "127.0.0.1",
        python.port(),
    )))
    .await
    .unwrap();
    let data = text(20_000);
    let sending = {
        let (conn, data) = (conn.clone(), data.clone());
        tokio::spawn(async move {
            for piece in data.chunks(30_000) {
                conn.send(Bytes::copy_from_slice(piece)).await.unwrap();
            }
            conn.close();
        })
    };
    let back = within(bytes::to_bytes(conn))
        .await
        .expect("the echo ends cleanly");
    within(sending).await.unwrap();
    assert_eq!(
        back.len(),
        data.len(),
        "half close: Python echoes the rest, then closes"
    );
    assert!(back == data);
}

#[tokio::test]
async fn our_tls_client_gets_an_echo_from_a_python_tls_server() {
    let certs = Certs::generate().await;
    let python = peers::python_tls_echo_server(&certs, false).await;
    let tls = ClientTls::trusting_pem(&std::fs::read(certs.ca()).unwrap()).unwrap();
    let (stream, info) = within(tcp::client_raw(TcpClientOptions {
        tls: Some(tls.clone()),
        ..TcpClientOptions::new("localhost", python.port())
    }))
    .await
    .unwrap();
    drop(stream);
    let session = info.tls.expect("a TLS session");
    assert_eq!(
        session.peer_certificates.len(),
        2,
        "Python sends the leaf and the CA"
    );

    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(tls),
        ..TcpClientOptions::new("localhost", python.port())
    }))
    .await
    .unwrap();
    let data = text(3000);
    let back = echo_then_close(&conn, &data).await;
    assert!(back == data, "{} bytes back for {}", back.len(), data.len());
}

/// Sends `data` and reads its echo before closing: Python's asyncio TLS
/// takes a close_notify for a full close and drops what it has yet to
/// write, so a half-closing client would lose the tail of the echo.
async fn echo_then_close(conn: &Conn, data: &[u8]) -> Vec<u8> {
    let sending = {
        let (conn, data) = (conn.clone(), data.to_vec());
        tokio::spawn(async move {
            for piece in data.chunks(30_000) {
                conn.send(Bytes::copy_from_slice(piece)).await.unwrap();
            }
        })
    };
    let mut back = Vec::new();
    while back.len() < data.len() {
        match within(conn.recv()).await {
            Some(chunk) => back.extend_from_slice(&chunk),
            None => panic!(
                "the echo ended after {} of {} bytes: {:?}",
                back.len(),
                data.len(),
                conn.error()
            ),
        }
    }
    within(sending).await.unwrap();
    conn.close();
    assert_eq!(
        within(conn.recv()).await,
        None,
        "the server closes after our close_notify"
    );
    back
}

#[tokio::test]
async fn our_tls_client_with_an_openssl_made_certificate_passes_python_mutual_tls() {
    let certs = Certs::generate().await;
    let python = peers::python_tls_echo_server(&certs, true).await;
    let tls = ClientTls::new(ClientTlsOptions {
        roots: TrustRoots::Pem(std::fs::read(certs.ca()).unwrap()),
        identity: Some(Identity::from_pem_files(certs.client_chain(), certs.client_key()).unwrap()),
        ..Default::default()
    })
    .unwrap();
    let conn = within(tcp::client(TcpClientOptions {
        tls: Some(tls),
        ..TcpClientOptions::new("127.0.0.1", python.port())
    }))
    .await
    .unwrap();
    assert_eq!(echo_then_close(&conn, b"certified").await, b"certified");
}

#[tokio::test]
async fn our_tls_client_refuses_a_python_server_whose_certificate_it_does_not_trust() {
    let certs = Certs::generate().await;
    let python = peers::python_tls_echo_server(&certs, false).await;
    let stranger = Identity::self_signed(&["localhost"]).unwrap();
    let err = within(tcp::client(TcpClientOptions {
        tls: Some(ClientTls::trusting_pem(stranger.certificate_pem().as_bytes()).unwrap()),
        ..TcpClientOptions::new("localhost", python.port())
    }))
    .await
    .unwrap_err();
    assert!(err.is_tls(), "{:?}: {err}", err.kind());
    assert!(
        support::error_chain(&err).contains("UnknownIssuer"),
        "{err:?}"
    );
}

#[tokio::test]
async fn optional_client_auth_admits_clients_with_and_without_a_certificate() {
    let certs = Certs::generate().await;
    let ca = std::fs::read(certs.ca()).unwrap();
    let tls = ServerTls::new(ServerTlsOptions {
        identity: Some(Identity::from_pem_files(certs.server_chain(), certs.server_key()).unwrap()),
        client_auth: ClientAuth::Optional(TrustRoots::Pem(ca.clone())),
        ..Default::default()
    })
    .unwrap();
    let (infos, mut infos_rx) = mpsc::unbounded_channel();
    let server = echo_server(Some(tls), infos).await;

    let identity = Identity::from_pem_files(certs.client_cert(), certs.client_key()).unwrap();
    for (identity, certificates) in [(Some(identity), 1), (None, 0)] {
        let tls = ClientTls::new(ClientTlsOptions {
            roots: TrustRoots::Pem(ca.clone()),
            identity,
            ..Default::default()
        })
        .unwrap();
        let conn = within(tcp::client(TcpClientOptions {
            tls: Some(tls),
            ..TcpClientOptions::new("localhost", server.port())
        }))
        .await
        .unwrap();
        conn.send(Bytes::from("optional")).await.unwrap();
        conn.close();
        assert_eq!(within(bytes::to_bytes(conn)).await.unwrap(), "optional");
        let seen = within(infos_rx.recv()).await.unwrap().tls.unwrap();
        assert_eq!(seen.peer_certificates.len(), certificates);
    }
    within(server.close()).await;
}
