//! A request body as the client sends it, under the server's limits, and the
//! state one request shares between its body, its handler and the server.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body::{Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::{Error, ErrorKind, Result};

/// What one request's parts tell each other: whether the client went away,
/// and the status its body's failure calls for (the response the handler
/// makes then is replaced by it).
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    gone: AtomicBool,
    gone_changed: Notify,
    /// 0 while the body has not failed.
    failure: AtomicU16,
    /// Whether the request body was read to its end.
    body_read: AtomicBool,
}

impl Exchange {
    pub(crate) fn set_gone(&self) {
        if !self.gone.swap(true, Ordering::AcqRel) {
            self.gone_changed.notify_waiters();
        }
    }

    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    pub(crate) async fn gone(&self) {
        loop {
            let changed = self.gone_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_gone() {
                return;
            }
            changed.await;
        }
    }

    fn fail(&self, status: StatusCode) {
        let _ =
            self.failure
                .compare_exchange(0, status.as_u16(), Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether the request body was read to its end (else the client may
    /// still be sending it when the connection closes).
    pub(crate) fn body_was_read(&self) -> bool {
        self.body_read.load(Ordering::Acquire)
    }

    /// The status the request's body failure calls for, if it failed.
    pub(crate) fn failure(&self) -> Option<StatusCode> {
        match self.failure.load(Ordering::Acquire) {
            0 => None,
            code => StatusCode::from_u16(code).ok(),
        }
    }
}

/// A request body read from hyper, counted against the body size limit and
/// timed between reads.
pub(crate) struct Incoming {
    body: hyper::body::Incoming,
    limit: Option<u64>,
    received: u64,
    read_timeout: Option<Duration>,
    /// Armed while a read waits; disarmed by each frame.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    exchange: Arc<Exchange>,
    done: bool,
}

impl Incoming {
    pub(crate) fn new(
        body: hyper::body::Incoming,
        limit: Option<u64>,
        read_timeout: Option<Duration>,
        exchange: Arc<Exchange>,
    ) -> Incoming {
        Incoming {
            body,
            limit,
            received: 0,
            read_timeout,
            timer: None,
            armed: false,
            exchange,
            done: false,
        }
    }

    fn end_with(&mut self, status: StatusCode, error: Error) -> Poll<Option<Result<Frame<Bytes>>>> {
        self.done = true;
        self.exchange.fail(status);
        Poll::Ready(Some(Err(error)))
    }

    pub(crate) fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match http_body::Body::poll_frame(Pin::new(&mut this.body), cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.armed = false;
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if let Some(limit) = this.limit.filter(|&limit| this.received > limit) {
                        return this.end_with(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            Error::new(
                                ErrorKind::Protocol,
                                format!("request body larger than the limit of {limit} bytes"),
                            ),
                        );
                    }
                }
                // A handler that took the last bytes need not ask for the
                // end it has (one that reads Content-Length bytes).
                if http_body::Body::is_end_stream(&this.body) {
                    this.exchange.body_read.store(true, Ordering::Release);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.done = true;
                this.exchange.body_read.store(true, Ordering::Release);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                // Whatever broke the body came from the client's side: a
                // malformed chunk, a body cut short, a reset. Should the
                // connection still take a response, 400 is the answer.
                let error = body_error(error);
                this.end_with(StatusCode::BAD_REQUEST, error)
            }
            Poll::Pending => {
                let Some(timeout) = this.read_timeout else {
                    return Poll::Pending;
                };
                let deadline = Instant::now() + timeout;
                match &mut this.timer {
                    Some(timer) if this.armed => {}
                    Some(timer) => timer.as_mut().reset(deadline),
                    None => this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                }
                this.armed = true;
                let timer = this.timer.as_mut().expect("the timer was just set");
                if timer.as_mut().poll(cx).is_ready() {
                    return this.end_with(
                        StatusCode::REQUEST_TIMEOUT,
                        Error::new(
                            ErrorKind::Timeout,
                            format!("no request body bytes came for {timeout:?}"),
                        ),
                    );
                }
                Poll::Pending
            }
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.done || http_body::Body::is_end_stream(&self.body)
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        http_body::Body::size_hint(&self.body)
    }
}

use std::future::Future as _;

/// hyper's body error as an aleph error of the matching kind: a malformed
/// or truncated body is a protocol error, a reset an I/O error.
pub(crate) fn body_error(error: hyper::Error) -> Error {
    let io_kind = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_parse()
        || error.is_incomplete_message()
        || matches!(
            io_kind,
            Some(
                std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::UnexpectedEof
            )
        )
    {
        ErrorKind::Protocol
    } else if error.is_canceled() || error.is_closed() {
        ErrorKind::Closed
    } else {
        ErrorKind::Io
    };
    Error::with_source(kind, "reading the request body failed", error)
}
