//! TCP (and Unix domain socket) servers and clients as duplex byte streams.
//!
//! A server's handler gets each connection as a [`Duplex<Bytes, Bytes>`]
//! (what the peer sends arrives; what is sent leaves) and a
//! [`ConnectionInfo`]. The echo server is one line: connect the stream to
//! itself. A client is a future that yields the same duplex.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::bytes::Bytes;
//! use aleph::stream::{self, Connect};
//! use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
//!
//! let server = tcp::start_server(
//!     |conn, _info| {
//!         stream::connect(conn.clone(), conn, Connect::default());
//!     },
//!     TcpServerOptions::default(),
//! )
//! .await?;
//!
//! let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
//! conn.send(Bytes::from("hello")).await.unwrap();
//! conn.close(); // half-close: the echo answers, then closes its side too
//! assert_eq!(aleph::bytes::to_bytes(conn).await?, "hello");
//! server.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Backpressure
//!
//! Each connection reads at most [`READ_CHUNK`](crate::net::READ_CHUNK) bytes
//! at a time and holds at most [`INBOUND_CHUNKS`](crate::net::INBOUND_CHUNKS)
//! chunks the handler has not taken: while they wait, the socket is not read,
//! so a slow consumer slows the peer down. Sends wait once
//! [`OUTBOUND_CHUNKS`](crate::net::OUTBOUND_CHUNKS) chunks are queued and the
//! kernel's send buffer is full, so a peer that never reads cannot make the
//! process buffer without bound.
//!
//! # Closing
//!
//! Closing the duplex closes the sending direction: what was sent is written,
//! then the peer sees the end (a FIN); what the peer still sends can be read
//! until it closes its side. Dropping every clone of the duplex closes both.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::net::{self, conn, Connections, ListenSocket, Server, ServerParts, Socket};
use crate::stream::Duplex;
use crate::tls::{ClientTls, ServerTls, TlsInfo};
use crate::{Error, ErrorKind, Result};

/// Options of [`start_server`]. `TcpServerOptions::default()` listens on
/// 127.0.0.1 at a port the system picks, without TLS.
#[derive(Clone, Debug)]
pub struct TcpServerOptions {
    /// The port to listen on; 0 picks a free one (see [`Server::port`]). Default: 0.
    pub port: u16,
    /// The address to listen on. Default: 127.0.0.1 (loopback only; use
    /// `0.0.0.0` or `::` to accept connections from other hosts).
    pub host: IpAddr,
    /// Accept only TLS, finishing the handshake before the handler runs. Default: none.
    pub tls: Option<ServerTls>,
    /// Listen on this Unix domain socket path instead of TCP; the file is
    /// created, and removed when the server closes. Default: none.
    pub unix: Option<PathBuf>,
    /// Adopt this already-bound listening socket instead of binding one
    /// (socket activation); `port` and `host` are then ignored. Default: none.
    pub listen_socket: Option<ListenSocket>,
    /// Disable Nagle's algorithm on accepted connections. Default: true.
    pub nodelay: bool,
    /// Send TCP keep-alive probes after this much idle time. Default: none.
    pub keepalive: Option<Duration>,
    /// `SO_REUSEADDR` on the listening socket. Default: true.
    pub reuse_address: bool,
    /// `SO_REUSEPORT` on the listening socket (Unix). Default: false.
    pub reuse_port: bool,
    /// The listen backlog. Default: 1024.
    pub backlog: u32,
    /// The longest a TLS handshake may take before the connection is dropped. Default: 10 s.
    pub handshake_timeout: Duration,
    /// How long [`Server::close`] lets open connections finish before closing
    /// them. Default: 15 s, as Aleph.
    pub shutdown_timeout: Duration,
}

impl Default for TcpServerOptions {
    fn default() -> TcpServerOptions {
        TcpServerOptions {
            port: 0,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tls: None,
            unix: None,
            listen_socket: None,
            nodelay: true,
            keepalive: None,
            reuse_address: true,
            reuse_port: false,
            backlog: 1024,
            handshake_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(15),
        }
    }
}

/// Options of [`client`]. Build with [`TcpClientOptions::new`] and struct update.
#[derive(Clone, Debug)]
pub struct TcpClientOptions {
    /// The host to connect to: a name or an IP address. Default: "127.0.0.1".
    pub host: String,
    /// The port to connect to. Default: 0 (set it).
    pub port: u16,
    /// Connect with TLS, verifying the server's certificate for `host` (or
    /// `server_name`). Default: none.
    pub tls: Option<ClientTls>,
    /// The name to verify and send as SNI, when it differs from `host`. Default: none.
    pub server_name: Option<String>,
    /// Connect to this Unix domain socket path instead of `host:port`. Default: none.
    pub unix: Option<PathBuf>,
    /// Bind the local end to this address before connecting. Default: none.
    pub local_addr: Option<SocketAddr>,
    /// The longest the whole connect may take: resolving the host, connecting
    /// and the TLS handshake together. Default: 30 s, as Aleph.
    pub connect_timeout: Duration,
    /// Disable Nagle's algorithm. Default: true.
    pub nodelay: bool,
    /// Send TCP keep-alive probes after this much idle time. Default: none.
    pub keepalive: Option<Duration>,
}

impl TcpClientOptions {
    /// Options to connect to `host:port` with the defaults otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tcp::TcpClientOptions;
    ///
    /// let opts = TcpClientOptions { nodelay: false, ..TcpClientOptions::new("example.com", 7) };
    /// assert_eq!(opts.port, 7);
    /// ```
    pub fn new(host: impl Into<String>, port: u16) -> TcpClientOptions {
        TcpClientOptions {
            host: host.into(),
            port,
            ..TcpClientOptions::default()
        }
    }
}

impl Default for TcpClientOptions {
    fn default() -> TcpClientOptions {
        TcpClientOptions {
            host: "127.0.0.1".to_owned(),
            port: 0,
            tls: None,
            server_name: None,
            unix: None,
            local_addr: None,
            connect_timeout: Duration::from_secs(30),
            nodelay: true,
            keepalive: None,
        }
    }
}

/// What a handler (or a client) knows about a connection.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The peer's address (`None` over a Unix socket).
    pub remote_addr: Option<SocketAddr>,
    /// Our end's address (`None` over a Unix socket).
    pub local_addr: Option<SocketAddr>,
    /// The Unix socket path, for a connection over one.
    pub unix_path: Option<PathBuf>,
    /// The TLS session, once its handshake is done: protocol, ALPN, SNI and
    /// the peer's certificates (the client's, under mutual TLS).
    pub tls: Option<TlsInfo>,
}

impl ConnectionInfo {
    /// How the peer is named in logs and errors.
    fn peer_name(&self) -> String {
        match (&self.remote_addr, &self.unix_path) {
            (Some(addr), _) => addr.to_string(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => "unix peer".to_owned(),
        }
    }
}

/// A boxed future of nothing, as the tasks here run them.
type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a connection handler may return: nothing, a `Result<()>`, or a future
/// of either. An `Err` (or a panic) closes that connection only, and is logged
/// with the peer's address.
///
/// The marker `M` only keeps the impls apart; it is inferred.
pub trait HandlerOutput<M>: Send + 'static {
    /// The outcome as a future.
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;
}

/// Marks [`HandlerOutput`] for handlers that return `()`.
#[derive(Debug)]
pub enum Unit {}
/// Marks [`HandlerOutput`] for handlers that return `Result<()>`.
#[derive(Debug)]
pub enum Fallible {}
/// Marks [`HandlerOutput`] for async handlers whose future yields `()`.
#[derive(Debug)]
pub enum AsyncUnit {}
/// Marks [`HandlerOutput`] for async handlers whose future yields `Result<()>`.
#[derive(Debug)]
pub enum AsyncFallible {}

impl HandlerOutput<Unit> for () {
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl HandlerOutput<Fallible> for Result<()> {
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(std::future::ready(self))
    }
}

impl<F> HandlerOutput<AsyncUnit> for F
where
    F: Future<Output = ()> + Send + 'static,
{
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self.map(Ok))
    }
}

impl<F> HandlerOutput<AsyncFallible> for F
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self)
    }
}

/// Starts a server that calls `handler` with each connection as a duplex
/// byte stream and its [`ConnectionInfo`].
///
/// With TLS, the handshake finishes before the handler runs; a client that
/// fails it or goes away during it never reaches the handler. The handler
/// may return at once (the connection lives as long as something holds the
/// duplex) or run for the connection's life. See the [module docs](self) for
/// backpressure and closing.
///
/// # Errors
///
/// [`Io`](ErrorKind::Io) when the socket cannot be bound (address in use, no
/// permission), naming the address.
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn start_server<F, R, M>(handler: F, options: TcpServerOptions) -> Result<Server>
where
    F: Fn(Duplex<Bytes, Bytes>, ConnectionInfo) -> R + Send + Sync + 'static,
    R: HandlerOutput<M>,
{
    serve(options, move |socket, info| {
        let (duplex, pumps) = into_pumps(socket, &info);
        let outcome = run_handler(&handler, duplex.clone(), info.clone());
        async move {
            let handled = async move {
                if let Err(error) = outcome.await {
                    tracing::warn!(peer = %info.peer_name(), %error, "connection handler failed; closing its connection");
                    duplex.receiver().close_with_error(error.clone());
                    duplex.close_with_error(error);
                }
            };
            // The handler's future and the connection's bytes share this task.
            tokio::join!(handled, pumps);
        }
    })
    .await
}

/// Starts a server whose handler gets the connection itself, as a tokio
/// stream ([`RawStream`]), for protocols that want every last cycle.
///
/// Everything else is as [`start_server`]; the connection ends when the
/// handler drops the stream.
///
/// # Errors
///
/// As [`start_server`].
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn start_raw_server<F, R, M>(handler: F, options: TcpServerOptions) -> Result<Server>
where
    F: Fn(RawStream, ConnectionInfo) -> R + Send + Sync + 'static,
    R: HandlerOutput<M>,
{
    serve(options, move |socket, info| {
        let peer = info.peer_name();
        let outcome = run_handler(&handler, socket, info);
        async move {
            if let Err(error) = outcome.await {
                tracing::warn!(%peer, %error, "connection handler failed");
            }
        }
    })
    .await
}

/// Calls the handler, turning a panic in it (or in its future) into an error.
fn run_handler<F, S, R, M>(
    handler: &F,
    conn: S,
    info: ConnectionInfo,
) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>
where
    F: Fn(S, ConnectionInfo) -> R,
    R: HandlerOutput<M>,
{
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(conn, info)));
    match called {
        Ok(output) => Box::pin(
            std::panic::AssertUnwindSafe(output.into_outcome())
                .catch_unwind()
                .map(|outcome| match outcome {
                    Ok(result) => result,
                    Err(panic) => Err(panicked(&*panic)),
                }),
        ),
        Err(panic) => Box::pin(std::future::ready(Err(panicked(&*panic)))),
    }
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    Error::new(
        ErrorKind::Panic,
        format!("connection handler panicked: {message}"),
    )
}

/// Binds the listener and runs the accept loop; `serve_one` handles a
/// connection once it is established (TLS included).
async fn serve<S, Fut>(options: TcpServerOptions, serve_one: S) -> Result<Server>
where
    S: Fn(RawStream, ConnectionInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let parts_timeout = options.shutdown_timeout;
    let serve_one = Arc::new(serve_one);
    let tls = options.tls.clone();
    let handshake_timeout = options.handshake_timeout;
    let stream_options = net::StreamOptions {
        nodelay: options.nodelay,
        keepalive: options.keepalive,
    };

    if let Some(path) = options.unix.clone() {
        let listener = tokio::net::UnixListener::bind(&path)
            .map_err(|e| Error::from_io(e, format!("cannot listen on {}", path.display())))?;
        let parts = ServerParts {
            local_addr: None,
            unix_path: Some(path.clone()),
            shutdown_timeout: parts_timeout,
        };
        return Ok(Server::start(parts, move |stop, connections| async move {
            loop {
                let accepted = tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let info = ConnectionInfo {
                            unix_path: Some(path.clone()),
                            ..ConnectionInfo::default()
                        };
                        establish(
                            &connections,
                            Socket::Unix(stream),
                            info,
                            tls.clone(),
                            handshake_timeout,
                            serve_one.clone(),
                        );
                    }
                    Err(error) => accept_failed(error, &stop).await,
                }
            }
            drop(listener);
            let _ = std::fs::remove_file(&path);
        }));
    }

    let (listener, restore) = match &options.listen_socket {
        Some(socket) => {
            let (listener, restore) = socket
                .adopt()
                .map_err(|e| Error::from_io(e, "cannot adopt the listening socket"))?;
            (listener, Some(restore))
        }
        None => (
            net::bind_tcp(
                SocketAddr::new(options.host, options.port),
                net::ListenOptions {
                    reuse_address: options.reuse_address,
                    reuse_port: options.reuse_port,
                    backlog: options.backlog,
                },
            )?,
            None,
        ),
    };
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::from_io(e, "cannot read the listening address"))?;
    let parts = ServerParts {
        local_addr: Some(local_addr),
        unix_path: None,
        shutdown_timeout: parts_timeout,
    };
    Ok(Server::start(parts, move |stop, connections| async move {
        loop {
            let accepted = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, remote)) => {
                    if let Err(error) = stream_options.apply(&stream) {
                        tracing::debug!(%remote, %error, "cannot set socket options");
                    }
                    let info = ConnectionInfo {
                        remote_addr: Some(remote),
                        local_addr: stream.local_addr().ok(),
                        ..ConnectionInfo::default()
                    };
                    establish(
                        &connections,
                        Socket::Tcp(stream),
                        info,
                        tls.clone(),
                        handshake_timeout,
                        serve_one.clone(),
                    );
                }
                Err(error) => accept_failed(error, &stop).await,
            }
        }
        drop(listener);
        drop(restore);
    }))
}

/// Accept errors (out of descriptors, a connection reset before accept) are
/// logged; a short pause keeps a persistent one from spinning the loop.
async fn accept_failed(error: std::io::Error, stop: &CancellationToken) {
    tracing::warn!(%error, "accept failed");
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(Duration::from_millis(50)) => {}
    }
}

/// Runs one connection's task: the TLS handshake if any, then `serve_one`.
fn establish<S, Fut>(
    connections: &Connections,
    socket: Socket,
    mut info: ConnectionInfo,
    tls: Option<ServerTls>,
    handshake_timeout: Duration,
    serve_one: Arc<S>,
) where
    S: Fn(RawStream, ConnectionInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    connections.spawn(async move {
        let stream = match tls {
            None => RawStream::Plain(socket),
            Some(tls) => {
                let peer = info.peer_name();
                match tokio::time::timeout(handshake_timeout, tls.acceptor().accept(socket)).await {
                    Ok(Ok(stream)) => {
                        info.tls = Some(TlsInfo::from_server(stream.get_ref().1));
                        RawStream::ServerTls(Box::new(stream))
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                }
            }
        };
        serve_one(stream, info).await;
    });
}

/// The duplex of an established connection and the future that serves it.
fn into_pumps(stream: RawStream, info: &ConnectionInfo) -> (Duplex<Bytes, Bytes>, BoxFuture) {
    let peer = conn::Peer {
        kind: if info.tls.is_some() { "tls" } else { "tcp" },
        remote: info.remote_addr,
        local: info.local_addr,
        name: info.peer_name().into(),
    };
    fn boxed<F: Future<Output = ()> + Send + 'static>(
        pumps: conn::Pumps<F>,
    ) -> (Duplex<Bytes, Bytes>, BoxFuture) {
        (pumps.duplex, Box::pin(pumps.run))
    }
    match stream {
        RawStream::Plain(Socket::Tcp(tcp)) => {
            let (r, w) = tcp.into_split();
            boxed(conn::pumps(r, w, peer))
        }
        RawStream::Plain(Socket::Unix(unix)) => {
            let (r, w) = unix.into_split();
            boxed(conn::pumps(
                r,
                w,
                conn::Peer {
                    kind: "unix",
                    ..peer
                },
            ))
        }
        other => {
            let (r, w) = tokio::io::split(other);
            boxed(conn::pumps(r, w, peer))
        }
    }
}

/// Connects to a server and yields the connection as a duplex byte stream,
/// once the TLS handshake (if any) is done.
///
/// # Errors
///
/// Distinct kinds for what failed: [`Dns`](ErrorKind::Dns) when the host
/// cannot be resolved, [`Connect`](ErrorKind::Connect) when the connection is
/// refused or unreachable, [`Timeout`](ErrorKind::Timeout) when
/// `connect_timeout` passes, [`Tls`](ErrorKind::Tls) when the handshake fails
/// (an untrusted certificate, a host name mismatch). Each message names the
/// host and the reason.
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn client(options: TcpClientOptions) -> Result<Duplex<Bytes, Bytes>> {
    let (stream, info) = connect_raw(options).await?;
    let (duplex, pumps) = into_pumps(stream, &info);
    tokio::spawn(pumps);
    Ok(duplex)
}

/// Connects as [`client`] does, but yields the tokio stream itself and what is
/// known of the connection.
///
/// # Errors
///
/// As [`client`].
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn connect_raw(options: TcpClientOptions) -> Result<(RawStream, ConnectionInfo)> {
    let timeout = options.connect_timeout;
    let target = match &options.unix {
        Some(path) => path.display().to_string(),
        None => format!("{}:{}", options.host, options.port),
    };
    // One deadline for all of it: resolving, connecting and the TLS handshake;
    // the error says which step it cut short.
    let phase = AtomicU8::new(CONNECTING);
    match tokio::time::timeout(timeout, connect_within(&options, &target, &phase)).await {
        Ok(connected) => connected,
        Err(_) => {
            let step = match phase.load(Ordering::Relaxed) {
                RESOLVING => format!("resolving {}", options.host),
                HANDSHAKE => format!("TLS handshake with {target}"),
                _ => format!("connect to {target}"),
            };
            Err(Error::new(
                ErrorKind::Timeout,
                format!("{step} timed out after {timeout:?}"),
            ))
        }
    }
}

const RESOLVING: u8 = 0;
const CONNECTING: u8 = 1;
const HANDSHAKE: u8 = 2;

async fn connect_within(
    options: &TcpClientOptions,
    target: &str,
    phase: &AtomicU8,
) -> Result<(RawStream, ConnectionInfo)> {
    let mut info = ConnectionInfo::default();
    let socket = match &options.unix {
        Some(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|error| {
                    Error::with_source(
                        ErrorKind::Connect,
                        format!("connect to {target} failed: {error}"),
                        error,
                    )
                })?;
            info.unix_path = Some(path.clone());
            Socket::Unix(stream)
        }
        None => {
            phase.store(RESOLVING, Ordering::Relaxed);
            let addrs = net::resolve(&options.host, options.port).await?;
            phase.store(CONNECTING, Ordering::Relaxed);
            let stream = net::connect_tcp(
                target,
                &addrs,
                options.local_addr,
                net::StreamOptions {
                    nodelay: options.nodelay,
                    keepalive: options.keepalive,
                },
            )
            .await?;
            info.remote_addr = stream.peer_addr().ok();
            info.local_addr = stream.local_addr().ok();
            Socket::Tcp(stream)
        }
    };
    let Some(tls) = &options.tls else {
        return Ok((RawStream::Plain(socket), info));
    };
    let name = options.server_name.as_deref().unwrap_or(&options.host);
    let server_name = crate::tls::server_name(name)?;
    let peer = info.peer_name();
    phase.store(HANDSHAKE, Ordering::Relaxed);
    let stream = tls
        .connector()
        .connect(server_name, socket)
        .await
        .map_err(|error| crate::tls::handshake_error(&peer, error))?;
    info.tls = Some(TlsInfo::from_client(stream.get_ref().1, name));
    Ok((RawStream::ClientTls(Box::new(stream)), info))
}

/// A connection as tokio sees it, for raw mode: a plain socket or TLS over one.
///
/// It is `AsyncRead + AsyncWrite`; match on it to reach the tokio stream or
/// the rustls session inside.
#[derive(Debug)]
pub enum RawStream {
    /// No TLS.
    Plain(Socket),
    /// A server's TLS session.
    ServerTls(Box<tokio_rustls::server::TlsStream<Socket>>),
    /// A client's TLS session.
    ClientTls(Box<tokio_rustls::client::TlsStream<Socket>>),
}

impl AsyncRead for RawStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            RawStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            RawStream::ServerTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            RawStream::ClientTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RawStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            RawStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            RawStream::ServerTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            RawStream::ClientTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            RawStream::Plain(s) => Pin::new(s).poll_flush(cx),
            RawStream::ServerTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            RawStream::ClientTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            RawStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            RawStream::ServerTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            RawStream::ClientTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
