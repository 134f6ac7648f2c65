//! The socket types handed out in raw mode, and pre-bound listening sockets.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A connected stream socket: TCP or a Unix domain socket.
///
/// It is what a TLS stream wraps in raw mode, and it is itself `AsyncRead +
/// AsyncWrite`. Match on it to reach the tokio stream inside.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use aleph::net::Socket;
/// use aleph::tcp::{self, RawStream, TcpClientOptions, TcpServerOptions};
///
/// fn describe(socket: &Socket) -> std::io::Result<String> {
///     Ok(match socket {
///         Socket::Tcp(tcp) => format!("TCP to {}", tcp.peer_addr()?),
///         Socket::Unix(unix) => format!("Unix socket {:?}", unix.peer_addr()?.as_pathname()),
///     })
/// }
///
/// let server = tcp::start_server_raw(|_stream, _info| {}, TcpServerOptions::default()).await?;
/// let (stream, _info) =
///     tcp::client_raw(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// let RawStream::Plain(socket) = stream else { unreachable!("no TLS was asked for") };
/// assert_eq!(describe(&socket)?, format!("TCP to 127.0.0.1:{}", server.port()));
/// drop(socket);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub enum Socket {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix domain socket connection.
    Unix(UnixStream),
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Socket::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A listening TCP socket bound elsewhere (socket activation, a parent
/// process), for a server to adopt: Aleph's `:listen-socket`.
///
/// The server listens on a duplicate of the descriptor, so the original stays
/// open and usable by its owner after the server closes. While the server
/// runs the socket is in non-blocking mode (the descriptors share that flag);
/// its mode is restored when the server stops. Cloning is cheap.
///
/// # Examples
///
/// ```
/// use aleph::net::ListenSocket;
///
/// let bound = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let socket = ListenSocket::from(bound);
/// assert!(socket.local_addr().unwrap().port() != 0);
/// ```
#[derive(Clone, Debug)]
pub struct ListenSocket(Arc<std::net::TcpListener>);

impl ListenSocket {
    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// The operating system's error, if it cannot tell.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.local_addr()
    }

    /// A tokio listener on a duplicate of the descriptor, and a guard that
    /// gives the owner's socket its blocking mode back when dropped: the two
    /// descriptors share that flag, and tokio needs it non-blocking.
    pub(crate) fn adopt(&self) -> io::Result<(tokio::net::TcpListener, RestoreBlocking)> {
        let was_nonblocking = socket2::SockRef::from(&*self.0).nonblocking()?;
        let listener = self.0.try_clone()?;
        listener.set_nonblocking(true)?;
        let restore = RestoreBlocking {
            socket: self.0.clone(),
            was_nonblocking,
        };
        Ok((tokio::net::TcpListener::from_std(listener)?, restore))
    }
}

/// Puts an adopted socket's blocking mode back as its owner had it.
pub(crate) struct RestoreBlocking {
    socket: Arc<std::net::TcpListener>,
    was_nonblocking: bool,
}

impl Drop for RestoreBlocking {
    fn drop(&mut self) {
        if let Err(error) = self.socket.set_nonblocking(self.was_nonblocking) {
            tracing::debug!(%error, "cannot restore the adopted socket's blocking mode");
        }
    }
}

impl From<std::net::TcpListener> for ListenSocket {
    fn from(listener: std::net::TcpListener) -> ListenSocket {
        ListenSocket(Arc::new(listener))
    }
}
