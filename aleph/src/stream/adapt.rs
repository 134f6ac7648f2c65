//! Bridges between aleph's streams and the rest: `futures` streams and sinks,
//! tokio's mpsc channels, iterators.

use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;
use futures_util::FutureExt as _;

use super::core::Meta;
use super::source::{self, catching, into_source, next_or_closed, panic_error, AnySource, Next};
use super::{Channel, Receiver, SendTimeoutError, Sender, Source};
use crate::{Error, ErrorKind};

/// The capacity of the channel behind each bridge and operator output,
/// unless the function says otherwise: 16 values.
pub(crate) const ADAPTER_CAPACITY: usize = 16;

/// How a [`forward`] ended.
pub(crate) enum Forwarded {
    /// The source ended; its error, if any, is in [`Source::end_error`].
    Drained,
    /// The sink closed; `lost` if a value was in hand and was dropped.
    SinkClosed { lost: bool },
    /// A value waited longer than the timeout for the sink and was dropped.
    TimedOut(Duration),
}

/// Moves values from `source` into `sink` until one side ends. With
/// `upstream`, a sink that closes closes the source.
pub(crate) async fn forward<Src>(
    source: &mut Src,
    sink: &Sender<Src::Item>,
    timeout: Option<Duration>,
    upstream: bool,
) -> Forwarded
where
    Src: Source + ?Sized,
{
    let closed = sink.closed();
    let mut closed = std::pin::pin!(closed);
    loop {
        let value = match next_or_closed(source, sink, &mut closed).await {
            Next::Value(value) => value,
            Next::Ended => return Forwarded::Drained,
            Next::SinkClosed => {
                if upstream {
                    source.close();
                }
                return Forwarded::SinkClosed { lost: false };
            }
        };
        let sent = match timeout {
            None => sink
                .send(value)
                .await
                .map_err(|e| SendTimeoutError::Closed(e.0)),
            Some(limit) => sink.send_timeout(value, limit).await,
        };
        let ended = match sent {
            Ok(()) => continue,
            Err(SendTimeoutError::Closed(_)) => Forwarded::SinkClosed { lost: true },
            Err(SendTimeoutError::Timeout(_)) => Forwarded::TimedOut(timeout.unwrap_or_default()),
        };
        if upstream {
            source.close();
        }
        return ended;
    }
}

/// Closes the channel with an error if the task feeding it is dropped before
/// it finished (a runtime shutting down): a stream cut short never looks
/// like a clean end.
struct Feeder<T> {
    tx: Sender<T>,
    kind: &'static str,
}

impl<T> Drop for Feeder<T> {
    fn drop(&mut self) {
        self.tx.close_with_error(Error::new(
            ErrorKind::Closed,
            format!("the task feeding this {} stream was stopped", self.kind),
        ));
    }
}

/// Spawns the task that feeds a new channel of `capacity`, and returns its
/// receiving half. `body` gets the sending half and returns the error the
/// stream ends with, if any; a panic in it ends the stream with an error of
/// kind [`Panic`](ErrorKind::Panic).
pub(crate) fn spawn_source<T, F, Fut>(capacity: usize, kind: &'static str, body: F) -> Receiver<T>
where
    T: Send + 'static,
    F: FnOnce(Sender<T>) -> Fut,
    Fut: Future<Output = Option<Error>> + Send + 'static,
{
    let (tx, rx) = Channel::with_meta(
        capacity,
        Meta {
            kind,
            ..Meta::default()
        },
    )
    .split();
    let feeder = Feeder {
        tx: tx.clone(),
        kind,
    };
    let work = body(tx);
    tokio::spawn(async move {
        match std::panic::AssertUnwindSafe(work).catch_unwind().await {
            Ok(None) => feeder.tx.close(),
            Ok(Some(error)) => feeder.tx.close_with_error(error),
            Err(payload) => feeder
                .tx
                .close_with_error(panic_error(&format!("the {kind} task"), &*payload)),
        }
    });
    rx
}

/// A source fed by `iter`, one value at a time as the consumer takes them.
///
/// Values are pulled from the iterator only when the channel (capacity 16)
/// has room, so an infinite iterator is fine. The iterator runs on a runtime
/// thread: it must not block. If it panics, the source ends with an error of
/// kind [`Panic`](crate::ErrorKind::Panic) after the values it gave before.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let naturals = stream::from_iter(0u64..);
/// assert_eq!(naturals.recv().await, Some(0));
/// assert_eq!(naturals.recv().await, Some(1));
///
/// let broken = stream::from_iter((0..3).map(|i| if i == 1 { panic!("bad input") } else { i }));
/// assert_eq!(broken.recv().await, Some(0));
/// assert_eq!(broken.recv().await, None);
/// assert!(broken.error().unwrap().is_panic()); // never a clean end
/// # }
/// ```
pub fn from_iter<I>(iter: I) -> Receiver<I::Item>
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Send + 'static,
{
    let mut iter = iter.into_iter();
    spawn_source(ADAPTER_CAPACITY, "iterator", move |tx| async move {
        loop {
            let value = match catching("the iterator", || iter.next()) {
                Ok(Some(value)) => value,
                Ok(None) => return None,
                Err(panicked) => return Some(panicked),
            };
            if tx.send(value).await.is_err() {
                return None;
            }
        }
    })
}

/// A source fed by any [`futures::Stream`](futures_core::Stream).
///
/// The stream is polled only when the channel (capacity 16) has room. If the
/// consumer goes away (every receiving handle dropped or the channel closed)
/// the stream is dropped. If polling it panics, the source ends with an error
/// of kind [`Panic`](crate::ErrorKind::Panic). An aleph handle is returned as
/// it is, without a task in between (of a `Duplex<T, T>`: its receiving half).
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let rx = stream::from_stream(futures::stream::iter(["a", "b"]));
/// assert_eq!(rx.recv().await, Some("a"));
/// assert_eq!(rx.recv().await, Some("b"));
/// assert_eq!(rx.recv().await, None);
/// # }
/// ```
pub fn from_stream<S>(stream: S) -> Receiver<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    into_receiver(stream)
}

/// The receiving handle of an aleph source, or a bridge for any other stream.
pub(crate) fn into_receiver<S>(stream: S) -> Receiver<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    match into_source(stream) {
        AnySource::Aleph(rx) => rx,
        AnySource::Foreign(mut foreign) => {
            spawn_source(ADAPTER_CAPACITY, "stream", move |tx| async move {
                match forward(&mut foreign, &tx, None, true).await {
                    Forwarded::Drained => foreign.end_error(),
                    _ => None,
                }
            })
        }
    }
}

/// A sending handle whose values go into any [`futures::Sink`](futures_sink::Sink).
///
/// A task on the current runtime moves values from a channel of capacity
/// 16 into the sink, flushing whenever the channel is empty.
/// When the channel closes, the sink is closed (`poll_close`); when the sink
/// fails, the channel closes with that error and senders get their values back.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let (tx, mut rx) = futures::channel::mpsc::channel::<u8>(4);
/// let sender = stream::from_sink(tx);
/// sender.send(1).await.unwrap();
/// drop(sender);
/// use futures::StreamExt;
/// assert_eq!(rx.next().await, Some(1));
/// assert_eq!(rx.next().await, None);
/// # }
/// ```
pub fn from_sink<K, T>(sink: K) -> Sender<T>
where
    K: Sink<T> + Send + 'static,
    K::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: Send + 'static,
{
    feed_sink(sink).0
}

/// [`from_sink`], with the task feeding the sink: it ends once the sink is
/// closed, with the sink's error if it failed (at any step, its final
/// `poll_close` included).
pub(crate) fn feed_sink<K, T>(sink: K) -> (Sender<T>, tokio::task::JoinHandle<crate::Result<()>>)
where
    K: Sink<T> + Send + 'static,
    K::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: Send + 'static,
{
    let (tx, rx) = Channel::with_meta(
        ADAPTER_CAPACITY,
        Meta {
            kind: "sink",
            ..Meta::default()
        },
    )
    .split();
    let feeder = tokio::spawn(async move {
        let mut sink = std::pin::pin!(sink);
        let mut rx = rx;
        let outcome = async {
            loop {
                poll_fn(|cx| sink.as_mut().poll_ready(cx)).await?;
                let value = match rx.try_recv() {
                    Ok(value) => value,
                    Err(_) => {
                        poll_fn(|cx| sink.as_mut().poll_flush(cx)).await?;
                        match poll_fn(|cx| rx.poll_recv(cx)).await {
                            Some(value) => value,
                            None => break,
                        }
                    }
                };
                sink.as_mut().start_send(value)?;
            }
            poll_fn(|cx| sink.as_mut().poll_close(cx)).await
        };
        // A panic of the foreign sink ends the channel with an error, so
        // that senders get their values back instead of waiting forever.
        let error = match std::panic::AssertUnwindSafe(outcome).catch_unwind().await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => Error::other(error),
            Err(payload) => panic_error("the sink", &*payload),
        };
        rx.close_with_error(error.clone());
        Err(error)
    });
    (tx, feeder)
}

/// A bridge from a tokio mpsc receiver: a task moves its values into a channel
/// of the same capacity. Dropping every aleph handle drops the mpsc receiver.
///
/// # Panics
///
/// Outside a tokio runtime.
impl<T: Send + 'static> From<tokio::sync::mpsc::Receiver<T>> for Receiver<T> {
    fn from(mut rx: tokio::sync::mpsc::Receiver<T>) -> Receiver<T> {
        let capacity = rx.max_capacity();
        spawn_source(capacity, "mpsc", move |tx| async move {
            let mut source =
                source::Foreign::new(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
            forward(&mut source, &tx, None, true).await;
            None
        })
    }
}

/// A bridge to a tokio mpsc sender: a task moves values from a channel of the
/// same capacity into it. When the mpsc receiver is dropped, the aleph channel
/// closes.
///
/// # Panics
///
/// Outside a tokio runtime.
impl<T: Send + 'static> From<tokio::sync::mpsc::Sender<T>> for Sender<T> {
    fn from(tx: tokio::sync::mpsc::Sender<T>) -> Sender<T> {
        let (ours, rx) = Channel::with_meta(
            tx.max_capacity(),
            Meta {
                kind: "mpsc",
                ..Meta::default()
            },
        )
        .split();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    () = tx.closed() => break,
                    value = rx.recv() => match value {
                        Some(value) => {
                            if tx.send(value).await.is_err() {
                                break;
                            }
                        }
                        None => return,
                    },
                }
            }
            rx.close();
        });
        ours
    }
}

/// Moves everything from `source` into a new tokio mpsc channel of `capacity`,
/// for code that wants tokio's receiver.
///
/// Of an aleph source only the receiving half is kept (the drop rule holds
/// through it); when the tokio receiver is dropped, the source is closed. A
/// tokio receiver cannot say why a stream ended: an error the source ended
/// with is logged, and the receiver just sees the end.
///
/// # Panics
///
/// Outside a tokio runtime, or if `capacity` is 0 (as `tokio::sync::mpsc::channel`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let mut rx = stream::into_mpsc(stream::from_iter([1, 2]), 8);
/// assert_eq!(rx.recv().await, Some(1));
/// assert_eq!(rx.recv().await, Some(2));
/// assert_eq!(rx.recv().await, None);
/// # }
/// ```
pub fn into_mpsc<S>(source: S, capacity: usize) -> tokio::sync::mpsc::Receiver<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    let mut source = into_source(source);
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                biased;
                () = tx.closed() => None,
                next = source::next(&mut source) => Some(next),
            };
            match next {
                None => break,
                Some(None) => {
                    // A tokio receiver cannot carry the error: say it here.
                    if let Some(error) = source.end_error() {
                        tracing::warn!(%error, "the source of into_mpsc ended with an error");
                    }
                    return;
                }
                Some(Some(value)) => {
                    if tx.send(value).await.is_err() {
                        break;
                    }
                }
            }
        }
        // The mpsc receiver is gone: upstream propagation, as every operator.
        source.close();
    });
    rx
}

/// A blocking iterator over `source`, for threads outside the runtime.
///
/// Each `next()` blocks the calling thread until a value arrives or the source
/// ends. Use it from a plain thread or `spawn_blocking`, never from async code.
/// Of an aleph source only the receiving half is kept, so the iterator ends
/// once the last handle that can send into it is dropped. Why the source
/// ended (an error, a panic) is told by [`BlockingIter::error`] afterwards.
///
/// # Panics
///
/// `next()` panics when called from within an async context of a tokio runtime
/// (where blocking would stall other tasks), as tokio's own `block_on`.
///
/// # Examples
///
/// ```
/// use aleph::stream::{self, Channel};
///
/// let ch = Channel::buffered(4);
/// let values = stream::into_blocking_iter(ch.clone());
/// ch.try_send(1).unwrap();
/// ch.try_send(2).unwrap();
/// drop(ch); // the last handle that can send: the iterator ends after 1 and 2
/// let all: Vec<i32> = std::thread::spawn(move || values.collect()).join().unwrap();
/// assert_eq!(all, [1, 2]);
/// ```
pub fn into_blocking_iter<S>(source: S) -> BlockingIter<S>
where
    S: Stream + 'static,
{
    BlockingIter {
        source: into_source(source),
    }
}

/// The iterator of [`into_blocking_iter`].
///
/// # Examples
///
/// ```
/// use aleph::stream::{self, BlockingIter};
///
/// let iter: BlockingIter<_> = stream::into_blocking_iter(futures::stream::iter([1, 2]));
/// assert_eq!(iter.collect::<Vec<_>>(), [1, 2]);
/// ```
pub struct BlockingIter<S: Stream> {
    source: AnySource<S>,
}

impl<S: Stream> BlockingIter<S> {
    /// Why the source ended, once the iterator returned `None`: the error an
    /// aleph source was closed with, or a panic of a foreign stream (kind
    /// [`Panic`](crate::ErrorKind::Panic)). `None` after a clean end, or
    /// while the source has not ended.
    ///
    /// An iterator cannot carry the error itself; check this after the loop,
    /// so that a truncated stream is never taken for a complete one.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{self, Channel};
    ///
    /// let ch = Channel::buffered(4);
    /// let mut values = stream::into_blocking_iter(ch.clone());
    /// ch.try_send(1).unwrap();
    /// ch.close_with_error(aleph::Error::other("connection reset"));
    /// let got: Vec<i32> = values.by_ref().collect();
    /// assert_eq!(got, [1]);
    /// assert_eq!(values.error().unwrap().to_string(), "connection reset");
    /// ```
    pub fn error(&self) -> Option<Error> {
        self.source.end_error()
    }
}

impl<S: Stream> Iterator for BlockingIter<S> {
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        block_on(source::next(&mut self.source))
    }
}

impl<S: Stream> std::fmt::Debug for BlockingIter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            AnySource::Aleph(rx) => write!(f, "BlockingIter({rx:?})"),
            AnySource::Foreign(_) => f.write_str("BlockingIter(stream)"),
        }
    }
}

/// Blocks on `fut`, refusing to do so inside an async context of a runtime.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        // Inside a runtime's async context tokio panics here with a clear
        // message; on a blocking thread of the runtime this drives `fut`.
        return handle.block_on(fut);
    }
    park_on(fut)
}

/// Wakes a parked thread.
struct Unparker(std::thread::Thread);

impl std::task::Wake for Unparker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread, parking it between wake-ups.
fn park_on<F: Future>(fut: F) -> F::Output {
    let waker = std::task::Waker::from(std::sync::Arc::new(Unparker(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
