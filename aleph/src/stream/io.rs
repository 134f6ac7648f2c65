//! `DuplexIo`: a duplex of byte chunks seen as tokio's `AsyncRead` + `AsyncWrite`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Duplex, Receiver, Sender};
use crate::{Error, ErrorKind};

/// The most one `poll_write` takes: 64 KiB. A longer slice is written in part,
/// as `AsyncWrite` allows, so that no chunk in the channel is larger.
const MAX_WRITE: usize = 64 * 1024;

impl Duplex<Bytes, Bytes> {
    /// Turns this duplex into a tokio [`AsyncRead`] + [`AsyncWrite`], for
    /// codecs (`tokio_util::codec::Framed`) and anything else that speaks
    /// tokio's io traits.
    ///
    /// See [`DuplexIo`] for how reads, writes, flushes and shutdown map onto
    /// the two directions.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use aleph::bytes::Bytes;
    /// use aleph::stream::{Channel, Duplex};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let (inbound, outbound) = (Channel::buffered(4), Channel::buffered(4));
    /// let mut io = Duplex::from_parts(inbound.receiver(), outbound.sender()).into_io();
    ///
    /// io.write_all(b"ping").await?;
    /// io.flush().await?;
    /// assert_eq!(outbound.recv().await.unwrap(), "ping");
    ///
    /// inbound.send(Bytes::from("pong")).await.unwrap();
    /// inbound.close();
    /// let mut reply = String::new();
    /// io.read_to_string(&mut reply).await?;
    /// assert_eq!(reply, "pong");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_io(self) -> DuplexIo {
        let (rx, tx) = self.into_parts();
        DuplexIo {
            rx,
            chunk: Bytes::new(),
            tx,
            waiter: None,
            retry: None,
        }
    }
}

/// A [`Duplex<Bytes, Bytes>`](Duplex) as tokio's [`AsyncRead`] + [`AsyncWrite`],
/// from [`Duplex::into_io`].
///
/// **Reading** serves the chunks that arrive, copied into the caller's buffer,
/// taking the next chunk only when the current one is read: the peer is held
/// back while the reader is slow. When the receiving direction is drained a
/// read gives the end of file (`Ok(0)`) if it closed cleanly, or its error.
///
/// **Writing** copies the bytes written into a new chunk (up to 64 KiB per
/// write) and sends it. A write succeeds only once its chunk is in the
/// channel; while the channel has no room it waits (`Pending`) and takes
/// nothing, so a written byte is never held outside the channel:
/// [`flush`](tokio::io::AsyncWriteExt::flush) has nothing to deliver, and
/// dropping the `DuplexIo` right after a write loses nothing.
/// [`shutdown`](tokio::io::AsyncWriteExt::shutdown) closes the sending
/// direction (for a connection: what was written is sent, then the peer sees
/// the end).
///
/// Dropping it drops its handles on both directions: a direction with no other
/// handle left closes.
///
/// # Errors
///
/// A read after the receiving direction closed with an error fails with that
/// error inside an `io::Error` (`aleph`'s errors come back out unchanged
/// where aleph converts an `io::Error`). A write once the sending direction
/// is closed, by [`shutdown`](tokio::io::AsyncWriteExt::shutdown), by the
/// peer or by an error, fails with [`io::ErrorKind::BrokenPipe`]. A flush
/// always succeeds: every write it could wait for is already in the channel
/// (as for a TCP socket, a flush says nothing about what the peer did with
/// it).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::{Channel, Duplex};
/// use futures::{SinkExt, StreamExt};
/// use tokio_util::codec::{Framed, LinesCodec};
///
/// let (inbound, outbound) = (Channel::buffered(4), Channel::buffered(4));
/// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
/// let mut framed = Framed::new(duplex.into_io(), LinesCodec::new());
///
/// inbound.send(Bytes::from("hello\nwor")).await.unwrap();
/// inbound.send(Bytes::from("ld\n")).await.unwrap();
/// assert_eq!(framed.next().await.unwrap().unwrap(), "hello");
/// assert_eq!(framed.next().await.unwrap().unwrap(), "world");
///
/// framed.send("bye").await.unwrap();
/// // Flush, then close the sending direction.
/// SinkExt::<&str>::close(&mut framed).await.unwrap();
/// assert_eq!(bytes::to_string(outbound).await.unwrap(), "bye\n");
/// # }
/// ```
pub struct DuplexIo {
    rx: Receiver<Bytes>,
    /// What is left of the chunk being read.
    chunk: Bytes,
    tx: Sender<Bytes>,
    /// The parked write, waiting for room.
    waiter: Option<u64>,
    /// The copy made by the last write that had to wait: not written (the
    /// caller was told `Pending`), only kept to spare a second copy when the
    /// caller retries with the same bytes.
    retry: Option<Bytes>,
}

impl DuplexIo {
    /// The error of a write on a closed sending direction: `BrokenPipe`,
    /// carrying the error that closed it, if there was one.
    fn broken_pipe(&self, message: &'static str) -> io::Error {
        let error = self
            .tx
            .error()
            .unwrap_or_else(|| Error::new(ErrorKind::Closed, message));
        io::Error::new(io::ErrorKind::BrokenPipe, error)
    }
}

impl AsyncRead for DuplexIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        while this.chunk.is_empty() {
            match std::task::ready!(this.rx.poll_recv(cx)) {
                Some(chunk) => this.chunk = chunk,
                None => {
                    return Poll::Ready(match this.rx.error() {
                        Some(error) => Err(error.into_io()),
                        None => Ok(()),
                    })
                }
            }
        }
        let n = this.chunk.len().min(buf.remaining());
        buf.put_slice(&this.chunk[..n]);
        this.chunk.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for DuplexIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.tx.is_closed() {
            return Poll::Ready(Err(this.broken_pipe("write on a closed stream")));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = data.len().min(MAX_WRITE);
        // A `Pending` write must not count its chunk as written: the caller
        // may retry with other bytes, or never. So a chunk is sent only from
        // the bytes of the call that succeeds; the copy of a waiting write is
        // kept aside only to be reused if the retry brings the same bytes.
        let chunk = match this.retry.take() {
            Some(copy) if copy[..] == data[..n] => copy,
            _ => Bytes::copy_from_slice(&data[..n]),
        };
        let mut chunk = Some(chunk);
        match this.tx.shared().poll_send(
            &mut chunk,
            &mut this.waiter,
            super::core::Kind::Handle,
            cx,
        ) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(n)),
            Poll::Ready(Err(_)) => Poll::Ready(Err(this.broken_pipe("write on a closed stream"))),
            Poll::Pending => {
                this.retry = chunk;
                Poll::Pending
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every accepted write is already in the channel.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().tx.close();
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexIo {
    fn drop(&mut self) {
        self.tx
            .shared()
            .cancel_send(&mut self.waiter, super::core::Kind::Handle);
    }
}

impl std::fmt::Debug for DuplexIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplexIo")
            .field("reading", &self.rx.description())
            .field("buffered", &self.chunk.len())
            .field("writing", &self.tx.description())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplex_io_is_send_and_unpin() {
        fn assert<T: Send + Unpin + 'static>() {}
        assert::<DuplexIo>();
    }
}
