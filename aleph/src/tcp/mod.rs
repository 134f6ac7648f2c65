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
//! use aleph::stream::{self, ConnectOptions};
//! use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
//!
//! let server = tcp::start_server(
//!     |conn, _info| {
//!         stream::connect(conn.clone(), conn, ConnectOptions::default());
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
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::net::{self, conn, Connections, Server, ServerParts, Socket};
use crate::stream::Duplex;
use crate::tls::{ServerTls, TlsInfo};
use crate::{Error, ErrorKind, Result};

mod handler;
mod options;
mod raw;

use handler::run_handler;
pub use handler::{AsyncFallible, AsyncUnit, Fallible, HandlerOutput, Unit};
pub use options::{ConnectionInfo, TcpClientOptions, TcpServerOptions};
pub use raw::RawStream;

/// A boxed future of nothing, as the tasks here run them.
type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

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
///
/// # Examples
///
/// An echo server written as an async handler, and a client talking to it:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes::{self, Bytes};
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
///
/// let server = tcp::start_server(
///     |conn, _info| async move {
///         // Send each chunk back until the client closes its side, then close ours.
///         while let Some(chunk) = conn.recv().await {
///             conn.send(chunk).await?;
///         }
///         conn.close();
///         Ok::<(), aleph::Error>(())
///     },
///     TcpServerOptions::default(),
/// )
/// .await?;
///
/// let client = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// client.send(Bytes::from("hello, echo")).await?;
/// client.close();
/// assert_eq!(bytes::to_bytes(client).await?, "hello, echo");
/// server.close().await;
/// # Ok(())
/// # }
/// ```
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
///
/// # Examples
///
/// A server that reads the whole request with tokio's io traits and answers
/// on the same stream; the client is raw too:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let server = tcp::start_raw_server(
///     |mut stream, _info| async move {
///         let mut name = String::new();
///         stream.read_to_string(&mut name).await.map_err(aleph::Error::other)?;
///         let reply = format!("hello, {name}");
///         stream.write_all(reply.as_bytes()).await.map_err(aleph::Error::other)?;
///         stream.shutdown().await.map_err(aleph::Error::other)
///     },
///     TcpServerOptions::default(),
/// )
/// .await?;
///
/// let (mut stream, _info) =
///     tcp::connect_raw(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// stream.write_all(b"world").await?;
/// stream.shutdown().await?; // the end of the request
/// let mut reply = String::new();
/// stream.read_to_string(&mut reply).await?;
/// assert_eq!(reply, "hello, world");
/// drop(stream);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
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

/// Binds the listener and runs the accept loop; `serve_one` handles a
/// connection once it is established (TLS included).
async fn serve<S, Fut>(options: TcpServerOptions, serve_one: S) -> Result<Server>
where
    S: Fn(RawStream, ConnectionInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let serve_one = Arc::new(serve_one);
    let tls = options.tls.clone();
    let handshake_timeout = options.handshake_timeout;
    let listener = Listener::bind(&options)?;
    let parts = ServerParts {
        local_addr: listener.local_addr()?,
        unix_path: options.unix.clone(),
        shutdown_timeout: options.shutdown_timeout,
    };
    Ok(Server::start(parts, move |stop, connections| async move {
        loop {
            let accepted = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((socket, info)) => establish(
                    &connections,
                    socket,
                    info,
                    tls.clone(),
                    handshake_timeout,
                    serve_one.clone(),
                ),
                Err(error) => accept_failed(error, &stop).await,
            }
        }
        listener.close();
    }))
}

/// A server's listening socket.
enum Listener {
    Tcp {
        listener: tokio::net::TcpListener,
        options: net::StreamOptions,
        /// Gives an adopted socket its blocking mode back when the server stops.
        restore: Option<net::RestoreBlocking>,
    },
    Unix {
        listener: tokio::net::UnixListener,
        path: PathBuf,
    },
}

impl Listener {
    fn bind(options: &TcpServerOptions) -> Result<Listener> {
        if let Some(path) = &options.unix {
            let listener = tokio::net::UnixListener::bind(path)
                .map_err(|e| Error::from_io(e, format!("cannot listen on {}", path.display())))?;
            return Ok(Listener::Unix {
                listener,
                path: path.clone(),
            });
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
        Ok(Listener::Tcp {
            listener,
            options: net::StreamOptions {
                nodelay: options.nodelay,
                keepalive: options.keepalive,
            },
            restore,
        })
    }

    fn local_addr(&self) -> Result<Option<SocketAddr>> {
        match self {
            Listener::Tcp { listener, .. } => listener
                .local_addr()
                .map(Some)
                .map_err(|e| Error::from_io(e, "cannot read the listening address")),
            Listener::Unix { .. } => Ok(None),
        }
    }

    /// The next connection, with what is known of it before any TLS.
    async fn accept(&self) -> std::io::Result<(Socket, ConnectionInfo)> {
        match self {
            Listener::Tcp {
                listener, options, ..
            } => {
                let (stream, remote) = listener.accept().await?;
                if let Err(error) = options.apply(&stream) {
                    tracing::debug!(%remote, %error, "cannot set socket options");
                }
                let info = ConnectionInfo {
                    remote_addr: Some(remote),
                    local_addr: stream.local_addr().ok(),
                    ..ConnectionInfo::default()
                };
                Ok((Socket::Tcp(stream), info))
            }
            Listener::Unix { listener, path } => {
                let (stream, _) = listener.accept().await?;
                let info = ConnectionInfo {
                    unix_path: Some(path.clone()),
                    ..ConnectionInfo::default()
                };
                Ok((Socket::Unix(stream), info))
            }
        }
    }

    /// Stops listening: the socket is closed, a Unix socket's file removed,
    /// an adopted socket's blocking mode restored.
    fn close(self) {
        match self {
            Listener::Tcp {
                listener, restore, ..
            } => {
                drop(listener);
                drop(restore);
            }
            Listener::Unix { listener, path } => {
                drop(listener);
                let _ = std::fs::remove_file(&path);
            }
        }
    }
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
///
/// # Examples
///
/// A line-by-line conversation with an echo server:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::{self, ConnectOptions};
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
/// use futures::TryStreamExt;
///
/// let server = tcp::start_server(
///     |conn, _info| {
///         stream::connect(conn.clone(), conn, ConnectOptions::default());
///     },
///     TcpServerOptions::default(),
/// )
/// .await?;
///
/// let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// let mut replies = bytes::lines(conn.clone());
/// conn.send(Bytes::from("ping\n")).await?;
/// assert_eq!(replies.try_next().await?.as_deref(), Some("ping"));
/// conn.send(Bytes::from("pong\n")).await?;
/// assert_eq!(replies.try_next().await?.as_deref(), Some("pong"));
/// drop((conn, replies));
/// server.close().await;
/// # Ok(())
/// # }
/// ```
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
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
///
/// let server = tcp::start_raw_server(|_stream, _info| {}, TcpServerOptions::default()).await?;
///
/// let (stream, info) =
///     tcp::connect_raw(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// assert_eq!(info.remote_addr, server.local_addr());
/// assert!(info.local_addr.is_some_and(|addr| addr.ip().is_loopback()));
/// assert!(info.tls.is_none()); // no TLS was asked for
/// assert!(info.unix_path.is_none());
/// drop(stream);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
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
