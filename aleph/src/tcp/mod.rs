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
//! What a connection holds is bounded in bytes, each way, by the options'
//! [`Buffers`](crate::net::Buffers): it reads at most
//! [`read_ahead`](crate::net::Buffers::read_ahead) bytes (64 KiB) ahead of
//! the handler and then stops reading, so a slow consumer slows the peer
//! down; and sends wait once
//! [`write_high_water`](crate::net::Buffers::write_high_water) bytes (64 KiB)
//! are queued and the kernel's send buffer is full, so a peer that never
//! reads cannot make the process buffer without bound.
//!
//! # Raw mode
//!
//! [`start_server_raw`] and [`client_raw`] take the same options and hand out
//! the connection as tokio sees it ([`RawStream`]); see
//! [`net`](crate::net#raw-mode) for the naming.
//!
//! # Closing
//!
//! Closing the duplex closes the sending direction: what was sent is written,
//! then the peer sees the end (a FIN); what the peer still sends can be read
//! until it closes its side. Dropping every clone of the duplex closes both.

use bytes::Bytes;

use crate::net::connector::{self, ConnectorOptions};
use crate::net::listener::{self, ListenerOptions, StreamOptions};
use crate::net::pump;
use crate::net::{run_handler, HandlerOutput, Server};
use crate::stream::Duplex;
use crate::Result;

mod options;

pub use crate::net::{ConnectionInfo, RawStream};
pub use options::{TcpClientOptions, TcpServerOptions};

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
/// [`Io`](crate::ErrorKind::Io) when the socket cannot be bound (address in use, no
/// permission), naming the address.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// Cancel safe: the server is bound and started in the future's first poll,
/// which also completes it; a future dropped before that starts nothing.
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
    let buffers = options.buffers;
    listener::serve(listener_options(options), move |socket, info| {
        let (duplex, pumps) = pump::duplex_of(socket, &info, buffers);
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
/// # Cancel safety
///
/// Cancel safe: the server is bound and started in the future's first poll,
/// which also completes it; a future dropped before that starts nothing.
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
/// let server = tcp::start_server_raw(
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
///     tcp::client_raw(TcpClientOptions::new("127.0.0.1", server.port())).await?;
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
pub async fn start_server_raw<F, R, M>(handler: F, options: TcpServerOptions) -> Result<Server>
where
    F: Fn(RawStream, ConnectionInfo) -> R + Send + Sync + 'static,
    R: HandlerOutput<M>,
{
    listener::serve(listener_options(options), move |socket, info| {
        let peer = info.peer_name();
        let outcome = run_handler(&handler, socket, info);
        async move {
            if let Err(error) = outcome.await {
                tracing::warn!(%peer, %error, "connection handler failed");
            }
        }
    })
}

fn listener_options(options: TcpServerOptions) -> ListenerOptions {
    ListenerOptions {
        host: options.host,
        port: options.port,
        unix: options.unix,
        listen_socket: options.listen_socket,
        reuse_address: options.reuse_address,
        reuse_port: options.reuse_port,
        backlog: options.backlog,
        stream: StreamOptions {
            nodelay: options.nodelay,
            keepalive: options.keepalive,
            notsent_lowat: None,
        },
        tls: options.tls,
        handshake_timeout: options.handshake_timeout,
        max_connections: options.max_connections,
        shutdown_timeout: options.shutdown_timeout,
    }
}

/// Connects to a server and yields the connection as a duplex byte stream,
/// once the TLS handshake (if any) is done.
///
/// # Errors
///
/// Distinct kinds for what failed: [`Dns`](crate::ErrorKind::Dns) when the host
/// cannot be resolved, [`Connect`](crate::ErrorKind::Connect) when the connection is
/// refused or unreachable, [`Timeout`](crate::ErrorKind::Timeout) when
/// `connect_timeout` passes, [`Tls`](crate::ErrorKind::Tls) when the handshake fails
/// (an untrusted certificate, a host name mismatch). Each message names the
/// host and the reason.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future gives up the connect at whichever step
/// it is (resolving, connecting, the TLS handshake); a socket already opened
/// is closed and no task is left behind.
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
    let buffers = options.buffers;
    let (stream, info) = client_raw(options).await?;
    let (duplex, pumps) = pump::duplex_of(stream, &info, buffers);
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
/// # Cancel safety
///
/// Cancel safe: dropping the future gives up the connect at whichever step
/// it is (resolving, connecting, the TLS handshake); a socket already opened
/// is closed and no task is left behind.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
///
/// let server = tcp::start_server_raw(|_stream, _info| {}, TcpServerOptions::default()).await?;
///
/// let (stream, info) =
///     tcp::client_raw(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// assert_eq!(info.remote_addr, server.local_addr());
/// assert!(info.local_addr.is_some_and(|addr| addr.ip().is_loopback()));
/// assert!(info.tls.is_none()); // no TLS was asked for
/// assert!(info.unix_path.is_none());
/// drop(stream);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
pub async fn client_raw(options: TcpClientOptions) -> Result<(RawStream, ConnectionInfo)> {
    connector::connect(&ConnectorOptions {
        host: options.host,
        port: options.port,
        unix: options.unix,
        local_addr: options.local_addr,
        stream: StreamOptions {
            nodelay: options.nodelay,
            keepalive: options.keepalive,
            notsent_lowat: None,
        },
        tls: options.tls,
        server_name: options.server_name,
        connect_timeout: options.connect_timeout,
    })
    .await
}
