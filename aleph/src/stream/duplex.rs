//! `Duplex<In, Out>`: a source of what arrives joined with a sink for what leaves.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};

use super::connect::IntoSink;
use super::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use super::{ChannelSink, Description, EventFuture, Receiver, RecvFuture, SendFuture, Sender};
use crate::Error;

/// Two streams in one handle: values of type `In` arrive, values of type `Out` leave.
///
/// This is what a TCP connection or a WebSocket is: [`recv`](Duplex::recv) and the
/// [`Stream`] impl read what the peer sent; [`send`](Duplex::send) and
/// [`sink`](Duplex::sink) write to the peer. It is cloneable; all clones share
/// both directions.
///
/// Closing applies to the sending direction, as Manifold's spliced streams:
/// [`close`](Duplex::close) closes it for every clone once what was sent is
/// taken (for a connection: after flushing, then the peer sees the end), and
/// reading continues until the peer closes its side, when the duplex is
/// [drained](Duplex::is_drained). Dropping every clone closes both directions.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{self, Channel};
///
/// let (to_peer, from_peer) = (Channel::buffered(4), Channel::buffered(4));
/// let duplex = stream::splice(from_peer.clone(), to_peer.clone());
///
/// duplex.send("ping").await.unwrap();
/// assert_eq!(to_peer.recv().await, Some("ping"));
/// from_peer.send("pong").await.unwrap();
/// assert_eq!(duplex.recv().await, Some("pong"));
/// # }
/// ```
pub struct Duplex<In, Out> {
    rx: Receiver<In>,
    tx: Sender<Out>,
}

/// Joins a source and a sink into one [`Duplex`]: `recv` reads from `source`,
/// `send` writes to `sink`.
///
/// `source` is an aleph handle or any [`futures::Stream`](futures_core::Stream);
/// `sink` an aleph handle or any [`futures::Sink`](futures_sink::Sink). Foreign
/// ones are bridged by a task on the current runtime (see
/// [`from_stream`](super::from_stream) and [`from_sink`](super::from_sink)).
///
/// # Panics
///
/// Bridging a foreign stream or sink panics outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{self, Channel};
///
/// let out = Channel::buffered(1);
/// let duplex = stream::splice(stream::from_iter([1, 2]), out.clone());
/// assert_eq!(duplex.recv().await, Some(1));
/// duplex.send("one").await.unwrap();
/// assert_eq!(out.recv().await, Some("one"));
/// # }
/// ```
pub fn splice<In, Out, S, K, M>(source: S, sink: K) -> Duplex<In, Out>
where
    S: Stream<Item = In> + Send + 'static,
    In: Send + 'static,
    K: IntoSink<Out, M>,
{
    Duplex::from_parts(super::adapt::into_receiver(source), sink.into_sender())
}

impl<In, Out> Duplex<In, Out> {
    /// A duplex from a receiving and a sending handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let inbound = Channel::<u8>::buffered(1);
    /// let outbound = Channel::<u8>::buffered(1);
    /// let d = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// d.try_send(1).unwrap();
    /// assert_eq!(outbound.try_recv(), Ok(1));
    /// ```
    pub fn from_parts(receiver: Receiver<In>, sender: Sender<Out>) -> Duplex<In, Out> {
        Duplex {
            rx: receiver,
            tx: sender,
        }
    }

    /// The two halves: what arrives and what leaves.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// let (rx, tx) = duplex.into_parts();
    /// inbound.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// tx.try_send(2).unwrap();
    /// assert_eq!(outbound.try_recv(), Ok(2));
    /// ```
    pub fn into_parts(self) -> (Receiver<In>, Sender<Out>) {
        (self.rx, self.tx)
    }

    /// A new receiving handle on what arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// let rx = duplex.receiver();
    /// inbound.try_send(7).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// ```
    pub fn receiver(&self) -> Receiver<In> {
        self.rx.clone()
    }

    /// A new sending handle on what leaves.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// let tx = duplex.sender();
    /// tx.try_send(7).unwrap();
    /// assert_eq!(outbound.try_recv(), Ok(7));
    /// ```
    pub fn sender(&self) -> Sender<Out> {
        self.tx.clone()
    }

    /// Receives what the peer sent next; `None` once the peer closed and all of it was taken.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped receive loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// inbound.send(1).await.unwrap();
    /// inbound.close(); // the peer hangs up
    /// assert_eq!(duplex.recv().await, Some(1));
    /// assert_eq!(duplex.recv().await, None);
    /// # }
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, In> {
        self.rx.recv()
    }

    /// Receives with a time limit; see [`Channel::recv_timeout`](super::Channel::recv_timeout).
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Drained`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with timers enabled.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use aleph::stream::{Channel, Duplex, RecvTimeoutError};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// // Nothing arrives: the limit passes (at once here, on a paused clock).
    /// let waited = duplex.recv_timeout(Duration::from_secs(5)).await;
    /// assert_eq!(waited, Err(RecvTimeoutError::Timeout));
    /// inbound.try_send(1).unwrap();
    /// assert_eq!(duplex.recv_timeout(Duration::from_secs(5)).await, Ok(1));
    /// # }
    /// ```
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<In, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).await
    }

    /// Receives what is already there, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Drained`].
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex, TryRecvError};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// assert_eq!(duplex.try_recv(), Err(TryRecvError::Empty));
    /// inbound.try_send(1).unwrap();
    /// inbound.close();
    /// assert_eq!(duplex.try_recv(), Ok(1));
    /// assert_eq!(duplex.try_recv(), Err(TryRecvError::Drained));
    /// ```
    pub fn try_recv(&self) -> Result<In, TryRecvError> {
        self.rx.try_recv()
    }

    /// Sends to the peer, waiting for room.
    ///
    /// # Errors
    ///
    /// [`SendError`](super::SendError) with the value once the sending direction is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped send delivers nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// duplex.send(1).await.unwrap();
    /// assert_eq!(outbound.recv().await, Some(1));
    /// duplex.close();
    /// assert_eq!(duplex.send(2).await.unwrap_err().into_inner(), 2);
    /// # }
    /// ```
    pub fn send(&self, value: Out) -> SendFuture<'_, Out> {
        self.tx.send(value)
    }

    /// Sends with a time limit; see [`Channel::send_timeout`](super::Channel::send_timeout).
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], with the value.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with timers enabled.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use aleph::stream::{Channel, Duplex, SendTimeoutError};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// duplex.send_timeout(1, Duration::from_secs(5)).await.unwrap();
    /// // The buffer is full and nobody reads: the limit passes (at once, on a paused clock).
    /// let err = duplex.send_timeout(2, Duration::from_secs(5)).await.unwrap_err();
    /// assert!(matches!(err, SendTimeoutError::Timeout(2)));
    /// # }
    /// ```
    pub async fn send_timeout(
        &self,
        value: Out,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<Out>> {
        self.tx.send_timeout(value, timeout).await
    }

    /// Sends if there is room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex, TrySendError};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// assert!(duplex.try_send(1).is_ok());
    /// assert!(matches!(duplex.try_send(2), Err(TrySendError::Full(2))));
    /// duplex.close();
    /// assert!(matches!(duplex.try_send(3), Err(TrySendError::Closed(3))));
    /// ```
    pub fn try_send(&self, value: Out) -> Result<(), TrySendError<Out>> {
        self.tx.try_send(value)
    }

    /// A [`futures::Sink`](futures_sink::Sink) for the sending direction.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::{Channel, Duplex};
    /// use futures::SinkExt;
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// let mut sink = duplex.sink();
    /// sink.send(1).await.unwrap(); // SinkExt::send
    /// assert_eq!(outbound.recv().await, Some(1));
    /// # }
    /// ```
    pub fn sink(&self) -> ChannelSink<Out> {
        self.tx.sink()
    }

    /// Closes the sending direction for every clone; what was sent is still
    /// delivered (for a connection: flushed, then the peer sees the end).
    /// Receiving continues until the peer closes its side.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// duplex.close();
    /// assert!(outbound.is_closed());
    /// inbound.try_send(1).unwrap(); // the other direction is still open
    /// assert_eq!(duplex.try_recv(), Ok(1));
    /// ```
    pub fn close(&self) {
        self.tx.close();
    }

    /// Closes the sending direction because of `error`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// duplex.close_with_error(aleph::Error::other("bad request"));
    /// assert!(duplex.is_closed());
    /// assert_eq!(outbound.error().unwrap().to_string(), "bad request");
    /// ```
    pub fn close_with_error(&self, error: Error) {
        self.tx.close_with_error(error);
    }

    /// True once the sending direction is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// assert!(!duplex.is_closed());
    /// outbound.close(); // the peer will take no more
    /// assert!(duplex.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// True once the peer closed its side and everything it sent was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// inbound.try_send(1).unwrap();
    /// inbound.close();
    /// assert!(!duplex.is_drained()); // one value is still to be taken
    /// duplex.try_recv().unwrap();
    /// assert!(duplex.is_drained());
    /// ```
    pub fn is_drained(&self) -> bool {
        self.rx.is_drained()
    }

    /// Why the duplex ended, if not cleanly: the receiving direction's error
    /// (a connection reset, say), else the sending direction's.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// assert!(duplex.error().is_none());
    /// inbound.close_with_error(aleph::Error::other("connection reset"));
    /// assert_eq!(duplex.error().unwrap().to_string(), "connection reset");
    /// ```
    pub fn error(&self) -> Option<Error> {
        self.rx.error().or_else(|| self.tx.error())
    }

    /// Runs `f` once the sending direction is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// let seen = Arc::new(AtomicBool::new(false));
    /// let flag = seen.clone();
    /// duplex.on_closed(move || flag.store(true, Ordering::SeqCst));
    /// duplex.close();
    /// assert!(seen.load(Ordering::SeqCst));
    /// ```
    pub fn on_closed(&self, f: impl FnOnce() + Send + 'static) {
        self.tx.on_closed(f);
    }

    /// Runs `f` once the receiving direction is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// let seen = Arc::new(AtomicBool::new(false));
    /// let flag = seen.clone();
    /// duplex.on_drained(move || flag.store(true, Ordering::SeqCst));
    /// inbound.close(); // nothing was buffered: drained at once
    /// assert!(seen.load(Ordering::SeqCst));
    /// ```
    pub fn on_drained(&self, f: impl FnOnce() + Send + 'static) {
        self.rx.on_drained(f);
    }

    /// Completes once the sending direction is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// tokio::spawn(async move { outbound.close() });
    /// duplex.closed().await;
    /// assert!(duplex.is_closed());
    /// # }
    /// ```
    pub fn closed(&self) -> EventFuture<'_, Out> {
        self.tx.closed()
    }

    /// Completes once the receiving direction is drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let (inbound, outbound) = (Channel::<u8>::buffered(1), Channel::<u8>::buffered(1));
    /// let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    /// inbound.try_send(1).unwrap();
    /// inbound.close();
    /// assert_eq!(duplex.recv().await, Some(1));
    /// duplex.drained().await;
    /// # }
    /// ```
    pub fn drained(&self) -> EventFuture<'_, In> {
        self.rx.drained()
    }

    /// The receiving direction's description, with the sending direction's in
    /// [`Description::sink`].
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::{Channel, Duplex};
    ///
    /// let a = Channel::<u8>::buffered(2);
    /// let b = Channel::<u8>::buffered(3);
    /// let d = Duplex::from_parts(a.receiver(), b.sender());
    /// let desc = d.description();
    /// assert_eq!(desc.capacity, 2);
    /// assert_eq!(desc.sink.unwrap().capacity, 3);
    /// ```
    pub fn description(&self) -> Description {
        let mut description = self.rx.description();
        description.sink = Some(Box::new(self.tx.description()));
        description
    }
}

impl<In, Out> Clone for Duplex<In, Out> {
    fn clone(&self) -> Duplex<In, Out> {
        Duplex {
            rx: self.rx.clone(),
            tx: self.tx.clone(),
        }
    }
}

impl<In, Out> Stream for Duplex<In, Out> {
    type Item = In;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<In>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

impl<In, Out> FusedStream for Duplex<In, Out> {
    fn is_terminated(&self) -> bool {
        self.rx.is_drained()
    }
}

impl<In, Out> std::fmt::Debug for Duplex<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Duplex({})", self.description())
    }
}

impl<In, Out> From<Duplex<In, Out>> for (Receiver<In>, Sender<Out>) {
    fn from(duplex: Duplex<In, Out>) -> Self {
        duplex.into_parts()
    }
}
