//! HTTP test clients: raw bytes over a socket (for what a well-behaved
//! client never sends) and hyper's own client connections (HTTP/1.1, h2c,
//! and both over TLS).

use std::time::Duration;

use aleph::bytes::Bytes;
use aleph::tls::{ClientTls, ClientTlsOptions, Identity, TrustRoots};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::LIMIT;

/// Connects to the server on 127.0.0.1.
pub async fn connect(port: u16) -> TcpStream {
    super::within(TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("the server accepts")
}

/// Sends `request` as it is and reads until the server closes the
/// connection (or [`LIMIT`] passes: then what came so far).
pub async fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = connect(port).await;
    stream
        .write_all(request)
        .await
        .expect("the request is sent");
    read_to_close(&mut stream).await
}

/// Reads until the peer closes (a reset counts as a close), for at most [`LIMIT`].
pub async fn read_to_close(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server did not close within {LIMIT:?}; got so far: {}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one response head and as much body as `Content-Length` says (no
/// chunked bodies), leaving the connection open.
pub async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        let n = super::within(stream.read(&mut byte))
            .await
            .expect("reading the response head");
        assert!(
            n > 0,
            "the connection closed mid-head: {}",
            String::from_utf8_lossy(&out)
        );
        out.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&out).into_owned();
    let len = header(&head, "content-length").map_or(0, |v| v.parse::<usize>().unwrap());
    let mut body = vec![0u8; len];
    super::within(stream.read_exact(&mut body))
        .await
        .expect("reading the response body");
    head + &String::from_utf8_lossy(&body)
}

/// The status code of a raw response.
pub fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

/// A header's value in a raw response head (case-insensitive name).
pub fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The body of a raw response (after the head, as sent).
pub fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// An HTTP/1.1 client connection made by hyper.
pub async fn h1<IO>(io: IO) -> hyper::client::conn::http1::SendRequest<aleph::http::Body>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("HTTP/1 handshake");
    tokio::spawn(conn);
    send
}

/// An HTTP/2 client connection made by hyper (h2c over plain TCP, or h2
/// over a TLS stream that agreed on it).
pub async fn h2<IO>(io: IO) -> hyper::client::conn::http2::SendRequest<aleph::http::Body>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    send
}

/// A GET request for `path`.
pub fn get(path: &str) -> http::Request<aleph::http::Body> {
    http::Request::get(path)
        .header("host", "localhost")
        .body(aleph::http::Body::empty())
        .unwrap()
}

/// The whole body of a response, as text.
pub async fn text(res: http::Response<Incoming>) -> String {
    let bytes = super::within(res.into_body().collect())
        .await
        .expect("the body arrives")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
}

/// The data frames of a response body, one entry each, in order; an empty
/// one (HTTP/2's END_STREAM after a stream body's end was seen) carries no
/// message and is left out.
pub async fn frames(res: http::Response<Incoming>) -> Vec<Bytes> {
    let mut body = res.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = super::within(body.frame()).await {
        if let Ok(data) = frame.expect("a frame").into_data() {
            if !data.is_empty() {
                frames.push(data);
            }
        }
    }
    frames
}

/// A client TLS configuration trusting `identity`, offering `alpn`.
pub fn client_tls(identity: &Identity, alpn: &[&str]) -> ClientTls {
    ClientTls::new(ClientTlsOptions {
        roots: TrustRoots::Pem(identity.certificate_pem().into_bytes()),
        alpn: alpn.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    })
    .expect("client TLS")
}

/// A pause short enough for tests, for a server-side timeout to use.
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(200);
