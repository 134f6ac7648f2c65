//! Reading a source through `AsyncRead` or, off the runtime, `std::io::Read`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::bytes::{Buf, Bytes};
use futures_core::Stream;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use tokio_util::io::StreamReader;

use super::{ByteSource, ByteStream};
use crate::stream::block_on;
use crate::Error;

/// Turns a source into a tokio [`AsyncRead`] (and [`AsyncBufRead`]).
///
/// Reads are served from the source's chunks as they come, copied only into
/// the caller's buffer; the next chunk is taken from the source only once the
/// current one is read, so the source's backpressure is kept. A source that
/// ends cleanly reads as the end of file (`Ok(0)`).
///
/// # Errors
///
/// A source that ended with an error makes reads fail with an `io::Error`
/// carrying that [`aleph::Error`](crate::Error), of kind `InvalidData` for a
/// [`Decode`](crate::ErrorKind::Decode) or
/// [`Protocol`](crate::ErrorKind::Protocol) error, `TimedOut`, `BrokenPipe` for
/// [`Closed`](crate::ErrorKind::Closed), `Other` otherwise. Every read after
/// it fails the same way, so a truncated source never reads as a clean end.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::Channel;
/// use tokio::io::AsyncReadExt;
///
/// let ch = Channel::buffered(2);
/// ch.send(Bytes::from("read ")).await.unwrap();
/// ch.send(Bytes::from("me")).await.unwrap();
/// ch.close();
/// let mut text = String::new();
/// bytes::into_async_read(ch).read_to_string(&mut text).await?;
/// assert_eq!(text, "read me");
/// # Ok(())
/// # }
/// ```
pub fn into_async_read(src: impl ByteSource) -> IntoAsyncRead {
    IntoAsyncRead {
        inner: StreamReader::new(IoChunks {
            source: src.into_byte_stream(),
            error: None,
        }),
    }
}

/// The reader of [`into_async_read`]: a tokio [`AsyncRead`] and
/// [`AsyncBufRead`] over a byte source.
pub struct IntoAsyncRead {
    inner: StreamReader<IoChunks, Bytes>,
}

/// The chunks of a source with its error as an `io::Error`, again and again.
struct IoChunks {
    source: ByteStream,
    error: Option<Error>,
}

impl Stream for IoChunks {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let this = self.get_mut();
        if let Some(error) = &this.error {
            return Poll::Ready(Some(Err(error.clone().into_io())));
        }
        match std::task::ready!(Pin::new(&mut this.source).poll_next(cx)) {
            Some(Ok(chunk)) => Poll::Ready(Some(Ok(chunk))),
            Some(Err(error)) => {
                this.error = Some(error.clone());
                Poll::Ready(Some(Err(error.into_io())))
            }
            None => Poll::Ready(None),
        }
    }
}

impl AsyncRead for IntoAsyncRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncBufRead for IntoAsyncRead {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.get_mut().inner).consume(amt);
    }
}

impl std::fmt::Debug for IntoAsyncRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntoAsyncRead")
            .field("source", &self.inner.get_ref().source)
            .finish_non_exhaustive()
    }
}

/// Turns a source into a blocking [`std::io::Read`] (and
/// [`BufRead`](std::io::BufRead)), for code that is not async.
///
/// Only for threads off the runtime's async workers: a thread of
/// `tokio::task::spawn_blocking`, or a plain thread. Each read blocks the
/// calling thread until the source has a chunk or ends; the source itself
/// keeps running on its runtime (a channel fed by a task, a socket). Reads are
/// served from the chunks as they come, copied only into the caller's buffer.
///
/// # Errors
///
/// As [`into_async_read`]: a source that ended with an error makes this and
/// every later read fail with an `io::Error` carrying it.
///
/// # Panics
///
/// A read panics when called from async code on a runtime thread, where
/// blocking would stall every task of that thread (tokio refuses it, as its
/// own `block_on` does). Creating the reader does not block and is fine
/// anywhere.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use std::io::Read;
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::Channel;
///
/// let ch = Channel::buffered(1);
/// let feeder = ch.clone();
/// tokio::spawn(async move {
///     for part in ["slow", "ly"] {
///         feeder.send(Bytes::from(part)).await.unwrap();
///     }
///     feeder.close();
/// });
/// let mut reader = bytes::into_blocking_reader(ch);
/// let text = tokio::task::spawn_blocking(move || {
///     let mut text = String::new();
///     reader.read_to_string(&mut text).map(|_| text)
/// })
/// .await
/// .unwrap()
/// .unwrap();
/// assert_eq!(text, "slowly");
/// # }
/// ```
pub fn into_blocking_reader(src: impl ByteSource) -> BlockingReader {
    BlockingReader {
        source: src.into_byte_stream(),
        chunk: Bytes::new(),
        error: None,
    }
}

/// The reader of [`into_blocking_reader`]: a blocking [`std::io::Read`] and
/// [`BufRead`](std::io::BufRead) over a byte source.
///
/// # Panics
///
/// Reading panics when called from async code on a runtime thread; see
/// [`into_blocking_reader`].
pub struct BlockingReader {
    source: ByteStream,
    /// What is left of the chunk being read.
    chunk: Bytes,
    /// The error that ended the source, returned by every read after it.
    error: Option<Error>,
}

impl io::Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let available = io::BufRead::fill_buf(self)?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

impl io::BufRead for BlockingReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.chunk.is_empty() {
            if let Some(error) = &self.error {
                return Err(error.clone().into_io());
            }
            let source = &mut self.source;
            match block_on(std::future::poll_fn(|cx| {
                Pin::new(&mut *source).poll_next(cx)
            })) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(error)) => self.error = Some(error),
                None => break,
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, amt: usize) {
        self.chunk.advance(amt.min(self.chunk.len()));
    }
}

impl std::fmt::Debug for BlockingReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingReader")
            .field("source", &self.source)
            .field("buffered", &self.chunk.len())
            .field("failed", &self.error.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_send_and_unpin() {
        fn assert<T: Send + Unpin + 'static>() {}
        assert::<IntoAsyncRead>();
        assert::<BlockingReader>();
    }
}
