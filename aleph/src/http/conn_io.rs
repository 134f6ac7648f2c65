//! The connection's socket as hyper drives it, with the write timeout: a
//! client that stops reading cannot hold its connection (and the handler's
//! producer) forever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, Sleep};

use crate::net::RawStream;

/// A connection's stream, failing a write that has made no progress for
/// the write timeout (hyper then closes the connection).
///
/// The timer costs nothing while writes go through: it is armed only when
/// the socket refuses bytes, and disarmed by the next write that takes some.
pub(crate) struct ConnIo {
    io: TokioIo<RawStream>,
    timeout: Option<Duration>,
    /// Kept between stalls so that a connection that stalls often
    /// allocates its timer once.
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer counts down a stall now.
    armed: bool,
}

impl ConnIo {
    pub(crate) fn new(stream: RawStream, timeout: Option<Duration>) -> ConnIo {
        ConnIo {
            io: TokioIo::new(stream),
            timeout,
            timer: None,
            armed: false,
        }
    }

    /// What a write that made progress (or failed) returns: the stall, if
    /// any, is over.
    fn went<T>(&mut self, result: io::Result<T>) -> Poll<io::Result<T>> {
        self.armed = false;
        Poll::Ready(result)
    }

    /// A write that cannot go on: waits, unless it has waited the whole
    /// timeout, which fails it.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let Some(timeout) = self.timeout else {
            return Poll::Pending;
        };
        if !self.armed {
            let deadline = Instant::now() + timeout;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        let Some(timer) = self.timer.as_mut() else {
            return Poll::Pending;
        };
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.armed = false;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client took no bytes for {timeout:?} (write timeout)"),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Read for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(result) => this.went(result),
            Poll::Pending => this.stalled(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => this.went(result),
            Poll::Pending => this.stalled(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(result) => this.went(result),
            Poll::Pending => this.stalled(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_shutdown(cx) {
            Poll::Ready(result) => this.went(result),
            Poll::Pending => this.stalled(cx),
        }
    }
}
