//! Bridges between aleph's streams and the rest: `futures` streams and sinks,
//! tokio's mpsc channels, iterators.

use std::any::Any;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;

use super::core::Meta;
use super::{Channel, Receiver, SendTimeoutError, Sender};
use crate::Error;

/// The capacity of the channel behind each bridge and operator output,
/// unless the function says otherwise: 16 values.
pub const ADAPTER_CAPACITY: usize = 16;

/// How a [`forward`] ended.
pub(crate) enum Forwarded {
    /// The source ended; its error, if any, is in the end-error slot.
    Drained,
    /// The sink closed; `lost` if a value was in hand and was dropped.
    SinkClosed { lost: bool },
    /// A value waited longer than the timeout for the sink and was dropped.
    TimedOut(Duration),
}

/// The next value of `source`, or `None` if `sink` closes first.
pub(crate) async fn next_unless_closed<S: Stream + ?Sized, T>(
    mut source: Pin<&mut S>,
    sink_closed: &mut Pin<&mut super::EventFuture<'_, T>>,
) -> Option<Option<S::Item>> {
    poll_fn(|cx| {
        if let Poll::Ready(item) = source.as_mut().poll_next(cx) {
            return Poll::Ready(Some(item));
        }
        match sink_closed.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Moves values from `source` into `sink` until one side ends.
pub(crate) async fn forward<S>(
    mut source: Pin<Box<S>>,
    sink: &Sender<S::Item>,
    timeout: Option<Duration>,
    upstream: bool,
) -> Forwarded
where
    S: Stream + ?Sized,
{
    let closed = sink.closed();
    let mut closed = std::pin::pin!(closed);
    loop {
        let value = match next_unless_closed(source.as_mut(), &mut closed).await {
            Some(Some(value)) => value,
            Some(None) => return Forwarded::Drained,
            None => {
                if upstream {
                    super::close_upstream(source);
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
            super::close_upstream(source);
        }
        return ended;
    }
}

/// Spawns the task that feeds a new channel of `capacity`, and returns its
/// receiving half. `body` gets the sending half; when it returns, the channel
/// is closed with the error of the sources it read, if any.
pub(crate) fn spawn_source<T, F, Fut>(capacity: usize, kind: &'static str, body: F) -> Receiver<T>
where
    T: Send + 'static,
    F: FnOnce(Sender<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = Channel::with_meta(
        capacity,
        Meta {
            kind,
            ..Meta::default()
        },
    )
    .split();
    let keep = tx.clone();
    let work = body(tx);
    tokio::spawn(async move {
        let ((), error) = super::catching_end_error(work).await;
        match error {
            Some(error) => keep.close_with_error(error),
            None => keep.close(),
        }
    });
    rx
}

/// A source fed by `iter`, one value at a time as the consumer takes them.
///
/// Values are pulled from the iterator only when the channel (capacity
/// [`ADAPTER_CAPACITY`]) has room, so an infinite iterator is fine. The iterator
/// runs on a runtime thread: it must not block.
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
/// # }
/// ```
pub fn from_iter<I>(iter: I) -> Receiver<I::Item>
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Send + 'static,
{
    let iter = iter.into_iter();
    spawn_source(ADAPTER_CAPACITY, "iterator", move |tx| async move {
        for value in iter {
            if tx.send(value).await.is_err() {
                return;
            }
        }
    })
}

/// A source fed by any [`futures::Stream`](futures_core::Stream).
///
/// The stream is polled only when the channel (capacity [`ADAPTER_CAPACITY`])
/// has room. If the consumer goes away (every receiving handle dropped or the
/// channel closed) the stream is dropped. An aleph handle is returned as it is,
/// without a task in between.
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
    let mut slot = Some(stream);
    let any: &mut dyn Any = &mut slot;
    if let Some(rx) = any
        .downcast_mut::<Option<Receiver<S::Item>>>()
        .and_then(Option::take)
    {
        return rx;
    }
    if let Some(ch) = any
        .downcast_mut::<Option<Channel<S::Item>>>()
        .and_then(Option::take)
    {
        return ch.receiver();
    }
    let Some(stream) = slot else {
        unreachable!("the stream is taken out only when it is an aleph handle");
    };
    spawn_source(ADAPTER_CAPACITY, "stream", move |tx| async move {
        forward(Box::pin(stream), &tx, None, true).await;
    })
}

/// A sending handle whose values go into any [`futures::Sink`](futures_sink::Sink).
///
/// A task on the current runtime moves values from a channel of capacity
/// [`ADAPTER_CAPACITY`] into the sink, flushing whenever the channel is empty.
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
    let (tx, rx) = Channel::with_meta(
        ADAPTER_CAPACITY,
        Meta {
            kind: "sink",
            ..Meta::default()
        },
    )
    .split();
    tokio::spawn(async move {
        let mut sink = std::pin::pin!(sink);
        let mut rx = rx;
        let outcome: Result<(), K::Error> = async {
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
        }
        .await;
        if let Err(error) = outcome {
            rx.close_with_error(Error::other(error));
        }
    });
    tx
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
            let source = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
            forward(Box::pin(source), &tx, None, true).await;
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
    tokio::spawn(async move {
        let mut source = std::pin::pin!(source);
        loop {
            let next = tokio::select! {
                biased;
                () = tx.closed() => None,
                next = poll_fn(|cx| source.as_mut().poll_next(cx)) => next,
            };
            let Some(value) = next else { break };
            if tx.send(value).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// A blocking iterator over `source`, for threads outside the runtime.
///
/// Each `next()` blocks the calling thread until a value arrives or the source
/// ends. Use it from a plain thread or `spawn_blocking`, never from async code.
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
/// ch.try_send(1).unwrap();
/// ch.try_send(2).unwrap();
/// ch.close();
/// let all: Vec<i32> = std::thread::spawn(move || stream::into_blocking_iter(ch).collect())
///     .join()
///     .unwrap();
/// assert_eq!(all, [1, 2]);
/// ```
pub fn into_blocking_iter<S>(source: S) -> BlockingIter<S>
where
    S: Stream + Unpin,
{
    BlockingIter { source }
}

/// The iterator of [`into_blocking_iter`].
#[derive(Debug)]
pub struct BlockingIter<S> {
    source: S,
}

impl<S: Stream + Unpin> Iterator for BlockingIter<S> {
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        block_on(poll_fn(|cx| Pin::new(&mut self.source).poll_next(cx)))
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
