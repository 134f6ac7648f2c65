//! The listening side every server protocol stands on: bind (TCP, a Unix
//! socket or an adopted pre-bound socket), accept with back-off on errors and
//! a cap on open connections, the TLS handshake under its own timeout, and
//! then the protocol's own code with the connection and its [`ConnectionInfo`].
//!
//! What a protocol gets is a [`RawStream`]: plain or TLS, `AsyncRead +
//! AsyncWrite`. TCP turns it into a duplex of bytes; HTTP hands it to hyper.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::server::{Connections, ServerParts, Signal};
use super::socket::RestoreBlocking;
use super::{ConnectionInfo, ListenSocket, RawStream, Server, Socket};
use crate::tls::{ServerTls, TlsInfo};
use crate::{Error, Result};

/// Where and how a server listens; a protocol's server options map onto it.
#[derive(Clone, Debug)]
pub(crate) struct ListenerOptions {
    pub(crate) host: IpAddr,
    pub(crate) port: u16,
    pub(crate) unix: Option<PathBuf>,
    pub(crate) listen_socket: Option<ListenSocket>,
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    pub(crate) backlog: u32,
    pub(crate) stream: StreamOptions,
    pub(crate) tls: Option<ServerTls>,
    pub(crate) handshake_timeout: Duration,
    /// At most this many connections at once; the next waits in the backlog.
    pub(crate) max_connections: Option<usize>,
    pub(crate) shutdown_timeout: Duration,
}

/// TCP options applied to every connected stream, accepted or dialled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamOptions {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Duration>,
    /// `TCP_NOTSENT_LOWAT` (Linux and Android; elsewhere ignored): the
    /// socket takes more bytes only once fewer than this wait unsent, so a
    /// writer sees a slow reader's progress in steps of about this size
    /// instead of a third of the (autotuned, megabytes) send buffer.
    pub(crate) notsent_lowat: Option<u32>,
}

impl StreamOptions {
    pub(crate) fn apply(&self, stream: &tokio::net::TcpStream) -> std::io::Result<()> {
        stream.set_nodelay(self.nodelay)?;
        if let Some(idle) = self.keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
        }
        #[cfg(any(target_os = "android", target_os = "linux"))]
        if let Some(lowat) = self.notsent_lowat {
            socket2::SockRef::from(stream).set_tcp_notsent_lowat(lowat)?;
        }
        Ok(())
    }
}

/// Binds the listener and runs the accept loop on the current runtime;
/// `serve_one` runs, in the connection's own task, once the connection is
/// established (its TLS handshake done).
///
/// # Errors
///
/// [`Io`](crate::ErrorKind::Io) naming the address when it cannot be bound.
pub(crate) fn serve<S, Fut>(options: ListenerOptions, serve_one: S) -> Result<Server>
where
    S: Fn(RawStream, ConnectionInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_draining(options, move |stream, info, _draining| {
        serve_one(stream, info)
    })
}

/// As [`serve`], for protocols that wind connections down themselves: the
/// signal handed to `serve_one` fires when the server starts closing
/// (HTTP then finishes the request in flight and says goodbye), before the
/// shutdown timeout cuts what is left.
///
/// # Errors
///
/// As [`serve`].
pub(crate) fn serve_draining<S, Fut>(options: ListenerOptions, serve_one: S) -> Result<Server>
where
    S: Fn(RawStream, ConnectionInfo, Signal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = Listener::bind(&options)?;
    let parts = ServerParts {
        local_addr: listener.local_addr()?,
        unix_path: options.unix.clone(),
        shutdown_timeout: options.shutdown_timeout,
    };
    let accept = AcceptLoop {
        listener,
        tls: options.tls,
        handshake_timeout: options.handshake_timeout,
        limit: options
            .max_connections
            .map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)))),
        serve_one: Arc::new(serve_one),
    };
    Ok(Server::start(parts, move |stop, connections| {
        accept.run(stop, connections)
    }))
}

struct AcceptLoop<S> {
    listener: Listener,
    tls: Option<ServerTls>,
    handshake_timeout: Duration,
    limit: Option<Arc<Semaphore>>,
    serve_one: Arc<S>,
}

/// The first pause after a failed accept; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

impl<S, Fut> AcceptLoop<S>
where
    S: Fn(RawStream, ConnectionInfo, Signal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    async fn run(self, stop: Signal, connections: Connections) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            // At the cap, nothing is accepted: the kernel's backlog holds the
            // next clients until a connection ends.
            let permit = match &self.limit {
                Some(limit) => tokio::select! {
                    biased;
                    () = stop.fired() => break,
                    permit = limit.clone().acquire_owned() => permit.ok(),
                },
                None => None,
            };
            let accepted = tokio::select! {
                biased;
                () = stop.fired() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((socket, info)) => {
                    backoff = FIRST_BACKOFF;
                    let tls = self.tls.clone();
                    let timeout = self.handshake_timeout;
                    let serve_one = self.serve_one.clone();
                    let stop = stop.clone();
                    connections.spawn(async move {
                        let _permit = permit;
                        // A handshake is not yet a connection to wait for: a
                        // server that stops abandons those under way.
                        let established = tokio::select! {
                            biased;
                            established = establish(socket, info, tls, timeout) => established,
                            () = stop.fired() => None,
                        };
                        if let Some((stream, info)) = established {
                            // From here on the signal tells the protocol
                            // that the server is draining.
                            serve_one(stream, info, stop).await;
                        }
                    });
                }
                Err(error) => {
                    // Out of descriptors, a connection reset before it was
                    // accepted: logged, and a growing pause keeps a lasting
                    // one from spinning the loop.
                    tracing::warn!(%error, pause = ?backoff, "accept failed");
                    tokio::select! {
                        () = stop.fired() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.listener.close();
    }
}

/// The TLS handshake, if any, under its timeout; `None` (logged) when the
/// client fails it or goes away: it never reaches the protocol.
async fn establish(
    socket: Socket,
    mut info: ConnectionInfo,
    tls: Option<ServerTls>,
    timeout: Duration,
) -> Option<(RawStream, ConnectionInfo)> {
    let Some(tls) = tls else {
        return Some((RawStream::Plain(socket), info));
    };
    let peer = info.peer_name();
    match tokio::time::timeout(timeout, tls.acceptor().accept(socket)).await {
        Ok(Ok(stream)) => {
            info.tls = Some(TlsInfo::from_server(stream.get_ref().1));
            Some((RawStream::ServerTls(Box::new(stream)), info))
        }
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, ?timeout, "TLS handshake timed out");
            None
        }
    }
}

/// A server's listening socket.
enum Listener {
    Tcp {
        listener: tokio::net::TcpListener,
        options: StreamOptions,
        /// Gives an adopted socket its blocking mode back when the server stops.
        restore: Option<RestoreBlocking>,
    },
    Unix {
        listener: tokio::net::UnixListener,
        path: PathBuf,
        /// The socket file's identity (device, inode) when it was made: only
        /// that file is removed at close, not one made there since.
        file: Option<(u64, u64)>,
    },
}

impl Listener {
    fn bind(options: &ListenerOptions) -> Result<Listener> {
        if let Some(path) = &options.unix {
            let listener = bind_unix(path)
                .map_err(|e| Error::from_io(e, format!("cannot listen on {}", path.display())))?;
            return Ok(Listener::Unix {
                listener,
                path: path.clone(),
                file: file_identity(path),
            });
        }
        let (listener, restore) = match &options.listen_socket {
            Some(socket) => {
                let (listener, restore) = socket
                    .adopt()
                    .map_err(|e| Error::from_io(e, "cannot adopt the listening socket"))?;
                (listener, Some(restore))
            }
            None => (bind_tcp(options)?, None),
        };
        Ok(Listener::Tcp {
            listener,
            options: options.stream,
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
            Listener::Unix { listener, path, .. } => {
                let (stream, _) = listener.accept().await?;
                let info = ConnectionInfo {
                    unix_path: Some(path.clone()),
                    ..ConnectionInfo::default()
                };
                Ok((Socket::Unix(stream), info))
            }
        }
    }

    /// Stops listening: the socket is closed, a Unix socket's file removed
    /// (if it is still the one it made), an adopted socket's blocking mode
    /// restored.
    fn close(self) {
        match self {
            Listener::Tcp {
                listener, restore, ..
            } => {
                drop(listener);
                drop(restore);
            }
            Listener::Unix {
                listener,
                path,
                file,
            } => {
                drop(listener);
                if file.is_some() && file_identity(&path) == file {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
}

/// The device and inode of the file at `path`, if there is one.
fn file_identity(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;

    std::fs::symlink_metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// Binds a Unix socket listener at `path`, taking over a socket file that
/// nobody listens on any more (a server that died without closing leaves
/// one); a live server's socket and any other kind of file are left alone.
fn bind_unix(path: &std::path::Path) -> std::io::Result<tokio::net::UnixListener> {
    match tokio::net::UnixListener::bind(path) {
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse && is_stale_socket(path) => {
            tracing::info!(path = %path.display(), "replacing a stale socket file");
            std::fs::remove_file(path)?;
            tokio::net::UnixListener::bind(path)
        }
        bound => bound,
    }
}

/// True if `path` is a socket file that refuses connections: nobody listens.
/// The connect does not block (a live server with a full backlog answers
/// "would block", which is not stale).
fn is_stale_socket(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;

    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if !is_socket {
        return false;
    }
    let Ok(address) = socket2::SockAddr::unix(path) else {
        return false;
    };
    let Ok(probe) = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None) else {
        return false;
    };
    if probe.set_nonblocking(true).is_err() {
        return false;
    }
    matches!(probe.connect(&address), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// Binds a TCP listener with the options' socket options.
fn bind_tcp(options: &ListenerOptions) -> Result<tokio::net::TcpListener> {
    let addr = SocketAddr::new(options.host, options.port);
    let fail = |e: std::io::Error| Error::from_io(e, format!("cannot listen on {addr}"));
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(options.reuse_address).map_err(fail)?;
    #[cfg(unix)]
    socket.set_reuseport(options.reuse_port).map_err(fail)?;
    socket.bind(addr).map_err(fail)?;
    socket.listen(options.backlog).map_err(fail)
}
