//! What links and operators read from: a small trait with three verbs
//! (receive, the error that ended it, close), implemented by aleph's
//! receiving handle and by a wrapper around any foreign stream.
//!
//! A link never holds more of an aleph source than its receiving half, so the
//! drop rule (the last handle that can send closes the channel) holds through
//! it; it closes that half explicitly for upstream propagation and reads the
//! ending error from it. Nothing here depends on which thread or task a drop
//! happens on.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{Channel, Duplex, EventFuture, Receiver, Sender};
use crate::{Error, ErrorKind};

/// A source a link or operator reads.
pub(crate) trait Source {
    type Item;

    /// The next value; `None` once the source ended.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Self::Item>>;

    /// Why the source ended, once it did, if not cleanly.
    fn end_error(&self) -> Option<Error>;

    /// Closes the source, for upstream propagation.
    fn close(&mut self);
}

impl<T> Source for Receiver<T> {
    type Item = T;

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        Receiver::poll_recv(self, cx)
    }

    fn end_error(&self) -> Option<Error> {
        self.error()
    }

    fn close(&mut self) {
        Receiver::close(self);
    }
}

/// A foreign stream as a [`Source`]: a panic while polling it ends it with an
/// error of kind [`Panic`](ErrorKind::Panic); closing it drops it.
pub(crate) struct Foreign<S> {
    stream: Option<Pin<Box<S>>>,
    error: Option<Error>,
}

impl<S> Foreign<S> {
    pub(crate) fn new(stream: S) -> Foreign<S> {
        Foreign {
            stream: Some(Box::pin(stream)),
            error: None,
        }
    }

    /// Drops the stream, containing a panic of its `Drop`.
    fn release(&mut self) {
        if let Some(stream) = self.stream.take() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(stream))) {
                tracing::warn!(
                    panic = crate::panic::message(&*payload),
                    "a source stream panicked while being dropped"
                );
            }
        }
    }
}

impl<S: Stream> Source for Foreign<S> {
    type Item = S::Item;

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match catch_unwind(AssertUnwindSafe(|| stream.as_mut().poll_next(cx))) {
            Ok(Poll::Ready(None)) => {
                self.release();
                Poll::Ready(None)
            }
            Ok(polled) => polled,
            Err(payload) => {
                self.error = Some(panic_error("a source stream", &*payload));
                self.release();
                Poll::Ready(None)
            }
        }
    }

    fn end_error(&self) -> Option<Error> {
        self.error.clone()
    }

    fn close(&mut self) {
        self.release();
    }
}

impl<S> Drop for Foreign<S> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Any stream as a [`Source`]: an aleph handle becomes its receiving half,
/// anything else is wrapped.
pub(crate) enum AnySource<S: Stream> {
    Aleph(Receiver<S::Item>),
    Foreign(Foreign<S>),
}

impl<S: Stream> Source for AnySource<S> {
    type Item = S::Item;

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        match self {
            AnySource::Aleph(rx) => Source::poll_recv(rx, cx),
            AnySource::Foreign(foreign) => foreign.poll_recv(cx),
        }
    }

    fn end_error(&self) -> Option<Error> {
        match self {
            AnySource::Aleph(rx) => rx.end_error(),
            AnySource::Foreign(foreign) => foreign.end_error(),
        }
    }

    fn close(&mut self) {
        match self {
            AnySource::Aleph(rx) => Source::close(rx),
            AnySource::Foreign(foreign) => foreign.close(),
        }
    }
}

/// `stream` as a [`Source`]. A [`Channel`], [`Receiver`] or
/// `Duplex<T, T>` gives up everything but its receiving half (so the link
/// holding it never keeps the channel open); any other stream is wrapped.
pub(crate) fn into_source<S>(stream: S) -> AnySource<S>
where
    S: Stream + 'static,
{
    let mut slot = Some(stream);
    let any: &mut dyn Any = &mut slot;
    if let Some(rx) = any
        .downcast_mut::<Option<Receiver<S::Item>>>()
        .and_then(Option::take)
    {
        return AnySource::Aleph(rx);
    }
    if let Some(ch) = any
        .downcast_mut::<Option<Channel<S::Item>>>()
        .and_then(Option::take)
    {
        return AnySource::Aleph(ch.receiver());
    }
    if let Some(duplex) = any
        .downcast_mut::<Option<Duplex<S::Item, S::Item>>>()
        .and_then(Option::take)
    {
        return AnySource::Aleph(duplex.into_parts().0);
    }
    let Some(stream) = slot else {
        unreachable!("the stream is taken out only when it is an aleph handle");
    };
    AnySource::Foreign(Foreign::new(stream))
}

/// What [`next_or_closed`] saw first.
pub(crate) enum Next<T> {
    Value(T),
    /// The source ended; its error, if any, is in [`Source::end_error`].
    Ended,
    /// The sink closed; nothing was taken from the source.
    SinkClosed,
}

/// The next value of `source`, unless `sink` is closed. The sink is looked
/// at before the source, so a sink already closed takes nothing; its
/// `closed` event (`sink_closed`) is polled only when the source has nothing,
/// to wake this task when the sink closes meanwhile.
pub(crate) async fn next_or_closed<Src, T>(
    source: &mut Src,
    sink: &Sender<T>,
    sink_closed: &mut Pin<&mut EventFuture<'_, T>>,
) -> Next<Src::Item>
where
    Src: Source + ?Sized,
{
    std::future::poll_fn(|cx| {
        if sink.is_closed() {
            return Poll::Ready(Next::SinkClosed);
        }
        if let Poll::Ready(next) = source.poll_recv(cx) {
            return Poll::Ready(match next {
                Some(value) => Next::Value(value),
                None => Next::Ended,
            });
        }
        match sink_closed.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Next::SinkClosed),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// The next value of `source`.
pub(crate) async fn next<Src: Source + ?Sized>(source: &mut Src) -> Option<Src::Item> {
    std::future::poll_fn(|cx| source.poll_recv(cx)).await
}

/// An error of kind [`Panic`](ErrorKind::Panic) for a panic of `what`.
pub(crate) fn panic_error(what: &str, payload: &(dyn Any + Send)) -> Error {
    Error::new(
        ErrorKind::Panic,
        format!("{what} panicked: {}", crate::panic::message(payload)),
    )
}

/// Calls `f`, turning a panic into an error of kind [`Panic`](ErrorKind::Panic)
/// that names `what`.
pub(crate) fn catching<R>(what: &str, f: impl FnOnce() -> R) -> Result<R, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_error(what, &*payload))
}
