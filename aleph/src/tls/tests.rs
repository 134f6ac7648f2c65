//! Real rustls handshakes in memory, over `tokio::io::duplex`.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, DuplexStream};

use super::*;

type ServerStream = tokio_rustls::server::TlsStream<DuplexStream>;
type ClientStream = tokio_rustls::client::TlsStream<DuplexStream>;

/// Runs both sides of one handshake, the client connecting to `name`.
/// Both streams stay alive until both sides are done, so neither side sees
/// its peer vanish mid-handshake.
async fn handshake(
    server: &ServerTls,
    client: &ClientTls,
    name: &str,
) -> (Result<ServerStream>, Result<ClientStream>) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let acceptor = server.acceptor();
    let connector = client.connector();
    let server_side = async move {
        acceptor
            .accept(server_io)
            .await
            .map_err(|err| handshake_error("client", err))
    };
    let client_side = async move {
        let server_name = server_name(name)?;
        connector
            .connect(server_name, client_io)
            .await
            .map_err(|err| handshake_error(name, err))
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(server_side, client_side)
    })
    .await
    .expect("the handshake finishes within 10 s")
}

/// Both sides' view of a handshake that must succeed.
async fn agree(server: &ServerTls, client: &ClientTls, name: &str) -> (TlsInfo, TlsInfo) {
    let (server_side, client_side) = handshake(server, client, name).await;
    let server_side = server_side.expect("server handshake succeeds");
    let client_side = client_side.expect("client handshake succeeds");
    (
        TlsInfo::from_server(server_side.get_ref().1),
        TlsInfo::from_client(client_side.get_ref().1, name),
    )
}

/// An error and its causes, as the aleph command prints them: the reason a
/// message leaves to `source()` is checked here.
fn chain(err: &crate::Error) -> String {
    let mut line = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

fn trusting(identity: &Identity) -> ClientTls {
    ClientTls::trusting_pem(identity.certificate_pem().as_bytes()).expect("client config")
}

fn serving(identity: &Identity) -> ServerTls {
    ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        ..Default::default()
    })
    .expect("server config")
}

/// A certificate authority made on the spot, issuing leaf identities.
struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa { cert, key }
    }

    fn pem(&self) -> Vec<u8> {
        self.cert.pem().into_bytes()
    }

    /// A leaf for `names` with the CA's certificate after it in the chain.
    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Identity {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf certificate");
        let chain = format!("{}{}", cert.pem(), self.cert.pem());
        Identity::from_pem(chain.as_bytes(), key.serialize_pem().as_bytes()).expect("identity")
    }
}

#[test]
fn public_handles_are_send_sync_and_clone() {
    fn assert<T: Send + Sync + Clone + 'static>() {}
    assert::<Identity>();
    assert::<TrustRoots>();
    assert::<ClientAuth>();
    assert::<ServerTlsOptions>();
    assert::<ServerTls>();
    assert::<ClientTlsOptions>();
    assert::<ClientTls>();
    assert::<TlsInfo>();
}

#[tokio::test]
async fn self_signed_server_and_trusting_client_agree_on_tls13_alpn_and_sni() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        alpn: vec!["h2".into(), "http/1.1".into()],
        ..Default::default()
    })
    .expect("server config");
    let client = ClientTls::new(ClientTlsOptions {
        roots: TrustRoots::Pem(identity.certificate_pem().into_bytes()),
        alpn: vec!["http/1.1".into(), "h2".into()],
        ..Default::default()
    })
    .expect("client config");

    let (on_server, on_client) = agree(&server, &client, "localhost").await;

    assert_eq!(on_server.protocol_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(on_client.protocol_version.as_deref(), Some("TLSv1.3"));
    assert!(on_server
        .cipher_suite
        .as_deref()
        .is_some_and(|suite| suite.starts_with("TLS13_")));
    assert_eq!(on_server.cipher_suite, on_client.cipher_suite);
    // The server's preference order wins.
    assert_eq!(on_server.alpn.as_deref(), Some("h2"));
    assert_eq!(on_client.alpn.as_deref(), Some("h2"));
    assert_eq!(on_server.server_name.as_deref(), Some("localhost"));
    assert_eq!(on_client.server_name.as_deref(), Some("localhost"));
    assert!(on_server.peer_certificates.is_empty());
    assert_eq!(on_client.peer_certificates, identity.chain());
}

#[tokio::test]
async fn client_rejects_a_certificate_for_another_host_name() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let (_, client_side) =
        handshake(&serving(&identity), &trusting(&identity), "example.test").await;
    let err = client_side.expect_err("the name does not match");
    assert_eq!(err.kind(), ErrorKind::Tls);
    let message = chain(&err);
    assert!(
        message.starts_with("TLS handshake with example.test failed: "),
        "{message}"
    );
    assert!(
        message
            .ends_with("its certificate is for localhost, not for example.test (wrong host name)"),
        "{message}"
    );
}

#[tokio::test]
async fn client_rejects_a_certificate_from_an_unknown_issuer() {
    let server_identity = Identity::self_signed(&["localhost"]).expect("identity");
    let stranger = Identity::self_signed(&["stranger.test"]).expect("identity");
    let (server_side, client_side) = handshake(
        &serving(&server_identity),
        &trusting(&stranger),
        "localhost",
    )
    .await;
    let err = client_side.expect_err("the issuer is not trusted");
    assert!(err.is_tls());
    assert!(chain(&err).contains("self-signed"), "{err}");
    assert!(chain(&err).contains("UnknownIssuer"), "{err}");
    // The client's alert reaches the server.
    let err = server_side.expect_err("the client refused");
    assert!(err.is_tls());
    assert!(chain(&err).contains("CertificateUnknown"), "{err}");
}

#[tokio::test]
async fn client_with_webpki_roots_rejects_a_self_signed_server() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let (_, client_side) = handshake(&serving(&identity), &ClientTls::default(), "localhost").await;
    assert!(chain(&client_side.expect_err("not a public CA")).contains("UnknownIssuer"));
}

#[tokio::test]
async fn insecure_client_accepts_any_certificate_and_name() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let server = serving(&identity);
    for name in ["localhost", "wrong.example", "10.9.8.7"] {
        let (on_server, on_client) = agree(&server, &ClientTls::insecure(), name).await;
        assert_eq!(on_client.peer_certificates, identity.chain());
        assert_eq!(on_server.protocol_version.as_deref(), Some("TLSv1.3"));
    }
    let via_options = ClientTls::new(ClientTlsOptions {
        insecure: true,
        roots: TrustRoots::Certificates(Vec::new()),
        ..Default::default()
    })
    .expect("roots are ignored when insecure");
    agree(&server, &via_options, "anything.test").await;
}

#[tokio::test]
async fn mutual_tls_required_refuses_a_client_without_certificate() {
    let ca = TestCa::new("clients CA");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(Identity::self_signed(&["localhost"]).expect("identity")),
        client_auth: ClientAuth::Required(TrustRoots::Pem(ca.pem())),
        ..Default::default()
    })
    .expect("server config");
    let client = ClientTls::insecure();
    let (server_side, client_side) = handshake(&server, &client, "localhost").await;
    let err = server_side.expect_err("no client certificate");
    assert!(err.is_tls());
    assert!(chain(&err).contains("peer sent no certificates"), "{err}");
    // Under TLS 1.3 the client finishes first and learns of the refusal from
    // the server's alert on its first read.
    if let Ok(mut stream) = client_side {
        let mut buf = Vec::new();
        let read = stream.read_to_end(&mut buf).await;
        assert!(read.is_err(), "the refused client cannot read: {read:?}");
    }
}

#[tokio::test]
async fn mutual_tls_required_accepts_a_client_signed_by_the_trusted_ca_and_shows_its_chain() {
    let ca = TestCa::new("clients CA");
    let client_identity = ca.issue(&["client.test"], ExtendedKeyUsagePurpose::ClientAuth);
    let server_identity = Identity::self_signed(&["localhost"]).expect("identity");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(server_identity.clone()),
        client_auth: ClientAuth::Required(TrustRoots::Pem(ca.pem())),
        ..Default::default()
    })
    .expect("server config");
    let client = ClientTls::new(ClientTlsOptions {
        roots: TrustRoots::Certificates(server_identity.chain().to_vec()),
        identity: Some(client_identity.clone()),
        ..Default::default()
    })
    .expect("client config");

    let (on_server, _) = agree(&server, &client, "localhost").await;
    assert_eq!(on_server.peer_certificates.len(), 2);
    assert_eq!(on_server.peer_certificates, client_identity.chain());
}

#[tokio::test]
async fn mutual_tls_required_refuses_a_client_signed_by_another_ca() {
    let trusted = TestCa::new("clients CA");
    let other = TestCa::new("other CA");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(Identity::self_signed(&["localhost"]).expect("identity")),
        client_auth: ClientAuth::Required(TrustRoots::Pem(trusted.pem())),
        ..Default::default()
    })
    .expect("server config");
    let client = ClientTls::new(ClientTlsOptions {
        insecure: true,
        identity: Some(other.issue(&["client.test"], ExtendedKeyUsagePurpose::ClientAuth)),
        ..Default::default()
    })
    .expect("client config");
    let (server_side, _) = handshake(&server, &client, "localhost").await;
    let err = server_side.expect_err("untrusted client certificate");
    assert!(chain(&err).contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn mutual_tls_optional_accepts_a_client_without_certificate() {
    let ca = TestCa::new("clients CA");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(Identity::self_signed(&["localhost"]).expect("identity")),
        client_auth: ClientAuth::Optional(TrustRoots::Pem(ca.pem())),
        ..Default::default()
    })
    .expect("server config");
    let (on_server, _) = agree(&server, &ClientTls::insecure(), "localhost").await;
    assert!(on_server.peer_certificates.is_empty());
}

#[tokio::test]
async fn server_chain_from_a_ca_verifies_against_the_ca_alone() {
    let ca = TestCa::new("servers CA");
    let identity = ca.issue(&["service.test"], ExtendedKeyUsagePurpose::ServerAuth);
    let client = ClientTls::trusting_pem(&ca.pem()).expect("client config");
    let (_, on_client) = agree(&serving(&identity), &client, "service.test").await;
    assert_eq!(on_client.peer_certificates, identity.chain());
}

#[tokio::test]
async fn sni_picks_the_identity_for_each_host_name() {
    let a = Identity::self_signed(&["a.test"]).expect("identity");
    let b = Identity::self_signed(&["b.test"]).expect("identity");
    let server = ServerTls::new(ServerTlsOptions {
        sni: vec![("a.test".into(), a.clone()), ("B.Test".into(), b.clone())],
        ..Default::default()
    })
    .expect("server config");
    let client = ClientTls::insecure();
    for (name, expected) in [("a.test", &a), ("b.test", &b), ("A.TEST", &a)] {
        let (on_server, on_client) = agree(&server, &client, name).await;
        assert_eq!(
            on_client.peer_certificates[0],
            expected.chain()[0],
            "leaf for {name}"
        );
        assert!(on_server
            .server_name
            .as_deref()
            .is_some_and(|sent| sent.eq_ignore_ascii_case(name)));
    }
}

#[tokio::test]
async fn sni_falls_back_to_the_default_identity_for_unknown_or_absent_names() {
    let fallback = Identity::self_signed(&["default.test"]).expect("identity");
    let a = Identity::self_signed(&["a.test"]).expect("identity");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(fallback.clone()),
        sni: vec![("a.test".into(), a)],
        ..Default::default()
    })
    .expect("server config");
    // An IP address is never sent as SNI.
    for name in ["unknown.test", "127.0.0.1"] {
        let (_, on_client) = agree(&server, &ClientTls::insecure(), name).await;
        assert_eq!(
            on_client.peer_certificates[0],
            fallback.chain()[0],
            "{name}"
        );
    }
}

#[tokio::test]
async fn sni_without_a_default_identity_refuses_unknown_names() {
    let server = ServerTls::new(ServerTlsOptions {
        sni: vec![(
            "a.test".into(),
            Identity::self_signed(&["a.test"]).expect("identity"),
        )],
        ..Default::default()
    })
    .expect("server config");
    let (server_side, client_side) =
        handshake(&server, &ClientTls::insecure(), "unknown.test").await;
    assert!(server_side.expect_err("no certificate").is_tls());
    assert!(client_side.expect_err("the server gave up").is_tls());
}

#[tokio::test]
async fn server_refuses_a_client_whose_alpn_protocols_it_does_not_speak() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let server = ServerTls::new(ServerTlsOptions {
        identity: Some(identity.clone()),
        alpn: vec!["h2".into()],
        ..Default::default()
    })
    .expect("server config");
    let client = ClientTls::new(ClientTlsOptions {
        insecure: true,
        alpn: vec!["imap".into()],
        ..Default::default()
    })
    .expect("client config");
    let (server_side, _) = handshake(&server, &client, "localhost").await;
    assert!(server_side.is_err());
    // A client that offers no ALPN at all is still served.
    let (on_server, _) = agree(&server, &trusting(&identity), "localhost").await;
    assert_eq!(on_server.alpn, None);
}

#[tokio::test]
async fn self_signed_ip_address_names_verify_for_clients_connecting_by_address() {
    let identity = Identity::self_signed(&["localhost", "127.0.0.1", "::1"]).expect("identity");
    let server = serving(&identity);
    let client = trusting(&identity);
    for name in ["127.0.0.1", "[::1]", "::1", "localhost"] {
        agree(&server, &client, name).await;
    }
    let (_, client_side) = handshake(&server, &client, "127.0.0.2").await;
    assert!(client_side.is_err());
}

#[tokio::test]
async fn a_tls12_only_client_negotiates_tls12() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let roots = TrustRoots::Certificates(identity.chain().to_vec())
        .root_store()
        .expect("roots");
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (on_server, on_client) =
        agree(&serving(&identity), &ClientTls::from(config), "localhost").await;
    assert_eq!(on_server.protocol_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(on_client.protocol_version.as_deref(), Some("TLSv1.2"));
}

#[test]
fn server_without_any_identity_is_an_error() {
    let err = ServerTls::new(ServerTlsOptions {
        alpn: vec!["h2".into()],
        ..Default::default()
    })
    .expect_err("no certificate");
    assert!(err.is_tls());
    assert!(chain(&err).contains("needs a certificate"), "{err}");
}

#[test]
fn server_options_with_bad_names_are_errors() {
    let identity = Identity::self_signed(&["a.test"]).expect("identity");
    let twice = ServerTls::new(ServerTlsOptions {
        sni: vec![
            ("a.test".into(), identity.clone()),
            ("A.test.".into(), identity.clone()),
        ],
        ..Default::default()
    })
    .expect_err("listed twice");
    assert!(chain(&twice).contains("listed twice"), "{twice}");
    let alpn = ServerTls::new(ServerTlsOptions {
        identity: Some(identity),
        alpn: vec![String::new()],
        ..Default::default()
    })
    .expect_err("empty ALPN name");
    assert!(chain(&alpn).contains("ALPN"), "{alpn}");
}

#[test]
fn pem_parse_errors_name_what_failed() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let cert = identity.certificate_pem();
    let key = KeyPair::generate().expect("key").serialize_pem();

    let no_cert = Identity::from_pem(b"hello", key.as_bytes()).expect_err("no certificate");
    assert!(no_cert.is_tls());
    assert!(
        no_cert
            .to_string()
            .contains("no certificate found in the certificate chain PEM"),
        "{no_cert}"
    );

    let no_key = Identity::from_pem(cert.as_bytes(), cert.as_bytes()).expect_err("no key");
    assert!(
        no_key
            .to_string()
            .contains("no private key found in the private key PEM"),
        "{no_key}"
    );

    let truncated = &cert[..cert.len() / 2];
    let broken = Identity::from_pem(truncated.as_bytes(), key.as_bytes()).expect_err("truncated");
    assert!(
        broken
            .to_string()
            .starts_with("invalid PEM in the certificate chain PEM"),
        "{broken}"
    );

    let garbage = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    let bad_base64 = Identity::from_pem(garbage.as_bytes(), key.as_bytes()).expect_err("base64");
    assert!(chain(&bad_base64).contains("base64"), "{bad_base64}");

    let roots = ClientTls::trusting_pem(b"nothing").expect_err("no roots");
    assert!(chain(&roots).contains("the trust roots PEM"), "{roots}");
}

#[test]
fn pem_file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("aleph-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let cert_path = dir.join("cert.pem");
    let bad_key_path = dir.join("bad-key.pem");
    std::fs::write(&cert_path, identity.certificate_pem()).expect("write");
    std::fs::write(&bad_key_path, "not a key").expect("write");

    let missing =
        Identity::from_pem_files(dir.join("missing.pem"), &bad_key_path).expect_err("missing file");
    assert!(missing.is_io());
    assert!(chain(&missing).contains("missing.pem"), "{missing}");

    let bad_key = ServerTls::from_pem_files(&cert_path, &bad_key_path).expect_err("bad key");
    assert!(bad_key.is_tls());
    assert!(
        bad_key
            .to_string()
            .contains(&format!("private key file {}", bad_key_path.display())),
        "{bad_key}"
    );

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pem_files_holding_a_ca_issued_chain_load() {
    let dir = std::env::temp_dir().join(format!("aleph-tls-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = TestCa::new("files CA");
    let mut params = CertificateParams::new(vec!["files.test".to_string()]).expect("params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("key");
    let leaf = params.signed_by(&key, &ca.cert, &ca.key).expect("leaf");
    let chain_path = dir.join("chain.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&chain_path, format!("{}{}", leaf.pem(), ca.cert.pem())).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");

    let identity = Identity::from_pem_files(&chain_path, &key_path).expect("loads");
    assert_eq!(identity.chain().len(), 2);
    assert_eq!(&identity.chain()[0], leaf.der());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_rejected() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let other_key = KeyPair::generate().expect("key").serialize_pem();
    let err = Identity::from_pem(identity.certificate_pem().as_bytes(), other_key.as_bytes())
        .expect_err("mismatch");
    assert!(err.is_tls());
    assert!(chain(&err).contains("does not match"), "{err}");
}

#[test]
fn self_signed_rejects_empty_and_invalid_names() {
    assert!(Identity::self_signed(&[]).expect_err("no names").is_tls());
    let err = Identity::self_signed(&["not a host name"]).expect_err("invalid");
    assert!(err.is_tls());
    assert!(chain(&err).contains("not a host name"), "{err}");
}

#[tokio::test]
async fn self_signed_wildcard_names_cover_one_label() {
    let identity = Identity::self_signed(&["*.example.test"]).expect("identity");
    let (server, client) = (serving(&identity), trusting(&identity));
    agree(&server, &client, "api.example.test").await;
    let (_, client_side) = handshake(&server, &client, "a.b.example.test").await;
    assert!(client_side.is_err());
}

#[test]
fn server_name_accepts_dns_names_and_ip_addresses_only() {
    assert!(matches!(
        server_name("example.test"),
        Ok(ServerName::DnsName(_))
    ));
    assert!(matches!(
        server_name("127.0.0.1"),
        Ok(ServerName::IpAddress(_))
    ));
    assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
    let err = server_name("bad name!").expect_err("invalid");
    assert!(err.is_tls());
    assert!(chain(&err).contains("\"bad name!\""), "{err}");
}

#[test]
fn handshake_errors_name_the_peer_and_the_reason() {
    let io = std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
    );
    let err = handshake_error("127.0.0.1:4433", io);
    assert!(err.is_tls());
    // The message says what failed; the reason is the source, in plain words.
    assert_eq!(err.to_string(), "TLS handshake with 127.0.0.1:4433 failed");
    let source = std::error::Error::source(&err).expect("the reason");
    assert!(source.is::<crate::tls::CertificateRefused>(), "{source:?}");
    assert_eq!(
        chain(&err),
        "TLS handshake with 127.0.0.1:4433 failed: its certificate was issued by an \
         authority that is not trusted here (UnknownIssuer)"
    );
    let eof = handshake_error(
        "127.0.0.1:4433",
        std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
    );
    assert_eq!(
        eof.to_string(),
        "TLS handshake with 127.0.0.1:4433 failed: the peer closed the connection"
    );
}

#[test]
fn debug_output_hides_keys_and_certificate_bytes() {
    let identity = Identity::self_signed(&["localhost"]).expect("identity");
    let shown = format!("{identity:?}");
    assert_eq!(
        shown,
        "Identity { chain: [1 certificate(s)], key: \"<hidden>\" }"
    );
    let roots = format!("{:?}", TrustRoots::Pem(vec![0; 10]));
    assert_eq!(roots, "Pem([10 bytes])");
}
