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
//! - **Links hold only what they read.** [`connect`] and the operators keep
//!   only the receiving half of an aleph source: they close it explicitly
//!   when the rules above ask, read its ending error from it, and never keep
//!   it open. No thread- or task-local state changes what a drop does.
//! - **Panics are errors.** A panic in user code a link or operator runs (an
//!   iterator, a function, a foreign stream it polls) ends its output with an
//!   error of kind [`Panic`](crate::ErrorKind::Panic): never a clean end,
//!   never an abort.
//!
//! Beyond channels: [`connect`] and [`splice`] join streams, the operators
//! ([`batch`], [`throttle`], [`periodically`], [`buffer`], [`zip`],
//! [`flatten`], [`fold`], ...) transform them, and a [`Bus`] fans messages
//! out to the subscribers of a topic.
//!
//! # Names
//!
//! Methods are named so that no trait a user commonly imports
//! (`futures::{StreamExt, SinkExt, TryStreamExt}`, tokio's io extension
//! traits) silently takes one over: `send` / `recv` rather than Manifold's
//! `put!` / `take!`, operators as free functions rather than methods, and no
//! handle implements `Sink` itself ([`sink()`](Channel::sink) gives one).

mod adapt;
mod bus;
mod channel;
mod connect;
mod core;
mod description;
mod duplex;
mod error;
mod io;
mod ops;
mod sink;
mod source;
mod wait;

pub use adapt::{from_iter, from_sink, from_stream, into_blocking_iter, into_mpsc, BlockingIter};
pub use bus::{Bus, BusDescription};
pub use channel::{Channel, EventFuture, Receiver, RecvFuture, SendFuture, Sender};
pub use connect::{connect, AlephSink, ConnectOptions, ForeignSink, IntoSink, Link};
pub use description::Description;
pub use duplex::{splice, Duplex};
pub use error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use io::DuplexIo;
pub use ops::{
    batch, buffer, consume, flatten, fold, periodically, periodically_after, throttle, zip,
};
pub use sink::ChannelSink;

pub(crate) use adapt::block_on;
pub(crate) use source::Source;
