//! `connect`: move everything from a source into a sink, with backpressure.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;

use futures_util::FutureExt as _;

use super::adapt;
use super::core::Meta;
use super::source::{self, Source};
use super::{Channel, Duplex, Sender};
use crate::{Error, ErrorKind, Result};

/// Something [`connect`] and [`splice`](super::splice) can send into: an aleph
/// handle, or any [`futures::Sink`](futures_sink::Sink).
///
/// The marker `M` is inferred and sealed; it lets both kinds be accepted by
/// one function (aleph's handles do not implement `Sink`, so exactly one
/// impl applies to any type).
///
/// # Examples
///
/// Connecting into a `futures` channel's sender and into an aleph channel:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::stream::{self, Channel, ConnectOptions};
/// use futures::StreamExt;
///
/// let (tx, rx) = futures::channel::mpsc::channel(4);
/// stream::connect(stream::from_iter([1, 2, 3]), tx, ConnectOptions::default()).await?;
/// assert_eq!(rx.collect::<Vec<_>>().await, [1, 2, 3]);
///
/// let out = Channel::buffered(4);
/// stream::connect(stream::from_iter(["a", "b"]), out.clone(), ConnectOptions::default()).await?;
/// assert_eq!(out.collect::<Vec<_>>().await, ["a", "b"]);
/// # Ok(())
/// # }
/// ```
pub trait IntoSink<T, M>: sealed::Sealed<T, M> {
    /// The aleph sending handle for this sink. A foreign sink is fed by a task
    /// on the current runtime, through a channel of 16 values.
    fn into_sender(self) -> Sender<T>;
}

mod sealed {
    use super::Sender;

    /// The task feeding a foreign sink, and how it ended.
    pub(crate) type Feeder = tokio::task::JoinHandle<crate::Result<()>>;

    /// Seals [`IntoSink`](super::IntoSink): its two markers are the only ones.
    pub trait Sealed<T, M> {
        /// The sending handle, and for a foreign sink the task feeding it, so
        /// that a link ends only once the sink has everything.
        fn into_link_sink(self) -> (Sender<T>, Option<Feeder>);
    }
}

/// Marks [`IntoSink`] for aleph's own handles (inferred, never named).
#[doc(hidden)]
#[derive(Debug)]
pub enum AlephSink {}

/// Marks [`IntoSink`] for any [`futures::Sink`](futures_sink::Sink) (inferred, never named).
#[doc(hidden)]
#[derive(Debug)]
pub enum ForeignSink {}

impl<T> sealed::Sealed<T, AlephSink> for Channel<T> {
    fn into_link_sink(self) -> (Sender<T>, Option<sealed::Feeder>) {
        (self.sender(), None)
    }
}

impl<T> sealed::Sealed<T, AlephSink> for Sender<T> {
    fn into_link_sink(self) -> (Sender<T>, Option<sealed::Feeder>) {
        (self, None)
    }
}

impl<In, T> sealed::Sealed<T, AlephSink> for Duplex<In, T> {
    fn into_link_sink(self) -> (Sender<T>, Option<sealed::Feeder>) {
        (self.into_parts().1, None)
    }
}

impl<K, T> sealed::Sealed<T, ForeignSink> for K
where
    K: Sink<T> + Send + 'static,
    K::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: Send + 'static,
{
    fn into_link_sink(self) -> (Sender<T>, Option<sealed::Feeder>) {
        let (sender, feeder) = adapt::feed_sink(self);
        (sender, Some(feeder))
    }
}

impl<T> IntoSink<T, AlephSink> for Channel<T> {
    fn into_sender(self) -> Sender<T> {
        self.sender()
    }
}

impl<T> IntoSink<T, AlephSink> for Sender<T> {
    fn into_sender(self) -> Sender<T> {
        self
    }
}

impl<In, T> IntoSink<T, AlephSink> for Duplex<In, T> {
    /// The duplex's sending direction; its receiving handle is dropped.
    fn into_sender(self) -> Sender<T> {
        self.into_parts().1
    }
}

impl<K, T> IntoSink<T, ForeignSink> for K
where
    K: Sink<T> + Send + 'static,
    K::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: Send + 'static,
{
    fn into_sender(self) -> Sender<T> {
        adapt::from_sink(self)
    }
}

/// Options of [`connect`]. `ConnectOptions::default()` propagates the source's end
/// downstream and nothing upstream, with no send timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use aleph::stream::ConnectOptions;
///
/// let opts = ConnectOptions { upstream: true, timeout: Some(Duration::from_secs(5)), ..ConnectOptions::default() };
/// assert!(opts.downstream);
/// ```
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Close the source when the sink closes: an aleph source's channel is
    /// closed for every handle; a foreign stream is dropped (an aleph handle
    /// inside it then follows the drop rule; nothing else it holds is
    /// closed). Nothing is taken from a source whose sink is already closed.
    /// Default: false.
    pub upstream: bool,
    /// Close the sink when the source drains, with the source's error if it
    /// ended with one. Default: true.
    pub downstream: bool,
    /// The longest a single message may wait for the sink. When it passes, the
    /// message is dropped, the sink is closed with a timeout error, the source
    /// too if `upstream`, and the link ends with that error. Default: none.
    pub timeout: Option<Duration>,
    /// A label for the link's task and its errors. Default: none.
    pub label: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            upstream: false,
            downstream: true,
            timeout: None,
            label: None,
        }
    }
}

/// A running [`connect`]: a future of how it ended.
///
/// `Ok(())` once the source drained (or the sink closed cleanly with nothing
/// lost); an error if the source ended with one (a panic of a foreign source
/// included), a message timed out, the sink closed with an error, or the
/// sink closed while a message was in hand. Into a foreign
/// [`Sink`](futures_sink::Sink), the link ends only once the sink has taken
/// everything and was closed (`poll_close`), and a failure of the sink at
/// any step, its close included, is the link's error. Dropping the `Link`
/// does not stop it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{self, Channel, ConnectOptions};
///
/// let (source, sink) = (Channel::buffered(4), Channel::buffered(4));
/// let link = stream::connect(source.clone(), sink.clone(), ConnectOptions::default());
/// source.send(1).await.unwrap();
/// source.close_with_error(aleph::Error::other("upstream broke"));
///
/// let ended = link.await;
/// assert_eq!(ended.unwrap_err().to_string(), "upstream broke");
/// assert_eq!(sink.recv().await, Some(1)); // what came before the error got through
/// assert!(sink.error().is_some()); // and the sink was closed with it
/// # }
/// ```
pub struct Link {
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Future for Link {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.task)
            .poll(cx)
            .map(|joined| match joined {
                Ok(result) => result,
                Err(error) if error.is_panic() => {
                    Err(Error::new(ErrorKind::Panic, "stream link panicked"))
                }
                Err(_) => Err(Error::new(
                    ErrorKind::Closed,
                    "stream link was stopped by runtime shutdown",
                )),
            })
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

/// Closes the sink with an error if dropped while still holding it.
struct Stopped<T> {
    sink: Option<Sender<T>>,
}

impl<T> Stopped<T> {
    fn disarm(&mut self) {
        self.sink = None;
    }
}

impl<T> Drop for Stopped<T> {
    fn drop(&mut self) {
        if let Some(sink) = &self.sink {
            sink.close_with_error(Error::new(
                ErrorKind::Closed,
                "the stream link was stopped before its source ended",
            ));
        }
    }
}

/// Moves every value from `source` into `sink`, with backpressure, until the
/// source drains or the sink closes. Manifold's `connect`.
///
/// `source` is any [`futures::Stream`](futures_core::Stream), aleph's handles
/// included; `sink` is an aleph handle or any [`futures::Sink`](futures_sink::Sink).
/// The link starts at once on the current runtime; the returned [`Link`]
/// tells how it ended and need not be awaited. See [`ConnectOptions`] for how the
/// end of one side reaches the other.
///
/// Of an aleph source ([`Channel`], [`Receiver`](super::Receiver), or a
/// [`Duplex`] whose two directions carry the same type) the link keeps only
/// the receiving half: when the last handle that can send into it is dropped,
/// it closes, the link drains it and closes the sink. Of a `Duplex<In, Out>`
/// with `In` ≠ `Out` it keeps the whole duplex; pass
/// [`duplex.receiver()`](Duplex::receiver) to keep only what arrives. A panic
/// of a foreign source while the link polls it ends the source with an error
/// of kind [`Panic`](ErrorKind::Panic), which reaches the sink as any other
/// error.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// An echo: everything a duplex receives goes back out of it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{self, Channel, ConnectOptions};
///
/// let (wire_in, wire_out) = (Channel::buffered(4), Channel::buffered(4));
/// let conn = stream::splice(wire_in.clone(), wire_out.clone());
/// stream::connect(conn.clone(), conn, ConnectOptions::default());
///
/// wire_in.send("hello").await.unwrap();
/// assert_eq!(wire_out.recv().await, Some("hello"));
/// wire_in.close(); // the peer hangs up: the echo closes its side too
/// assert_eq!(wire_out.recv().await, None);
/// # }
/// ```
pub fn connect<S, K, M>(source: S, sink: K, options: ConnectOptions) -> Link
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    K: IntoSink<S::Item, M>,
{
    let (sink, feeder) = sink.into_link_sink();
    if let Some(label) = &options.label {
        let label = label.clone();
        sink.shared().set_meta(|meta: &mut Meta| {
            if meta.label.is_none() {
                meta.label = Some(label);
            }
        });
    }
    let mut source = source::into_source(source);
    // A link stopped before its source ended (its runtime shut down, even
    // before the task first ran) must not look like a clean end downstream.
    let mut stopped = Stopped {
        sink: options.downstream.then(|| sink.clone()),
    };
    let task = tokio::spawn(async move {
        let ended = run_link(&mut source, &sink, &mut stopped, &options).await;
        let Some(feeder) = feeder else {
            return ended;
        };
        // A foreign sink: the link is over only once the task feeding it has
        // delivered everything and closed it (its channel closes when the
        // link's handles are gone), and a failure there is the link's too.
        drop((source, sink, stopped));
        let fed = match feeder.await {
            Ok(fed) => fed,
            Err(_) => Err(Error::new(
                ErrorKind::Closed,
                "the task feeding the sink was stopped by runtime shutdown",
            )),
        };
        ended.and(fed)
    });
    Link { task }
}

/// The body of a link's task: forwards, then ends the sink as the options
/// say, and tells how the link ended.
async fn run_link<Src>(
    source: &mut Src,
    sink: &Sender<Src::Item>,
    stopped: &mut Stopped<Src::Item>,
    options: &ConnectOptions,
) -> Result<()>
where
    Src: Source,
{
    let name = options.label.as_deref().unwrap_or("stream link");
    let work = adapt::forward(source, sink, options.timeout, options.upstream);
    let ended = AssertUnwindSafe(work).catch_unwind().await;
    stopped.disarm();
    let ended = match ended {
        Ok(ended) => ended,
        Err(payload) => {
            // Only a panic outside the source (which `Source` contains)
            // lands here; the sink must still see an error, not hang.
            let error = source::panic_error(name, &*payload);
            sink.close_with_error(error.clone());
            return Err(error);
        }
    };
    match ended {
        adapt::Forwarded::Drained => {
            let error = source.end_error();
            if options.downstream {
                match &error {
                    Some(error) => sink.close_with_error(error.clone()),
                    None => sink.close(),
                }
            }
            error.map_or(Ok(()), Err)
        }
        // A sink that failed (a foreign sink's error, a connection reset)
        // is the link's error too.
        adapt::Forwarded::SinkClosed { .. } if sink.error().is_some() => {
            sink.error().map_or(Ok(()), Err)
        }
        adapt::Forwarded::SinkClosed { lost: false } => Ok(()),
        adapt::Forwarded::SinkClosed { lost: true } => Err(Error::new(
            ErrorKind::Closed,
            format!("{name}: the sink closed with a message in hand; it was dropped"),
        )),
        adapt::Forwarded::TimedOut(timeout) => {
            let error = Error::new(
                ErrorKind::Timeout,
                format!("{name}: the sink did not accept a message within {timeout:?}"),
            );
            sink.close_with_error(error.clone());
            Err(error)
        }
    }
}
