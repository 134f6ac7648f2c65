//! `Channel<T>` and its halves `Sender<T>` / `Receiver<T>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};

use super::core::{Kind, Meta, Overflow, Shared};
use super::error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
use super::sink::ChannelSink;
use super::Description;
use crate::Error;

/// Manifold's stream: a cloneable handle that is both sink and source.
///
/// Any number of clones may send and receive at once (multi-producer,
/// multi-consumer); each value is received exactly once. A channel is either
/// unbuffered ([`Channel::new`]: a send waits for a receiver) or bounded
/// ([`Channel::buffered`]): a send waits while the buffer is full, which is how
/// backpressure reaches the producer. Nothing buffers without a bound.
///
/// The end of a channel follows these rules:
/// - [`close`](Channel::close) stops new sends (waiting sends get their values
///   back); receivers still get what is buffered, then `None`. The channel is
///   then *drained*.
/// - When the last handle that can send ([`Channel`] clones, [`Sender`]s,
///   sinks) is dropped, the channel closes, exactly as if `close` was called.
/// - When the last handle that can receive ([`Channel`] clones, [`Receiver`]s)
///   is dropped, the channel closes and drops what it buffered.
///
/// `Channel` implements [`futures::Stream`](futures_core::Stream); through
/// [`sink()`](Channel::sink) it gives a [`futures::Sink`](futures_sink::Sink).
/// It does not implement `Sink` itself, so that `SinkExt::send` and
/// `SinkExt::close` never silently take over the methods below.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::Channel;
///
/// let ch = Channel::buffered(16);
/// let producer = ch.clone();
/// tokio::spawn(async move {
///     for i in 0..3 {
///         producer.send(i).await.unwrap();
///     }
///     producer.close();
/// });
/// let mut got = Vec::new();
/// while let Some(v) = ch.recv().await {
///     got.push(v);
/// }
/// assert_eq!(got, [0, 1, 2]);
/// assert!(ch.is_drained());
/// # }
/// ```
pub struct Channel<T> {
    shared: Arc<Shared<T>>,
    /// The parked receive of this handle's `Stream` impl.
    waiter: Option<u64>,
}

/// The sending half of a [`Channel`]: Manifold's sink-only view.
///
/// Cloneable; it counts as a handle that can send, so the channel closes when
/// the last `Sender` and `Channel` clone is gone.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::Channel;
///
/// let ch = Channel::buffered(4);
/// let tx = ch.sender();
/// let rx = ch.receiver();
/// drop(ch);
/// tx.send("hi").await.unwrap();
/// drop(tx); // the last sending handle: the channel closes
/// assert_eq!(rx.recv().await, Some("hi"));
/// assert_eq!(rx.recv().await, None);
/// # }
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving half of a [`Channel`]: Manifold's source-only view.
///
/// Cloneable (each value goes to exactly one receiver) and a
/// [`futures::Stream`](futures_core::Stream).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::Channel;
/// use futures::StreamExt;
///
/// let ch = Channel::buffered(4);
/// let rx = ch.receiver();
/// for i in 0..3 {
///     ch.send(i).await.unwrap();
/// }
/// drop(ch);
/// let all: Vec<i32> = rx.collect().await;
/// assert_eq!(all, [0, 1, 2]);
/// # }
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    waiter: Option<u64>,
}

impl<T> Channel<T> {
    /// An unbuffered channel: a send completes only when a receiver takes the value.
    ///
    /// A sender waits until a receiver is waiting in [`recv`](Channel::recv) (or
    /// polling the stream), so producer and consumer move in lock step.
    /// Because a value only changes hands to a waiting receiver,
    /// [`try_send`](Channel::try_send) succeeds only while one waits and
    /// [`try_recv`](Channel::try_recv) never takes a value from a waiting sender.
    ///
    /// A handle polled as a `Stream` (`next()`) counts as a waiting receiver
    /// until it is polled again or dropped, even if the `next()` future was
    /// abandoned (a lost `select!` branch): a send may then complete, and its
    /// value is held for the next receive on the channel. It is never lost
    /// while a receiving handle exists.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::new();
    /// let tx = ch.clone();
    /// let sent = tokio::spawn(async move { tx.send(7).await });
    /// assert_eq!(ch.recv().await, Some(7));
    /// assert!(sent.await.unwrap().is_ok());
    /// # }
    /// ```
    pub fn new() -> Channel<T> {
        Channel::with_meta(0, Meta::default())
    }

    /// A channel that buffers up to `capacity` values before a send waits.
    ///
    /// `Channel::buffered(0)` is the same as [`Channel::new`]. Room for up to
    /// 65,536 values is allocated when the channel is made; a larger channel
    /// allocates as it fills, so `capacity` may be a generous bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::buffered(2);
    /// assert!(ch.try_send(1).is_ok());
    /// assert!(ch.try_send(2).is_ok());
    /// assert!(ch.try_send(3).unwrap_err().is_full());
    /// ```
    pub fn buffered(capacity: usize) -> Channel<T> {
        Channel::with_meta(capacity, Meta::default())
    }

    /// A channel of `capacity` whose sends never wait: when it is full, the
    /// oldest value is dropped to make room for the new one. Manifold's
    /// sliding stream, for consumers that only care about the latest values
    /// (a gauge, a UDP socket read faster than it is consumed).
    ///
    /// The values dropped are counted in [`Description::dropped`]. A capacity
    /// of 0 is taken as 1. Closing and draining work as for any channel; a
    /// send on a closed channel still hands its value back.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let latest = Channel::sliding(2);
    /// for i in 1..=5 {
    ///     latest.try_send(i).unwrap(); // never full
    /// }
    /// assert_eq!(latest.try_recv(), Ok(4));
    /// assert_eq!(latest.try_recv(), Ok(5));
    /// assert_eq!(latest.description().dropped, 3);
    /// ```
    pub fn sliding(capacity: usize) -> Channel<T> {
        Channel::with_meta(
            capacity,
            Meta {
                overflow: Overflow::DropOldest,
                ..Meta::default()
            },
        )
    }

    /// A channel of `capacity` whose sends never wait: when it is full, the
    /// value being sent is dropped. Manifold's dropping stream, for consumers
    /// that want the first values of a burst and can lose the rest.
    ///
    /// The values dropped are counted in [`Description::dropped`]. A capacity
    /// of 0 is taken as 1. A send on a closed channel still hands its value back.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let first = Channel::dropping(2);
    /// for i in 1..=5 {
    ///     first.try_send(i).unwrap(); // never full
    /// }
    /// assert_eq!(first.try_recv(), Ok(1));
    /// assert_eq!(first.try_recv(), Ok(2));
    /// assert_eq!(first.description().dropped, 3);
    /// ```
    pub fn dropping(capacity: usize) -> Channel<T> {
        Channel::with_meta(
            capacity,
            Meta {
                overflow: Overflow::DropNewest,
                ..Meta::default()
            },
        )
    }

    pub(crate) fn with_meta(capacity: usize, mut meta: Meta) -> Channel<T> {
        if meta.kind.is_empty() {
            meta.kind = "channel";
        }
        Channel {
            shared: Arc::new(Shared::new(capacity, meta)),
            waiter: None,
        }
    }

    /// Sets what [`description`](Channel::description) says feeds this
    /// channel: a protocol's name (`"tcp"`, `"udp"`, ...) and the addresses of
    /// the socket behind it. For code that feeds a channel from a connection,
    /// so that a stuck pipeline can be traced to its socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::<u8>::buffered(1);
    /// let local = "127.0.0.1:4000".parse().ok();
    /// ch.describe_as("udp", local, None);
    /// let d = ch.description();
    /// assert_eq!((d.kind, d.local_addr, d.peer_addr), ("udp", local, None));
    /// ```
    pub fn describe_as(
        &self,
        kind: &'static str,
        local_addr: Option<std::net::SocketAddr>,
        peer_addr: Option<std::net::SocketAddr>,
    ) {
        self.shared.set_meta(|meta| {
            meta.kind = kind;
            meta.local_addr = local_addr;
            meta.peer_addr = peer_addr;
        });
    }

    /// A send-only handle on this channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::<u8>::buffered(1);
    /// let tx = ch.sender();
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(ch.try_recv(), Ok(1));
    /// ```
    pub fn sender(&self) -> Sender<T> {
        self.shared.add_sender();
        Sender {
            shared: self.shared.clone(),
        }
    }

    /// A receive-only handle on this channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::<u8>::buffered(1);
    /// let rx = ch.receiver();
    /// ch.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn receiver(&self) -> Receiver<T> {
        self.shared.add_receiver();
        Receiver {
            shared: self.shared.clone(),
            waiter: None,
        }
    }

    /// Splits this handle into its two halves.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let (tx, rx) = Channel::<u8>::buffered(1).split();
    /// tx.try_send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// ```
    pub fn split(self) -> (Sender<T>, Receiver<T>) {
        (self.sender(), self.receiver())
    }
}

impl<T> Default for Channel<T> {
    fn default() -> Channel<T> {
        Channel::new()
    }
}

/// Methods of every handle that can send.
macro_rules! send_methods {
    ($handle:literal) => {
        /// Sends a value, waiting while the buffer is full (or, unbuffered, until a
        /// receiver is waiting). On a [sliding](Channel::sliding) or
        /// [dropping](Channel::dropping) channel it never waits: a full channel
        /// drops a value instead.
        ///
        /// # Errors
        ///
        /// If the channel is closed, before or while waiting, the value comes back
        /// in [`SendError`].
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: if the future is dropped before it completes (a `select!`
        /// branch that lost, a timeout), the value was not sent. Its place in the
        /// queue of waiting senders is given up.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// h.send(1).await.unwrap();
        /// ch.close();
        /// assert_eq!(h.send(2).await.unwrap_err().0, 2);
        /// # }
        /// ```
        pub fn send(&self, value: T) -> SendFuture<'_, T> {
            SendFuture {
                shared: &self.shared,
                value: Some(value),
                waiter: None,
            }
        }

        /// Sends a value, waiting at most `timeout` for room.
        ///
        /// # Errors
        ///
        /// [`SendTimeoutError::Timeout`] when the time passes first,
        /// [`SendTimeoutError::Closed`] when the channel is closed; both hand the
        /// value back.
        ///
        /// # Panics
        ///
        /// If called outside a tokio runtime with timers enabled.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe, as [`send`](Self::send).
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// use std::time::Duration;
        /// use aleph::stream::{Channel, SendTimeoutError};
        ///
        /// let ch = Channel::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// h.send_timeout(1, Duration::from_millis(10)).await.unwrap();
        /// let err = h.send_timeout(2, Duration::from_millis(10)).await.unwrap_err();
        /// assert!(matches!(err, SendTimeoutError::Timeout(2)));
        /// # }
        /// ```
        pub async fn send_timeout(
            &self,
            value: T,
            timeout: Duration,
        ) -> Result<(), SendTimeoutError<T>> {
            let mut send = self.send(value);
            match tokio::time::timeout(timeout, &mut send).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(SendError(value))) => Err(SendTimeoutError::Closed(value)),
                Err(_) => match send.value.take() {
                    Some(value) => Err(SendTimeoutError::Timeout(value)),
                    None => unreachable!("a send that has not completed still holds its value"),
                },
            }
        }

        /// Sends a value if that is possible without waiting.
        ///
        /// # Errors
        ///
        /// [`TrySendError::Full`] when the buffer is full (unbuffered: no
        /// receiver is waiting; never for a sliding or dropping channel),
        /// [`TrySendError::Closed`] when the channel is closed; both hand the
        /// value back.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::{Channel, TrySendError};
        ///
        /// let ch = Channel::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// assert!(h.try_send(1).is_ok());
        /// assert!(matches!(h.try_send(2), Err(TrySendError::Full(2))));
        /// ch.close();
        /// assert!(matches!(h.try_send(3), Err(TrySendError::Closed(3))));
        /// ```
        pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
            self.shared.try_send(value).map_err(|(value, closed)| {
                if closed {
                    TrySendError::Closed(value)
                } else {
                    TrySendError::Full(value)
                }
            })
        }

        /// A [`futures::Sink`](futures_sink::Sink) that sends into this channel.
        ///
        /// The sink counts as a handle that can send. `SinkExt::close` on it
        /// closes the channel after the value it holds is delivered.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// use aleph::stream::Channel;
        /// use futures::SinkExt;
        ///
        /// let ch = Channel::buffered(4);
        #[doc = concat!("let h = ", $handle, ";")]
        /// let mut sink = h.sink();
        /// sink.send(1).await.unwrap();
        /// sink.close().await.unwrap();
        /// assert_eq!(ch.recv().await, Some(1));
        /// assert_eq!(ch.recv().await, None);
        /// # }
        /// ```
        pub fn sink(&self) -> ChannelSink<T> {
            self.shared.add_sender();
            ChannelSink::new(Sender {
                shared: self.shared.clone(),
            })
        }
    };
}

/// Methods of every handle that can receive.
macro_rules! recv_methods {
    ($handle:literal) => {
        /// Receives the next value, waiting until one is sent; `None` once the
        /// channel is closed and everything it buffered has been taken.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: if the future is dropped before it completes, no value is
        /// lost; it stays for the next receive.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::buffered(2);
        #[doc = concat!("let h = ", $handle, ";")]
        /// ch.send("a").await.unwrap();
        /// ch.close();
        /// assert_eq!(h.recv().await, Some("a"));
        /// assert_eq!(h.recv().await, None);
        /// # }
        /// ```
        pub fn recv(&self) -> RecvFuture<'_, T> {
            RecvFuture {
                shared: &self.shared,
                waiter: None,
            }
        }

        /// Receives the next value, waiting at most `timeout`.
        ///
        /// # Errors
        ///
        /// [`RecvTimeoutError::Timeout`] when the time passes first,
        /// [`RecvTimeoutError::Drained`] when the channel is closed and empty.
        ///
        /// # Panics
        ///
        /// If called outside a tokio runtime with timers enabled.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe, as [`recv`](Self::recv).
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// use std::time::Duration;
        /// use aleph::stream::{Channel, RecvTimeoutError};
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// let err = h.recv_timeout(Duration::from_millis(10)).await.unwrap_err();
        /// assert_eq!(err, RecvTimeoutError::Timeout);
        /// # }
        /// ```
        pub async fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
            match tokio::time::timeout(timeout, self.recv()).await {
                Ok(Some(value)) => Ok(value),
                Ok(None) => Err(RecvTimeoutError::Drained),
                Err(_) => Err(RecvTimeoutError::Timeout),
            }
        }

        /// Receives a value if one is buffered, without waiting.
        ///
        /// # Errors
        ///
        /// [`TryRecvError::Empty`] when nothing is buffered,
        /// [`TryRecvError::Drained`] when the channel is closed and empty.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::{Channel, TryRecvError};
        ///
        /// let ch = Channel::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// assert_eq!(h.try_recv(), Err(TryRecvError::Empty));
        /// ch.try_send(1).unwrap();
        /// ch.close();
        /// assert_eq!(h.try_recv(), Ok(1));
        /// assert_eq!(h.try_recv(), Err(TryRecvError::Drained));
        /// ```
        pub fn try_recv(&self) -> Result<T, TryRecvError> {
            self.shared.try_recv().map_err(|closed| {
                if closed {
                    TryRecvError::Drained
                } else {
                    TryRecvError::Empty
                }
            })
        }

        /// True once the channel is closed and everything it buffered has been taken.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// ch.try_send(1).unwrap();
        /// ch.close();
        /// assert!(!h.is_drained());
        /// h.try_recv().unwrap();
        /// assert!(h.is_drained());
        /// ```
        pub fn is_drained(&self) -> bool {
            self.shared.is_drained()
        }

        /// Runs `f` once the channel is drained (at once, on this thread, if it
        /// already is), always after the `on_closed` callbacks: registered
        /// while those still run, it runs right after them, on their thread.
        ///
        /// The callback runs on the thread that drains the channel, outside any
        /// lock; keep it short and do not block in it. If it panics when a
        /// receive or a dropped handle drains the channel, the panic is logged
        /// (`tracing`, error level) and the other callbacks still run; an
        /// explicit `close()` resumes it after every callback ran.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::{AtomicBool, Ordering};
        /// use std::sync::Arc;
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// let seen = Arc::new(AtomicBool::new(false));
        /// let flag = seen.clone();
        /// h.on_drained(move || flag.store(true, Ordering::SeqCst));
        /// ch.close();
        /// assert!(seen.load(Ordering::SeqCst));
        /// ```
        pub fn on_drained(&self, f: impl FnOnce() + Send + 'static) {
            self.shared.on_drained(Box::new(f));
        }

        /// Completes once the channel is drained.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: it only observes.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// ch.close();
        /// h.drained().await;
        /// # }
        /// ```
        pub fn drained(&self) -> EventFuture<'_, T> {
            EventFuture {
                shared: &self.shared,
                drained: true,
                key: None,
            }
        }
    };
}

/// Methods of every handle.
macro_rules! common_methods {
    ($handle:literal) => {
        /// Closes the channel, for every handle: no more values are accepted, and
        /// waiting sends get theirs back. Receivers still get what is buffered.
        ///
        /// Closing is synchronous and idempotent; closing a closed channel does nothing.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// h.close();
        /// assert!(ch.is_closed());
        /// ```
        pub fn close(&self) {
            self.shared.close(None);
        }

        /// Closes the channel because of `error`: receivers still get what is
        /// buffered, then the end, and [`error()`](Self::error) reports why (a
        /// connection reset mid-body is not a clean end).
        ///
        /// Does nothing if the channel is already closed.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// h.close_with_error(aleph::Error::other("upstream failed"));
        /// assert_eq!(ch.error().unwrap().to_string(), "upstream failed");
        /// ```
        pub fn close_with_error(&self, error: Error) {
            self.shared.close(Some(error));
        }

        /// True once the channel is closed (it may still hold values to receive).
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// assert!(!h.is_closed());
        /// ch.close();
        /// assert!(h.is_closed());
        /// ```
        pub fn is_closed(&self) -> bool {
            self.shared.is_closed()
        }

        /// Why the channel closed, if it did not close cleanly.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// ch.close();
        /// assert!(h.error().is_none());
        /// ```
        pub fn error(&self) -> Option<Error> {
            self.shared.error()
        }

        /// Runs `f` once the channel is closed (at once, on this thread, if it
        /// already is).
        ///
        /// The callback runs on the thread that closes the channel, outside any
        /// lock; keep it short and do not block in it. If it panics, the other
        /// callbacks still run; the panic then reaches the caller of an
        /// explicit `close()` (unless that thread is already unwinding), and is
        /// logged (`tracing`, error level) when a dropped handle closed the
        /// channel.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::{AtomicBool, Ordering};
        /// use std::sync::Arc;
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// let seen = Arc::new(AtomicBool::new(false));
        /// let flag = seen.clone();
        /// h.on_closed(move || flag.store(true, Ordering::SeqCst));
        /// ch.close();
        /// assert!(seen.load(Ordering::SeqCst));
        /// ```
        pub fn on_closed(&self, f: impl FnOnce() + Send + 'static) {
            self.shared.on_closed(Box::new(f));
        }

        /// Completes once the channel is closed.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: it only observes.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(1);
        #[doc = concat!("let h = ", $handle, ";")]
        /// let closer = ch.clone();
        /// tokio::spawn(async move { closer.close() });
        /// h.closed().await;
        /// # }
        /// ```
        pub fn closed(&self) -> EventFuture<'_, T> {
            EventFuture {
                shared: &self.shared,
                drained: false,
                key: None,
            }
        }

        /// A snapshot of the channel's state, to debug a stuck pipeline.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::stream::Channel;
        ///
        /// let ch = Channel::<u8>::buffered(4);
        #[doc = concat!("let h = ", $handle, ";")]
        /// assert_eq!(h.description().capacity, 4);
        /// ```
        pub fn description(&self) -> Description {
            self.shared.describe()
        }
    };
}

impl<T> Channel<T> {
    send_methods!("ch.clone()");
    recv_methods!("ch.clone()");
    common_methods!("ch.clone()");
}

impl<T> Sender<T> {
    send_methods!("ch.sender()");
    common_methods!("ch.sender()");

    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> Sender<T> {
        shared.add_sender();
        Sender { shared }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<T>> {
        &self.shared
    }
}

impl<T> Receiver<T> {
    recv_methods!("ch.receiver()");
    common_methods!("ch.receiver()");

    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> Receiver<T> {
        shared.add_receiver();
        Receiver {
            shared,
            waiter: None,
        }
    }

    /// Polls for the next value, as [`recv`](Self::recv) does, from a hand-written
    /// `poll` function. The task is woken when a value arrives or the channel drains.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::future::poll_fn;
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::buffered(2);
    /// let mut rx = ch.receiver();
    /// ch.send(4).await.unwrap();
    /// drop(ch); // the last sending handle: the channel closes
    /// let doubled = poll_fn(|cx| rx.poll_recv(cx).map(|next| next.map(|n| n * 2)));
    /// assert_eq!(doubled.await, Some(8));
    /// assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, None);
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.shared.poll_recv(&mut self.waiter, Kind::Handle, cx)
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Channel<T> {
        self.shared.add_sender();
        self.shared.add_receiver();
        Channel {
            shared: self.shared.clone(),
            waiter: None,
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender::from_shared(self.shared.clone())
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        Receiver::from_shared(self.shared.clone())
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        self.shared.cancel_recv(&mut self.waiter, Kind::Handle);
        self.shared.drop_sender();
        self.shared.drop_receiver();
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.cancel_recv(&mut self.waiter, Kind::Handle);
        self.shared.drop_receiver();
    }
}

impl<T> Stream for Channel<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        this.shared.poll_recv(&mut this.waiter, Kind::Handle, cx)
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> FusedStream for Channel<T> {
    fn is_terminated(&self) -> bool {
        self.shared.is_drained()
    }
}

impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.shared.is_drained()
    }
}

impl<T> std::fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel({})", self.shared.describe())
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sender({})", self.shared.describe())
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Receiver({})", self.shared.describe())
    }
}

/// The future of [`Channel::send`] and [`Sender::send`].
///
/// Cancel safe: dropping it before it completes sends nothing.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{Channel, SendFuture};
///
/// let ch = Channel::buffered(1);
/// let sending: SendFuture<'_, u8> = ch.send(1);
/// sending.await.unwrap();
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    shared: &'a Shared<T>,
    value: Option<T>,
    waiter: Option<u64>,
}

// The value is moved out by `Option::take`, never pinned in place.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.shared
            .poll_send(&mut this.value, &mut this.waiter, Kind::Future, cx)
            .map(|result| result.map_err(SendError))
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.shared.cancel_send(&mut self.waiter, Kind::Future);
    }
}

/// The future of [`Channel::recv`] and [`Receiver::recv`].
///
/// Cancel safe: dropping it before it completes loses no value.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{Channel, RecvFuture};
///
/// let ch = Channel::buffered(1);
/// ch.try_send(1u8).unwrap();
/// let receiving: RecvFuture<'_, u8> = ch.recv();
/// assert_eq!(receiving.await, Some(1));
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    shared: &'a Shared<T>,
    waiter: Option<u64>,
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        this.shared.poll_recv(&mut this.waiter, Kind::Future, cx)
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        self.shared.cancel_recv(&mut self.waiter, Kind::Future);
    }
}

/// The future of `closed()` and `drained()` on every stream handle.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{Channel, EventFuture};
///
/// let ch = Channel::<u8>::buffered(1);
/// let closed: EventFuture<'_, u8> = ch.closed();
/// ch.close();
/// closed.await;
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventFuture<'a, T> {
    shared: &'a Shared<T>,
    drained: bool,
    key: Option<usize>,
}

impl<T> Future for EventFuture<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.shared.poll_event(this.drained, &mut this.key, cx)
    }
}

impl<T> Drop for EventFuture<'_, T> {
    fn drop(&mut self) {
        self.shared.cancel_event(self.drained, &mut self.key);
    }
}

// Futures say which channel they wait on (its description) and whether they
// are parked; the value a send carries is left out (`T` may not be `Debug`).
impl<T> std::fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture")
            .field("channel", &self.shared.describe())
            .field("parked", &self.waiter.is_some())
            .finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvFuture")
            .field("channel", &self.shared.describe())
            .field("parked", &self.waiter.is_some())
            .finish()
    }
}

impl<T> std::fmt::Debug for EventFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFuture")
            .field("channel", &self.shared.describe())
            .field("drained", &self.drained)
            .field("parked", &self.key.is_some())
            .finish()
    }
}
