//! `ByteSource`, the one trait of byte streams, and `ByteStream`, what every
//! source becomes.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::bytes::{Bytes, BytesMut};
use futures_core::stream::{FusedStream, Stream, TryStream};
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::stream::{Channel, Duplex, Receiver};
use crate::{Error, Result};

/// How much a [`Reader`] asks its `AsyncRead` for at a time: 8 KiB.
const READ_CAPACITY: usize = 8 * 1024;

/// Anything that can become a stream of byte chunks.
///
/// Implemented for in-memory values ([`Bytes`], [`BytesMut`], `Vec<u8>`,
/// `String`, `&'static str`, `&'static [u8]`), which become one chunk without
/// a copy; for aleph handles carrying [`Bytes`] ([`Channel`], [`Receiver`],
/// the receiving side of a [`Duplex`]); for [`ByteStream`] itself; and, through
/// the wrappers [`Chunks`] and [`Reader`], for any `TryStream` of chunks and
/// any `AsyncRead`.
///
/// Every function of [`aleph::bytes`](crate::bytes) takes an
/// `impl ByteSource`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes::{self, ByteSource, Bytes};
/// use futures::TryStreamExt;
///
/// let chunks: Vec<Bytes> = "one chunk".into_byte_stream().try_collect().await?;
/// assert_eq!(chunks, [Bytes::from_static(b"one chunk")]);
/// assert_eq!(bytes::to_string(String::from("owned")).await?, "owned");
/// # Ok(())
/// # }
/// ```
pub trait ByteSource {
    /// Turns this source into a stream of chunks.
    fn into_byte_stream(self) -> ByteStream;
}

/// A stream of byte chunks: what every [`ByteSource`] becomes.
///
/// A [`futures::Stream`](futures_core::Stream) of `aleph::Result<Bytes>`. An
/// in-memory source is held as its one chunk, with no task, box or copy in
/// between; anything else is a boxed stream.
///
/// An `Err` item is always the last one: the stream ends after it, and polling
/// after the end keeps returning `None`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::bytes::{self, Bytes};
/// use futures::StreamExt;
///
/// let mut stream = bytes::into_stream(Bytes::from_static(b"chunk"));
/// assert_eq!(stream.next().await.unwrap().unwrap(), "chunk");
/// assert!(stream.next().await.is_none());
/// # }
/// ```
pub struct ByteStream {
    inner: Inner,
}

enum Inner {
    /// An in-memory source: its one chunk until taken.
    Once(Option<Bytes>),
    /// Anything else.
    Chunks(Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>),
}

impl ByteStream {
    /// A stream of no chunks.
    pub(crate) fn empty() -> ByteStream {
        ByteStream {
            inner: Inner::Once(None),
        }
    }

    /// A stream of one in-memory chunk (none if it is empty).
    pub(crate) fn once(chunk: Bytes) -> ByteStream {
        ByteStream {
            inner: Inner::Once(Some(chunk).filter(|chunk| !chunk.is_empty())),
        }
    }

    /// A stream over any stream of chunks.
    pub(crate) fn from_stream<S>(stream: S) -> ByteStream
    where
        S: Stream<Item = Result<Bytes>> + Send + 'static,
    {
        ByteStream {
            inner: Inner::Chunks(Box::pin(stream)),
        }
    }

    /// All that is left to read, if that is known without waiting: the chunk
    /// of an in-memory source (or nothing once it was taken, or once any
    /// stream ended). `None` for a stream still running, which is left as it was.
    pub(crate) fn take_in_memory(&mut self) -> Option<Bytes> {
        match &mut self.inner {
            Inner::Once(chunk) => Some(chunk.take().unwrap_or_default()),
            Inner::Chunks(_) => None,
        }
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Once(chunk) => Poll::Ready(chunk.take().map(Ok)),
            Inner::Chunks(stream) => {
                let item = std::task::ready!(stream.as_mut().poll_next(cx));
                if !matches!(item, Some(Ok(_))) {
                    // Ended, or failed: drop the source now, and make sure a
                    // foreign stream is never polled past its end.
                    this.inner = Inner::Once(None);
                }
                Poll::Ready(item)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            Inner::Once(chunk) => {
                let n = usize::from(chunk.is_some());
                (n, Some(n))
            }
            Inner::Chunks(stream) => stream.size_hint(),
        }
    }
}

impl FusedStream for ByteStream {
    fn is_terminated(&self) -> bool {
        matches!(self.inner, Inner::Once(None))
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Once(Some(chunk)) => write!(f, "ByteStream(in memory, {} bytes)", chunk.len()),
            Inner::Once(None) => f.write_str("ByteStream(ended)"),
            Inner::Chunks(_) => f.write_str("ByteStream(stream)"),
        }
    }
}

impl ByteSource for ByteStream {
    fn into_byte_stream(self) -> ByteStream {
        self
    }
}

impl ByteSource for Bytes {
    fn into_byte_stream(self) -> ByteStream {
        ByteStream::once(self)
    }
}

impl ByteSource for BytesMut {
    fn into_byte_stream(self) -> ByteStream {
        ByteStream::once(self.freeze())
    }
}

impl ByteSource for Vec<u8> {
    fn into_byte_stream(self) -> ByteStream {
        ByteStream::once(Bytes::from(self))
    }
}

impl ByteSource for String {
    fn into_byte_stream(self) -> ByteStream {
        ByteStream::once(Bytes::from(self))
    }
}

impl ByteSource for &'static str {
    fn into_byte_stream(self) -> ByteStream {
        ByteStream::once(Bytes::from_static(self.as_bytes()))
    }
}

impl ByteSource for &'static [u8] {
    fn into_byte_stream(self) -> ByteStream {
        ByteStream::once(Bytes::from_static(self))
    }
}

/// The chunks of an aleph channel, then its error if it closed with one.
struct ChannelChunks {
    rx: Receiver<Bytes>,
}

impl Stream for ChannelChunks {
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = self.get_mut();
        match std::task::ready!(this.rx.poll_recv(cx)) {
            Some(chunk) => Poll::Ready(Some(Ok(chunk))),
            None => Poll::Ready(this.rx.error().map(Err)),
        }
    }
}

/// Reads what the channel carries until it is drained; a channel closed with
/// an error ends the stream with that error.
///
/// The channel handle is consumed: if it was the last handle that could send,
/// the channel closes, so the conversion cannot wait forever for a value that
/// nobody can send any more.
impl ByteSource for Channel<Bytes> {
    fn into_byte_stream(self) -> ByteStream {
        self.receiver().into_byte_stream()
    }
}

/// Reads what the channel carries until it is drained; a channel closed with
/// an error ends the stream with that error.
impl ByteSource for Receiver<Bytes> {
    fn into_byte_stream(self) -> ByteStream {
        ByteStream::from_stream(ChannelChunks { rx: self })
    }
}

/// Reads what the peer sends until it closes its side; a receiving direction
/// that closed with an error (a connection reset) ends the stream with that
/// error.
///
/// The sending half of this handle is dropped: if no other clone of the
/// duplex (or sender) is left, the sending direction closes (for a
/// connection: after flushing what was sent). Pass a clone to keep it open.
impl<Out> ByteSource for Duplex<Bytes, Out> {
    fn into_byte_stream(self) -> ByteStream {
        let (rx, _tx) = self.into_parts();
        rx.into_byte_stream()
    }
}

/// A byte source over any stream of chunks (a `TryStream`).
///
/// Each `Ok` chunk is turned into [`Bytes`] (without a copy for `Bytes`,
/// `Vec<u8>`, `String` and the like) and each error into an [`Error`]: an
/// `aleph::Error` stays as it is, an `std::io::Error` becomes one of kind
/// [`Io`](crate::ErrorKind::Io) (or the aleph error it carries), anything else
/// one of kind [`Other`](crate::ErrorKind::Other) with the original as its
/// source. The first error ends the stream.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::bytes::{self, Chunks};
///
/// let ok = futures::stream::iter([Ok::<_, std::io::Error>("a"), Ok("b")]);
/// assert_eq!(bytes::to_string(Chunks(ok)).await.unwrap(), "ab");
///
/// let failed = futures::stream::iter([Ok(vec![b'a']), Err(std::io::Error::other("gone"))]);
/// assert!(bytes::to_vec(Chunks(failed)).await.unwrap_err().is_io());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Chunks<S>(pub S);

impl<S> ByteSource for Chunks<S>
where
    S: TryStream + Send + 'static,
    S::Ok: Into<Bytes>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    fn into_byte_stream(self) -> ByteStream {
        let stream = self.0.into_stream().map(|item| {
            item.map(Into::into)
                .map_err(|error| source_error(error.into()))
        });
        ByteStream::from_stream(stream)
    }
}

/// An error of a foreign source as an aleph error, unwrapping an aleph error
/// carried through `io::Error`.
fn source_error(error: Box<dyn StdError + Send + Sync>) -> Error {
    match error.downcast::<std::io::Error>() {
        Ok(io) => Error::from_io(*io, "reading from the byte source"),
        Err(other) => Error::from_boxed(other),
    }
}

/// A byte source over any tokio [`AsyncRead`].
///
/// The reader is read in chunks of up to 8 KiB, each only when the consumer
/// asks for the next one, until it reports the end (a read of 0 bytes). A
/// failed read ends the stream with an error of kind
/// [`Io`](crate::ErrorKind::Io), with the `io::Error` as its source (or with
/// the aleph error that `io::Error` carries).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::bytes::{self, Reader};
///
/// let file_like: &'static [u8] = b"from a reader";
/// assert_eq!(bytes::to_string(Reader(file_like)).await.unwrap(), "from a reader");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Reader<R>(pub R);

impl<R> ByteSource for Reader<R>
where
    R: AsyncRead + Send + 'static,
{
    fn into_byte_stream(self) -> ByteStream {
        let stream = ReaderStream::with_capacity(self.0, READ_CAPACITY).map(|item| {
            item.map_err(|error| Error::from_io(error, "reading from the byte source"))
        });
        ByteStream::from_stream(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_stream_is_send_and_unpin() {
        fn assert<T: Send + Unpin + 'static>() {}
        assert::<ByteStream>();
    }

    #[test]
    fn an_empty_in_memory_source_has_no_chunks() {
        let mut stream = Bytes::new().into_byte_stream();
        assert_eq!(stream.size_hint(), (0, Some(0)));
        assert!(stream.is_terminated());
        assert_eq!(stream.take_in_memory(), Some(Bytes::new()));
    }
}
