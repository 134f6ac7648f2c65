//! Backpressured streams: Manifold's streams for Rust.
//!
//! Every protocol in aleph hands out the same stream types. A [`Channel`] is a
//! cloneable handle that is both sink and source; [`Sender`] and [`Receiver`]
//! are its halves; a [`Duplex`] joins a source of what arrives with a sink for
//! what leaves (a TCP connection, a WebSocket).
//!
//! # The rules
//!
//! - **Backpressure.** A channel holds at most its capacity; a send waits for
//!   room. An unbuffered channel ([`Channel::new`]) hands each value straight
//!   to a waiting receiver.
//! - **Close and drain.** [`close`](Channel::close) stops new values; a closed
//!   source still yields what it buffered and is *drained* once empty.
//!   [`error`](Channel::error) says why, if it did not close cleanly.
//! - **No forgotten close.** When the last handle that can send is dropped the
//!   channel closes; when the last handle that can receive is dropped it
//!   closes and drops what it buffered.
//! - **Cancel safety.** A `send` whose future is dropped before it completes
//!   delivers nothing; a `recv` whose future is dropped loses nothing.
//! - **Describable.** [`description`](Channel::description) tells what a
//!   stream is, how full, who waits, and whether it ended.
//!
//! # Names
//!
//! Methods are named so that no trait a user commonly imports
//! (`futures::{StreamExt, SinkExt, TryStreamExt}`, tokio's io extension
//! traits) silently takes one over: `send` / `recv` rather than Manifold's
//! `put!` / `take!`, operators as free functions rather than methods, and no
//! handle implements `Sink` itself ([`sink()`](Channel::sink) gives one).

mod adapt;
mod channel;
mod connect;
mod core;
mod description;
mod duplex;
mod error;
mod io;
mod ops;
mod sink;
mod wait;

pub use adapt::{
    from_iter, from_sink, from_stream, into_blocking_iter, into_mpsc, BlockingIter,
    ADAPTER_CAPACITY,
};
pub use channel::{Channel, EventFuture, Receiver, RecvFuture, SendFuture, Sender};
pub use connect::{connect, AlephSink, Connect, ForeignSink, IntoSink, Link};
pub use description::Description;
pub use duplex::{splice, Duplex};
pub use error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use io::DuplexIo;
pub use ops::{batch, buffer, consume, flatten, fold, periodically, throttle, zip};
pub use sink::ChannelSink;

pub(crate) use adapt::block_on;

use std::cell::{Cell, RefCell};

use crate::Error;

thread_local! {
    /// Set while a link or operator drops its source because its sink closed
    /// (upstream propagation): every aleph handle dropped meanwhile closes its
    /// channel, even one wrapped in foreign stream adapters.
    static CLOSING_UPSTREAM: Cell<bool> = const { Cell::new(false) };
}

tokio::task_local! {
    /// In a link or operator task: the error with which a source it read
    /// ended, noted by whichever aleph handle saw the end.
    static END_ERROR: RefCell<Option<Error>>;
}

/// Drops `source`, closing every aleph channel it holds a receiving handle on.
pub(crate) fn close_upstream<S>(source: S) {
    CLOSING_UPSTREAM.with(|flag| flag.set(true));
    drop(source);
    CLOSING_UPSTREAM.with(|flag| flag.set(false));
}

fn close_if_upstream<T>(shared: &core::Shared<T>) {
    if CLOSING_UPSTREAM.with(|flag| flag.get()) {
        shared.close(None);
    }
}

fn note_end_error(error: &Error) {
    let _ = END_ERROR.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(error.clone());
        }
    });
}

/// Runs `fut` with a slot for the error that ends the sources it reads, and
/// returns the error noted, if any.
pub(crate) async fn catching_end_error<F: std::future::Future>(
    fut: F,
) -> (F::Output, Option<Error>) {
    END_ERROR
        .scope(RefCell::new(None), async move {
            let out = fut.await;
            let error = END_ERROR.with(|slot| slot.borrow_mut().take());
            (out, error)
        })
        .await
}
