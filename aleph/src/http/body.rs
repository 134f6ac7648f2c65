//! [`Body`]: the body of a request or a response, in memory or streamed.

use std::any::Any;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::{Stream, TryStream};
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use sync_wrapper::SyncWrapper;
use tokio::io::AsyncRead;

use super::incoming::Incoming;
use crate::bytes::{ByteSource, ByteStream, Chunks, Reader};
use crate::stream::{Channel, Receiver};
use crate::{Error, Result};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxHttpBody = Pin<Box<dyn http_body::Body<Data = Bytes, Error = Error> + Send>>;

/// The body of a request or a response: empty, in memory, or a stream of
/// chunks.
///
/// A response body can be made from `&'static str`, `String`, [`Bytes`],
/// `Vec<u8>` (in memory: sent with a `Content-Length`), from an aleph
/// [`Channel`] or [`Receiver`] of chunks, any `futures::Stream` of chunks
/// ([`Body::from_stream`]), any [`AsyncRead`] ([`Body::from_reader`]), an
/// [`Iterator`] of chunks ([`Body::from_iterator`]), anything that is a
/// [`ByteSource`] ([`Body::from_source`]) and any [`http_body::Body`]
/// ([`Body::new`]).
///
/// A streamed body is sent as it is produced: one chunk per message on
/// HTTP/1.1 (chunked transfer coding), one DATA frame per message on HTTP/2.
/// The server asks for the next message only when the connection can take
/// it, so a slow client slows the producer down (a channel's `send` waits).
/// When the client goes away, the body is dropped: a channel is closed at
/// once (its producer's next `send` fails) and a foreign stream is dropped.
///
/// A request body is the bytes the client sends, read from the connection
/// only as the handler reads them. It implements [`http_body::Body`] and
/// [`ByteSource`], so every function of [`aleph::bytes`](crate::bytes)
/// takes it: `bytes::to_bytes(req.into_body()).await`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes;
/// use aleph::http::Body;
/// use aleph::stream::Channel;
///
/// assert_eq!(bytes::to_string(Body::from("in memory")).await?, "in memory");
///
/// let chunks = Channel::buffered(4);
/// let body = Body::from(chunks.clone());
/// chunks.send("one, ").await.unwrap();
/// chunks.send("two").await.unwrap();
/// chunks.close();
/// assert_eq!(bytes::to_string(body).await?, "one, two");
/// # Ok(())
/// # }
/// ```
pub struct Body {
    inner: Inner,
}

enum Inner {
    Empty,
    Full(Bytes),
    Incoming(Box<Incoming>),
    Stream(SyncWrapper<ByteStream>),
    /// A foreign body, and its size hint as it was before the first poll
    /// (a `SyncWrapper` lends its content only by `&mut`).
    Http(SyncWrapper<BoxHttpBody>, SizeHint),
}

// Public handles are Send + Sync (STYLE.md).
const _: () = {
    fn assert_send_sync<X: Send + Sync>() {}
    let _ = assert_send_sync::<Body>;
};

impl Body {
    /// A body of no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use http_body::Body as _;
    ///
    /// assert!(aleph::http::Body::empty().is_end_stream());
    /// ```
    pub fn empty() -> Body {
        Body {
            inner: Inner::Empty,
        }
    }

    /// Wraps any [`http_body::Body`], such as the body of a response made by
    /// an axum or tower-http service. Its trailers are kept.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// let full = http_body_util::Full::new(aleph::bytes::Bytes::from("wrapped"));
    /// assert_eq!(aleph::bytes::to_string(aleph::http::Body::new(full)).await?, "wrapped");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new<B>(body: B) -> Body
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        // An aleph body is taken as it is, not wrapped in itself.
        let mut slot = Some(body);
        if let Some(own) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Body>>() {
            if let Some(own) = own.take() {
                return own;
            }
        }
        let Some(body) = slot else {
            return Body::empty();
        };
        let hint = body.size_hint();
        Body {
            inner: Inner::Http(SyncWrapper::new(Box::pin(Foreign { body })), hint),
        }
    }

    /// A body streamed from any `futures::Stream` of chunks (a `TryStream`
    /// whose items are `Result<impl Into<Bytes>, impl Error>`): each chunk is
    /// sent as it comes; an error ends the body (on a response, the
    /// connection is cut rather than the body ending cleanly).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// let chunks = futures::stream::iter(["a", "b"].map(Ok::<_, std::io::Error>));
    /// let body = aleph::http::Body::from_stream(chunks);
    /// assert_eq!(aleph::bytes::to_string(body).await?, "ab");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_stream<S>(stream: S) -> Body
    where
        S: TryStream + Send + 'static,
        S::Ok: Into<Bytes>,
        S::Error: Into<BoxError>,
    {
        Body::from_source(Chunks(stream))
    }

    /// A body read from any tokio [`AsyncRead`], in chunks of up to 8 KiB,
    /// each read only when the connection can take it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// let file_like: &'static [u8] = b"read";
    /// let body = aleph::http::Body::from_reader(file_like);
    /// assert_eq!(aleph::bytes::to_string(body).await?, "read");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_reader<R>(reader: R) -> Body
    where
        R: AsyncRead + Send + 'static,
    {
        Body::from_source(Reader(reader))
    }

    /// A body of the chunks an iterator yields, taken one at a time as the
    /// connection can send them (Ring's lazy-seq body). The iterator runs on
    /// the connection's task, so it must not block; a panic in it ends the
    /// body with an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// let body = aleph::http::Body::from_iterator((0..3).map(|i| format!("{i} ")));
    /// assert_eq!(aleph::bytes::to_string(body).await?, "0 1 2 ");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_iterator<I>(chunks: I) -> Body
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Into<Bytes>,
    {
        let mut chunks = chunks.into_iter();
        let mut failed = false;
        let stream = futures_util::stream::poll_fn(move |_cx| {
            if failed {
                return Poll::Ready(None);
            }
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chunks.next()));
            Poll::Ready(match next {
                Ok(chunk) => chunk.map(|chunk| Ok(chunk.into())),
                Err(panic) => {
                    failed = true;
                    Some(Err(Error::new(
                        crate::ErrorKind::Panic,
                        format!(
                            "the body's iterator panicked: {}",
                            crate::panic::message(&*panic)
                        ),
                    )))
                }
            })
        });
        Body::stream(ByteStream::from_stream(stream))
    }

    /// A body of whatever a [`ByteSource`] yields: in memory when it is in
    /// memory, streamed otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use http_body::Body as _;
    ///
    /// let body = aleph::http::Body::from_source(aleph::bytes::Bytes::from("known size"));
    /// assert_eq!(body.size_hint().exact(), Some(10));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_source(source: impl ByteSource) -> Body {
        let mut stream = source.into_byte_stream();
        match stream.take_in_memory() {
            Some(chunk) => Body::from(chunk),
            None => Body::stream(stream),
        }
    }

    /// A copy of a body in memory (or empty), to send again; `None` for a
    /// streamed body, which can be read only once.
    pub(crate) fn try_clone(&self) -> Option<Body> {
        match &self.inner {
            Inner::Empty => Some(Body::empty()),
            Inner::Full(bytes) => Some(Body::from(bytes.clone())),
            _ => None,
        }
    }

    pub(crate) fn incoming(incoming: Incoming) -> Body {
        Body {
            inner: Inner::Incoming(Box::new(incoming)),
        }
    }

    fn stream(stream: ByteStream) -> Body {
        Body {
            inner: Inner::Stream(SyncWrapper::new(stream)),
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body {
            inner: Inner::Full(bytes),
        }
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Body {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::from(Bytes::from(text))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::from(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(bytes))
    }
}

impl From<()> for Body {
    fn from((): ()) -> Body {
        Body::empty()
    }
}

/// Streams the channel's messages, one chunk each. Dropping the body (the
/// client went away) closes the channel: the producer's next `send` fails.
impl<T> From<Channel<T>> for Body
where
    T: Into<Bytes> + Send + 'static,
{
    fn from(channel: Channel<T>) -> Body {
        Body::from(channel.receiver())
    }
}

/// Streams the receiver's messages, one chunk each. Dropping the body (the
/// client went away) closes the channel: the producer's next `send` fails.
impl<T> From<Receiver<T>> for Body
where
    T: Into<Bytes> + Send + 'static,
{
    fn from(receiver: Receiver<T>) -> Body {
        Body::stream(ByteStream::from_stream(ClosingChunks { rx: receiver }))
    }
}

/// The messages of an aleph channel as chunks, then its error if it closed
/// with one; closes the channel when dropped.
struct ClosingChunks<T> {
    rx: Receiver<T>,
}

impl<T: Into<Bytes>> Stream for ClosingChunks<T> {
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = self.get_mut();
        match std::task::ready!(this.rx.poll_next_unpin(cx)) {
            Some(chunk) => Poll::Ready(Some(Ok(chunk.into()))),
            None => Poll::Ready(this.rx.error().map(Err)),
        }
    }
}

impl<T> Drop for ClosingChunks<T> {
    fn drop(&mut self) {
        self.rx.close();
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>>>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Empty => Poll::Ready(None),
            Inner::Full(_) => {
                let Inner::Full(bytes) = std::mem::replace(&mut this.inner, Inner::Empty) else {
                    unreachable!("matched Full above");
                };
                Poll::Ready((!bytes.is_empty()).then(|| Ok(Frame::data(bytes))))
            }
            Inner::Incoming(incoming) => Pin::new(incoming.as_mut()).poll_frame(cx),
            Inner::Stream(stream) => {
                let item = std::task::ready!(stream.get_mut().poll_next_unpin(cx));
                if !matches!(item, Some(Ok(_))) {
                    this.inner = Inner::Empty;
                }
                Poll::Ready(item.map(|chunk| chunk.map(Frame::data)))
            }
            Inner::Http(body, hint) => {
                *hint = SizeHint::default();
                let item = std::task::ready!(body.get_mut().as_mut().poll_frame(cx));
                if item.is_none() {
                    this.inner = Inner::Empty;
                }
                Poll::Ready(item)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Full(bytes) => bytes.is_empty(),
            Inner::Incoming(incoming) => incoming.is_end_stream(),
            Inner::Stream(_) => false,
            // Known only by polling (a `SyncWrapper` lends its content only
            // by `&mut`): "not yet" costs at most an empty last frame.
            Inner::Http(_, hint) => hint.exact() == Some(0),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Inner::Incoming(incoming) => incoming.size_hint(),
            Inner::Stream(_) => SizeHint::default(),
            Inner::Http(_, hint) => *hint,
        }
    }
}

/// The data frames of the body; its trailers are skipped. An error (a reset
/// mid-body, a body over its limit) ends the stream with that error: a
/// truncated body is never read as complete.
impl ByteSource for Body {
    fn into_byte_stream(mut self) -> ByteStream {
        match &mut self.inner {
            Inner::Empty => ByteStream::empty(),
            Inner::Full(bytes) => ByteStream::once(std::mem::take(bytes)),
            _ => {
                let mut body = self;
                ByteStream::from_stream(futures_util::stream::poll_fn(move |cx| loop {
                    let frame = std::task::ready!(Pin::new(&mut body).poll_frame_of(cx));
                    match frame {
                        None => return Poll::Ready(None),
                        Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                        Some(Ok(frame)) => {
                            if let Ok(data) = frame.into_data() {
                                return Poll::Ready(Some(Ok(data)));
                            }
                        }
                    }
                }))
            }
        }
    }
}

impl Body {
    fn poll_frame_of(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>>>> {
        http_body::Body::poll_frame(self, cx)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Empty => f.write_str("Body(empty)"),
            Inner::Full(bytes) => write!(f, "Body({} bytes)", bytes.len()),
            Inner::Incoming(_) => f.write_str("Body(request)"),
            Inner::Stream(_) => f.write_str("Body(stream)"),
            Inner::Http(..) => f.write_str("Body(http_body)"),
        }
    }
}

pin_project_lite::pin_project! {
    /// A foreign `http_body::Body` with its data as `Bytes` and its error as
    /// an aleph error.
    struct Foreign<B> {
        #[pin]
        body: B,
    }
}

impl<B> http_body::Body for Foreign<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>>>> {
        let frame = std::task::ready!(self.project().body.poll_frame(cx));
        Poll::Ready(frame.map(|frame| match frame {
            Ok(frame) => Ok(frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))),
            Err(error) => Err(Error::other(error)),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
