//! `ChannelSink`: a channel seen as a `futures::Sink`.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_sink::Sink;

use super::core::Kind;
use super::Sender;
use crate::{Error, ErrorKind};

/// A [`futures::Sink`](futures_sink::Sink) over a channel, from `sink()` on any
/// handle that can send.
///
/// It holds at most one value accepted by `start_send` that the channel had no
/// room for yet; `poll_ready` and `poll_flush` deliver it, so
/// `SinkExt::send(v).await` returns only once `v` is in the channel.
/// `poll_close` delivers the held value and then closes the channel for every
/// handle.
///
/// Dropping the sink while it holds a value (fed with `SinkExt::feed` and
/// never flushed) tries once more to put the value in the channel; if there
/// is still no room, the channel is closed with an error of kind
/// [`Closed`](ErrorKind::Closed), so its consumer never mistakes the loss for
/// a clean end. Flush or close a sink before dropping it.
///
/// # Errors
///
/// An error of kind [`Closed`](ErrorKind::Closed) once the channel is closed.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::Channel;
/// use futures::{stream, SinkExt, StreamExt};
///
/// let ch = Channel::buffered(8);
/// let mut sink = ch.sink();
/// sink.send_all(&mut stream::iter([1, 2, 3]).map(Ok)).await.unwrap();
/// sink.close().await.unwrap();
/// assert_eq!(ch.collect::<Vec<_>>().await, [1, 2, 3]);
/// # }
/// ```
pub struct ChannelSink<T> {
    sender: Sender<T>,
    held: Option<T>,
    waiter: Option<u64>,
}

impl<T> ChannelSink<T> {
    pub(crate) fn new(sender: Sender<T>) -> ChannelSink<T> {
        ChannelSink {
            sender,
            held: None,
            waiter: None,
        }
    }

    /// The sending handle under this sink.
    pub fn sender(&self) -> &Sender<T> {
        &self.sender
    }

    fn closed_error() -> Error {
        Error::new(ErrorKind::Closed, "send on a closed stream")
    }

    fn poll_deliver(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.held.is_none() {
            return Poll::Ready(Ok(()));
        }
        match self
            .sender
            .shared()
            .poll_send(&mut self.held, &mut self.waiter, Kind::Handle, cx)
        {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(_lost)) => Poll::Ready(Err(Error::new(
                ErrorKind::Closed,
                "stream closed before the sink could deliver its value",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

// The held value is moved by `Option::take`, never pinned in place.
impl<T> Unpin for ChannelSink<T> {}

impl<T> Sink<T> for ChannelSink<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        match this.poll_deliver(cx) {
            Poll::Ready(Ok(())) if this.sender.is_closed() => {
                Poll::Ready(Err(Self::closed_error()))
            }
            other => other,
        }
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Error> {
        let this = self.get_mut();
        debug_assert!(this.held.is_none(), "start_send without poll_ready");
        match this.sender.shared().try_send(item) {
            Ok(()) => Ok(()),
            Err((_, true)) => Err(Self::closed_error()),
            Err((item, false)) => {
                this.held = Some(item);
                Ok(())
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_deliver(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        let delivered = std::task::ready!(this.poll_deliver(cx));
        this.sender.close();
        Poll::Ready(delivered)
    }
}

impl<T> Drop for ChannelSink<T> {
    fn drop(&mut self) {
        let shared = self.sender.shared();
        shared.cancel_send(&mut self.waiter, Kind::Handle);
        let Some(value) = self.held.take() else {
            return;
        };
        if let Err((value, false)) = shared.try_send(value) {
            drop(value);
            shared.close(Some(Error::new(
                ErrorKind::Closed,
                "a sink was dropped holding a value the stream had no room for",
            )));
        }
    }
}

impl<T> std::fmt::Debug for ChannelSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSink")
            .field("holding", &self.held.is_some())
            .field("channel", &self.sender.description())
            .finish()
    }
}
