//! A response body as the client reads it: hyper's body under the read and
//! request timeouts, holding its connection until the end.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::pool::Checkout;
use crate::{Error, ErrorKind, Result, TimeoutKind};

/// How much of an unread body is drained, after the response is dropped,
/// to keep its HTTP/1 connection; beyond it the connection is closed.
const DRAIN_LIMIT: usize = 64 * 1024;
/// How long that drain may take.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// The body of a client response.
pub(crate) struct ResponseBody {
    incoming: Option<hyper::body::Incoming>,
    checkout: Option<Checkout>,
    read_timeout: Option<Duration>,
    /// The whole request's deadline and its length, for the message.
    deadline: Option<(Instant, Duration)>,
    timer: Option<Pin<Box<Sleep>>>,
    timer_kind: TimeoutKind,
    armed: bool,
    url: Arc<str>,
}

impl ResponseBody {
    pub(crate) fn new(
        incoming: hyper::body::Incoming,
        checkout: Checkout,
        read_timeout: Option<Duration>,
        deadline: Option<(Instant, Duration)>,
        url: Arc<str>,
    ) -> ResponseBody {
        let mut body = ResponseBody {
            incoming: Some(incoming),
            checkout: Some(checkout),
            read_timeout,
            deadline,
            timer: None,
            timer_kind: TimeoutKind::Read,
            armed: false,
            url,
        };
        if body.incoming.as_ref().is_some_and(|b| b.is_end_stream()) {
            body.finish(true);
        }
        body
    }

    /// Lets go of the connection: back to the pool when the body ended
    /// cleanly, closed otherwise.
    fn finish(&mut self, clean: bool) {
        self.incoming = None;
        self.timer = None;
        if let Some(mut checkout) = self.checkout.take() {
            checkout.set_reusable(clean);
        }
    }

    /// Arms the read / request timer while a read waits; true when it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let now = Instant::now();
            let read = self.read_timeout.and_then(|t| now.checked_add(t));
            let (at, kind) = match (read, self.deadline) {
                (Some(read), Some((deadline, _))) if deadline <= read => {
                    (deadline, TimeoutKind::Request)
                }
                (Some(read), _) => (read, TimeoutKind::Read),
                (None, Some((deadline, _))) => (deadline, TimeoutKind::Request),
                (None, None) => return false,
            };
            self.timer_kind = kind;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(at),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.armed = true;
        }
        match &mut self.timer {
            Some(timer) => std::future::Future::poll(timer.as_mut(), cx).is_ready(),
            None => false,
        }
    }

    fn timeout_error(&self) -> Error {
        match self.timer_kind {
            TimeoutKind::Request => {
                let limit = self.deadline.map(|(_, d)| d).unwrap_or_default();
                Error::timeout(
                    TimeoutKind::Request,
                    format!(
                        "request timeout ({limit:?}) reading the body from {}",
                        self.url
                    ),
                )
            }
            _ => Error::timeout(
                TimeoutKind::Read,
                format!(
                    "read timeout ({:?}) reading the body from {}",
                    self.read_timeout.unwrap_or_default(),
                    self.url
                ),
            ),
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>>>> {
        let this = self.get_mut();
        let Some(incoming) = &mut this.incoming else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut *incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.armed = false;
                if incoming.is_end_stream() {
                    this.finish(true);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.finish(false);
                let message = if error.is_timeout() {
                    format!("the body from {} timed out", this.url)
                } else {
                    format!("the body from {} was cut short", this.url)
                };
                Poll::Ready(Some(Err(Error::with_source(
                    ErrorKind::Body,
                    message,
                    error,
                ))))
            }
            Poll::Ready(None) => {
                this.finish(true);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.poll_timer(cx) {
                    let error = this.timeout_error();
                    this.finish(false);
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        match &self.incoming {
            Some(body) => body.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        let (Some(incoming), Some(checkout)) = (self.incoming.take(), self.checkout.take()) else {
            return;
        };
        // An HTTP/2 stream is reset by dropping its body, the connection
        // stays; an HTTP/1 connection is kept only if the rest of the body
        // is small and comes quickly.
        if checkout.is_http2() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(drain(incoming, checkout));
    }
}

/// Reads and drops the rest of a body, to keep its connection.
async fn drain(mut incoming: hyper::body::Incoming, mut checkout: Checkout) {
    let mut read = 0usize;
    let all = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(frame) =
            std::future::poll_fn(|cx| Pin::new(&mut incoming).poll_frame(cx)).await
        {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        read += data.len();
                        if read > DRAIN_LIMIT {
                            return false;
                        }
                    }
                }
                Err(_) => return false,
            }
        }
        true
    })
    .await;
    checkout.set_reusable(matches!(all, Ok(true)));
}
