//! Raw mode: the connection as tokio sees it.

use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::Socket;

/// A connection as tokio sees it, for raw mode: a plain socket or TLS over one.
///
/// It is `AsyncRead + AsyncWrite`; match on it to reach the tokio stream or
/// the rustls session inside.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use aleph::net::Socket;
/// use aleph::net::RawStream;
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
///
/// let server = tcp::start_server_raw(|_stream, _info| {}, TcpServerOptions::default()).await?;
/// let (stream, _info) =
///     tcp::client_raw(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// match &stream {
///     RawStream::Plain(Socket::Tcp(tcp)) => {
///         assert!(tcp.nodelay()?); // TcpClientOptions::nodelay is true by default
///         assert_eq!(Some(tcp.peer_addr()?), server.local_addr());
///     }
///     RawStream::Plain(Socket::Unix(_)) => unreachable!("we dialed TCP"),
///     RawStream::ServerTls(_) | RawStream::ClientTls(_) => unreachable!("we asked for no TLS"),
/// }
/// drop(stream);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
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

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            RawStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            RawStream::ServerTls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            RawStream::ClientTls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            RawStream::Plain(s) => s.is_write_vectored(),
            RawStream::ServerTls(s) => s.is_write_vectored(),
            RawStream::ClientTls(s) => s.is_write_vectored(),
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
