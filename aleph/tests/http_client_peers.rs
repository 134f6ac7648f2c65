//! aleph's HTTP client against servers no one here wrote: nginx (HTTP/1.1
//! with keep-alive reuse seen in its access log, h2c, h2 and HTTP/1.1 over
//! TLS with a test CA), hypercorn (HTTP/2 in clear and over TLS) and
//! Python's `http.server`. Installed by `scripts/install-test-peers.sh`; a
//! missing one fails these tests.

mod support;

use aleph::http::{Client, ClientOptions, Version};
use aleph::tls::{ClientTls, ClientTlsOptions, TrustRoots};

use support::peers::{hypercorn, python_http_server, Certs, Nginx, TempDir};
use support::within;

fn trusting(certs: &Certs) -> ClientTls {
    ClientTls::new(ClientTlsOptions {
        roots: TrustRoots::Pem(std::fs::read(certs.ca()).unwrap()),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn nginx_over_http11_reuses_one_connection_as_its_log_shows() {
    let certs = Certs::generate().await;
    let nginx = Nginx::start(&certs, &[("file.txt", b"static file\n")]).await;
    let client = Client::default();
    for path in ["/plain", "/file.txt", "/plain"] {
        let res = within(client.get(nginx.http_url(path)).send())
            .await
            .unwrap();
        assert_eq!(res.version(), Version::HTTP_11);
        res.text().await.unwrap();
    }
    // nginx logs a request after its response went out: wait (bounded)
    // for the third line.
    let deadline = std::time::Instant::now() + support::LIMIT;
    let mut log = nginx.access_log();
    while log.lines().count() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        log = nginx.access_log();
    }
    let last: Vec<&str> = log.lines().rev().take(3).collect();
    assert_eq!(last.len(), 3, "{log}");
    let connections: Vec<&str> = last.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert!(
        connections.iter().all(|c| *c == connections[0]),
        "one connection: {log}"
    );
    assert!(last[0].contains(" 3 HTTP/1.1 GET /plain 200"), "{log}");
}

#[tokio::test]
async fn nginx_over_h2c_and_tls_speaks_http2_and_http11_when_asked() {
    let certs = Certs::generate().await;
    let nginx = Nginx::start(&certs, &[("file.txt", b"static file\n")]).await;
    let h2c = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let res = within(h2c.get(nginx.h2c_url("/file.txt")).send())
        .await
        .unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.text().await.unwrap(), "static file\n");

    let tls = Client::new(ClientOptions {
        tls: Some(trusting(&certs)),
        ..Default::default()
    });
    let res = within(tls.get(nginx.https_url("/plain")).send())
        .await
        .unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.text().await.unwrap(), "hello from nginx\n");

    let h1 = Client::new(ClientOptions {
        tls: Some(trusting(&certs)),
        http2: false,
        ..Default::default()
    });
    let res = within(h1.get(nginx.https_url("/plain")).send())
        .await
        .unwrap();
    assert_eq!(res.version(), Version::HTTP_11);
    assert_eq!(res.text().await.unwrap(), "hello from nginx\n");

    let untrusting = Client::default();
    let err = within(untrusting.get(nginx.https_url("/plain")).send())
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err}");
}

#[tokio::test]
async fn hypercorn_over_h2c_and_tls_multiplexes_and_echoes_a_post() {
    let h2c = hypercorn(None).await;
    let client = Client::new(ClientOptions {
        http2_prior_knowledge: true,
        ..Default::default()
    });
    let base = format!("http://127.0.0.1:{}", h2c.port());
    let requests: Vec<_> = (0..10)
        .map(|_| tokio::spawn(client.get(format!("{base}/bytes/5")).send()))
        .collect();
    for request in requests {
        let res = within(request).await.unwrap().unwrap();
        assert_eq!(res.version(), Version::HTTP_2);
        assert_eq!(res.bytes().await.unwrap().len(), 5);
    }
    assert_eq!(client.stats().total().live, 1, "{:?}", client.stats());
    let echoed = within(client.post(format!("{base}/echo")).body("sent back").send())
        .await
        .unwrap();
    assert_eq!(echoed.text().await.unwrap(), "sent back");

    let certs = Certs::generate().await;
    let tls = hypercorn(Some(&certs)).await;
    let client = Client::new(ClientOptions {
        tls: Some(trusting(&certs)),
        ..Default::default()
    });
    let res = within(
        client
            .get(format!("https://localhost:{}/", tls.port()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.text().await.unwrap(), "hello\n");
}

#[tokio::test]
async fn python_http_server_answers_and_its_404_is_a_status_error() {
    let root = TempDir::new("client-www");
    root.write("hello.txt", "from python\n");
    let server = python_http_server(root.path()).await;
    let client = Client::default();
    let base = format!("http://127.0.0.1:{}", server.port());
    let res = within(client.get(format!("{base}/hello.txt")).send())
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "from python\n");
    let err = within(client.get(format!("{base}/missing")).send())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");
}
