//! Error messages say what failed; the cause is reachable only through
//! `source()`. Each test here provokes a real failure (over real sockets
//! where there is one) and walks its chain: no message may contain its
//! source's text, so a chain printed link by link never says a thing twice.

use std::error::Error as _;
use std::net::SocketAddr;

use aleph::bytes::{self, Bytes};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
use aleph::tls::{ClientTls, Identity, ServerTls};
use aleph::udp::{self, Multicast, Packet, UdpOptions};

mod support;

use support::within;

/// Fails the test if a message in `err`'s chain repeats its source's text;
/// returns how many causes the chain has.
#[track_caller]
fn assert_no_repeats(err: &aleph::Error) -> usize {
    let mut causes = 0;
    let mut current: &(dyn std::error::Error + 'static) = err;
    while let Some(source) = current.source() {
        let (message, cause) = (current.to_string(), source.to_string());
        assert!(
            !cause.is_empty() && !message.contains(&cause),
            "the message {message:?} repeats its source's text {cause:?} ({err:?})"
        );
        causes += 1;
        current = source;
    }
    causes
}

/// As [`assert_no_repeats`], and the error must have a cause at all.
#[track_caller]
fn assert_caused(err: &aleph::Error) {
    assert!(assert_no_repeats(err) > 0, "no source: {err:?}");
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[tokio::test]
async fn a_refused_connect_names_the_address_and_leaves_the_reason_to_its_source() {
    let err = within(tcp::client(TcpClientOptions::new(
        "127.0.0.1",
        closed_port(),
    )))
    .await
    .expect_err("nothing listens");
    assert!(err.is_connect(), "{err:?}");
    assert_caused(&err);
}

#[tokio::test]
async fn an_unknown_host_names_the_host_and_leaves_the_reason_to_its_source() {
    let err = within(tcp::client(TcpClientOptions::new(
        "no-such-host.invalid",
        80,
    )))
    .await
    .expect_err("the name does not resolve");
    assert!(err.is_dns(), "{err:?}");
    assert_caused(&err);
}

#[tokio::test]
async fn a_missing_unix_socket_names_the_path_and_leaves_the_reason_to_its_source() {
    let path = std::env::temp_dir().join(format!("aleph-errors-{}.sock", std::process::id()));
    let err = within(tcp::client(TcpClientOptions {
        unix: Some(path.clone()),
        ..Default::default()
    }))
    .await
    .expect_err("no such socket");
    assert!(err.is_connect(), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_caused(&err);
}

#[tokio::test]
async fn an_untrusted_server_is_a_tls_error_whose_reason_is_its_source() {
    let server = within(tcp::start_server(
        |_conn, _info| {},
        TcpServerOptions {
            tls: Some(ServerTls::self_signed(&["localhost"]).unwrap()),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let err = within(tcp::client(TcpClientOptions {
        tls: Some(ClientTls::default()),
        server_name: Some("localhost".into()),
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .expect_err("a self-signed certificate is not trusted by the public roots");
    assert!(err.is_tls(), "{err:?}");
    assert_caused(&err);
    within(server.close()).await;
}

#[tokio::test]
async fn a_port_in_use_names_the_address_and_leaves_the_reason_to_its_source() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = within(tcp::start_server(
        |_conn, _info| {},
        TcpServerOptions {
            port,
            reuse_address: false,
            ..Default::default()
        },
    ))
    .await
    .expect_err("the port is taken");
    assert!(err.is_io(), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert_caused(&err);
}

#[tokio::test]
async fn a_connection_reset_mid_stream_leaves_the_reason_to_its_source() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let conn = within(tcp::client(TcpClientOptions::new("127.0.0.1", addr.port())))
        .await
        .unwrap();
    let (peer, _) = within(listener.accept()).await.unwrap();
    socket2::SockRef::from(&peer)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(peer); // an RST
    let err = within(bytes::to_bytes(conn.clone()))
        .await
        .expect_err("a reset is not a clean end");
    assert_caused(&err);
}

#[tokio::test]
async fn udp_errors_say_what_failed_and_leave_the_reason_to_their_source() {
    let socket = within(udp::socket(UdpOptions::default())).await.unwrap();
    let too_big = Packet::new(socket.local_addr(), vec![0u8; 70_000]);
    let err = within(socket.send_to(too_big))
        .await
        .expect_err("too large");
    assert!(err.is_io(), "{err:?}");
    assert_caused(&err);

    let not_a_group = Multicast::group("10.1.2.3".parse().unwrap());
    let err = socket
        .join(&not_a_group)
        .expect_err("not a multicast group");
    assert_caused(&err);

    let err = within(udp::socket(UdpOptions {
        host: "192.0.2.1".parse().unwrap(), // TEST-NET-1: not an address of this host
        ..Default::default()
    }))
    .await
    .expect_err("cannot bind an address this host does not have");
    assert!(err.is_io(), "{err:?}");
    assert_caused(&err);
}

#[tokio::test]
async fn certificate_and_key_errors_leave_the_reason_to_their_source() {
    let missing = Identity::from_pem_files("/nonexistent/chain.pem", "/nonexistent/key.pem")
        .expect_err("no such file");
    assert!(
        missing.to_string().contains("/nonexistent/chain.pem"),
        "{missing}"
    );
    assert_caused(&missing);

    let garbage = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let err = Identity::from_pem(garbage.as_bytes(), key.as_bytes()).expect_err("bad base64");
    assert_no_repeats(&err);

    let err = ClientTls::trusting_pem(b"nothing").expect_err("no roots");
    assert_no_repeats(&err);
}

#[tokio::test]
async fn a_decode_error_names_the_offset_and_leaves_the_reason_to_its_source() {
    let err = bytes::to_string(Bytes::from_static(b"ok \xff"))
        .await
        .expect_err("not UTF-8");
    assert!(err.is_decode(), "{err:?}");
    assert!(err.to_string().contains('3'), "{err}");
    assert_caused(&err);
}

#[test]
fn a_wrapped_user_error_speaks_for_itself_without_repeating() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("quota check failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let err = aleph::Error::other(Outer(std::io::Error::other("disk full")));
    assert_eq!(err.to_string(), "quota check failed");
    assert_eq!(
        err.source().map(|s| s.to_string()).as_deref(),
        Some("disk full")
    );
    assert!(err.get_ref().is_some_and(|e| e.is::<Outer>()));
    assert_caused(&err);
}
