//! [`ServerOptions`]: where and how an HTTP server listens, and its limits.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::Response;
use crate::net::{ConnectionInfo, ListenSocket};
use crate::tls::ServerTls;

/// An HTTP version a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.0 and HTTP/1.1.
    Http1,
    /// HTTP/2: over TLS when the client asks for it by ALPN (`h2`); over
    /// plain TCP with prior knowledge (h2c: the client starts with HTTP/2's
    /// preface).
    Http2,
}

/// Makes the response for a connection over
/// [`max_connections`](ServerOptions::max_connections).
pub type RejectHandler = Arc<dyn Fn(&ConnectionInfo) -> Response + Send + Sync>;

/// Options of [`start_server`](super::start_server). Every field has a
/// documented default; `ServerOptions::default()` listens on 127.0.0.1 at a
/// port the system picks, speaks HTTP/1.1 and h2c, without TLS.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use std::time::Duration;
/// use aleph::http::{self, ServerOptions};
///
/// let options = ServerOptions {
///     max_body_size: Some(1 << 20),
///     idle_timeout: Some(Duration::from_secs(30)),
///     ..Default::default()
/// };
/// let server = http::start_server(|_req| "hello!", options).await?;
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServerOptions {
    /// The port to listen on; 0 picks a free one (see
    /// [`Server::port`](crate::Server::port)). Default: 0.
    pub port: u16,
    /// The address to listen on, IPv4 or IPv6. Default: 127.0.0.1 (loopback
    /// only; use `0.0.0.0` or `::` to accept connections from other hosts).
    pub host: IpAddr,
    /// Listen on this Unix domain socket path instead of TCP. Default: none.
    pub unix: Option<PathBuf>,
    /// Adopt this already-bound listening socket instead of binding one;
    /// `port` and `host` are then ignored. Default: none.
    pub listen_socket: Option<ListenSocket>,
    /// Serve HTTPS: the handshake is done before HTTP starts, and HTTP/2 is
    /// chosen by ALPN. When the configuration names no ALPN protocols, the
    /// server offers those of `http_versions` (`h2`, `http/1.1`). Default: none.
    pub tls: Option<ServerTls>,
    /// The HTTP versions served. With both, a plain connection is HTTP/1.x
    /// unless it starts with HTTP/2's preface (h2c with prior knowledge),
    /// and a TLS connection is what ALPN chose. Default: both.
    pub http_versions: Vec<HttpVersion>,
    /// A connection with no request in flight (nor a response still being
    /// written out) for this long is closed (HTTP/2: GOAWAY first). The check runs on a timer that requests do
    /// not move (it ticks every quarter of the shorter of this and
    /// `header_read_timeout`), so the close comes between one and one and a
    /// quarter timeouts after the last request. `None` keeps idle
    /// connections open. Default: 60 s.
    pub idle_timeout: Option<Duration>,
    /// The longest an HTTP/1 client may take to send a request's head
    /// (slowloris), counted from when the server starts waiting for it, so it
    /// also bounds a keep-alive connection's wait between requests. The
    /// connection is then closed, with no response. The wait begins once the
    /// last response is written out (a slow client still taking one is not
    /// cut), and goes on while the connection winds down (server close,
    /// idle timeout). Checked on the same timer as `idle_timeout`: the cut
    /// comes between one and one and a quarter timeouts after the wait
    /// began, never sooner. A plain connection that
    /// may speak either version counts as HTTP/1 until its first HTTP/2
    /// request. `None` waits forever. Default: 30 s.
    pub header_read_timeout: Option<Duration>,
    /// The longest the server waits for the next bytes of a request body the
    /// handler is reading; the body then ends with a timeout error and the
    /// response is a 408. `None` waits forever. Default: 60 s.
    pub body_read_timeout: Option<Duration>,
    /// The longest a response may go without the client taking any of its
    /// bytes: a write (or flush) to the connection that makes no progress
    /// for this long fails, and the connection is closed, so a client that
    /// stops reading cannot hold it, and its handler's producer, forever (a
    /// streamed body's channel is then closed). Progress is seen at the
    /// socket: with this set, a TCP socket holds at most 128 KiB unsent
    /// (`TCP_NOTSENT_LOWAT`, Linux), so a client taking bytes slowly but
    /// steadily shows it (elsewhere the kernel may only report it once a
    /// third of its send buffer drained). It bounds stalls of the
    /// socket; an HTTP/2 client that keeps reading but grants a stream no
    /// flow-control window holds only that stream, as HTTP/2 allows. `None`
    /// waits forever. Default: 60 s.
    pub write_timeout: Option<Duration>,
    /// The longest request target (the URI of the request line) accepted;
    /// longer gets 414. Default: 8 KiB.
    pub max_request_line: usize,
    /// The most bytes a request's head (request line and headers) may take;
    /// more gets 431 (HTTP/1) or a stream error (HTTP/2). At least 8 KiB
    /// (hyper's floor). Default: 64 KiB. HTTP/1 requests also get 431 beyond
    /// 100 header fields, whatever their size (hyper's parser keeps that
    /// many on the stack).
    pub max_header_size: usize,
    /// The largest request body accepted: a larger `Content-Length` gets 413
    /// before the handler runs; a chunked body gets 413 once it passes the
    /// limit (the handler's read fails). `None` accepts any. Default: none.
    pub max_body_size: Option<u64>,
    /// The most connections served at once; those beyond it are answered
    /// 503 (or by `reject_connection`) and closed. `None` serves any number.
    /// As many again may linger after their last answer (see
    /// [`linger_time`](Self::linger_time)). Default: none.
    pub max_connections: Option<usize>,
    /// Makes the response for connections over `max_connections`. Default:
    /// none (a plain 503).
    pub reject_connection: Option<RejectHandler>,
    /// Keep HTTP/1 connections open between requests. Default: true.
    pub keep_alive: bool,
    /// The most concurrent streams an HTTP/2 client may open. Default: 200.
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2's initial window of each stream, in bytes: how much a client
    /// may send ahead on one request body. Default: 1 MiB.
    pub http2_stream_window: u32,
    /// HTTP/2's initial window of each connection, in bytes. Default: 1 MiB.
    pub http2_connection_window: u32,
    /// The `Server` header put on responses that carry none. `None` sends
    /// none. Default: `aleph`.
    pub server_header: Option<HeaderValue>,
    /// The longest a TLS handshake may take. Default: 10 s.
    pub handshake_timeout: Duration,
    /// How long [`Server::close`](crate::Server::close) lets in-flight
    /// requests finish before cutting their connections. Default: 15 s.
    pub shutdown_timeout: Duration,
    /// The longest an HTTP/1 connection lingers after its last response
    /// when the client may still be sending a request body the handler did
    /// not read (it answered first, or refused the body: 413, a redirect).
    /// Closing a socket with unread bytes makes the kernel reset it, and the
    /// reset throws away the response the client has not read yet and fails
    /// its upload; so the server sends its end (FIN; over TLS a
    /// `close_notify` first), reads and discards what still comes until the
    /// client closes its side, nothing came for a second, this time passes
    /// or [`linger_bytes`](Self::linger_bytes) were discarded, and only then
    /// closes (nginx's and Apache's lingering close). A lingering connection
    /// holds no handler and no slot of
    /// [`max_connections`](Self::max_connections) (but no more connections
    /// linger than that limit: past it, one closes at once); the
    /// [`shutdown_timeout`](Self::shutdown_timeout) cuts it as any other.
    /// `Duration::ZERO` closes at once. Default: 5 s.
    pub linger_time: Duration,
    /// The most bytes a lingering connection discards before it is closed
    /// (see [`linger_time`](Self::linger_time)). Default: 8 MiB.
    pub linger_bytes: u64,
    /// Disable Nagle's algorithm on accepted connections. Default: true.
    pub nodelay: bool,
    /// `SO_REUSEADDR` on the listening socket. Default: true.
    pub reuse_address: bool,
    /// `SO_REUSEPORT` on the listening socket (Unix), so that several
    /// servers can share a port. Default: false.
    pub reuse_port: bool,
    /// The listen backlog. Default: 1024.
    pub backlog: u32,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            port: 0,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            unix: None,
            listen_socket: None,
            tls: None,
            http_versions: vec![HttpVersion::Http1, HttpVersion::Http2],
            idle_timeout: Some(Duration::from_secs(60)),
            header_read_timeout: Some(Duration::from_secs(30)),
            body_read_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(60)),
            max_request_line: 8 * 1024,
            max_header_size: 64 * 1024,
            max_body_size: None,
            max_connections: None,
            reject_connection: None,
            keep_alive: true,
            http2_max_concurrent_streams: 200,
            http2_stream_window: 1024 * 1024,
            http2_connection_window: 1024 * 1024,
            server_header: Some(HeaderValue::from_static("aleph")),
            handshake_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(15),
            linger_time: Duration::from_secs(5),
            linger_bytes: 8 * 1024 * 1024,
            nodelay: true,
            reuse_address: true,
            reuse_port: false,
            backlog: 1024,
        }
    }
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field("port", &self.port)
            .field("host", &self.host)
            .field("unix", &self.unix)
            .field("tls", &self.tls.is_some())
            .field("http_versions", &self.http_versions)
            .field("idle_timeout", &self.idle_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_request_line", &self.max_request_line)
            .field("max_header_size", &self.max_header_size)
            .field("max_body_size", &self.max_body_size)
            .field("max_connections", &self.max_connections)
            .field("keep_alive", &self.keep_alive)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("linger_time", &self.linger_time)
            .field("linger_bytes", &self.linger_bytes)
            .finish_non_exhaustive()
    }
}
