//! The client side of server-sent events: a response's events as a stream
//! that reconnects, as a browser's `EventSource` does (HTML standard
//! §9.2.3), sending `Last-Event-ID`.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use http::{Method, StatusCode};
use sync_wrapper::SyncWrapper;

use super::{exec, ClientInner, ClientResponse, RequestOptions};
use crate::http::sse::{Event, EventStream};
use crate::{Error, ErrorKind, Result};

/// The wait before reconnecting when the server named none (`retry:`).
const DEFAULT_RETRY: Duration = Duration::from_secs(3);
/// The shortest wait before reconnecting, whatever the server's `retry:`
/// (a `retry: 0` from a server that closes at once would otherwise be a
/// reconnection storm).
const MIN_RETRY: Duration = Duration::from_millis(100);
/// The longest wait that backing off reaches (unless `retry:` is longer).
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a response needs to ask for its events again.
#[derive(Clone)]
pub(crate) struct Reconnect {
    pub(crate) inner: Arc<ClientInner>,
    pub(crate) headers: HeaderMap,
}

/// The events of a `text/event-stream` response, reconnecting when the
/// stream ends or breaks.
///
/// After an end or a network error, it waits the server's `retry:` (3 s
/// when none was sent, 100 ms at the least; doubled, up to a minute, for
/// each reconnection in a row that brought no event) and sends the request again with `Last-Event-ID`
/// set to the last id seen; an answer other than `200` with
/// `text/event-stream` ends it with an error, as `EventSource` does.
/// Reconnection needs a `GET` with no body; it can be turned off with
/// [`reconnect`](EventSource::reconnect), and then the stream ends with the
/// response. Malformed events (a line over the parser's bound) end it with
/// an error of kind [`Decode`](ErrorKind::Decode).
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> aleph::Result<()> {
/// use futures::StreamExt;
///
/// let response = aleph::http::get("http://127.0.0.1:8080/events").await?;
/// let mut events = response.sse();
/// while let Some(event) = events.next().await {
///     let event = event?;
///     println!("{}: {:?}", event.event_type(), event.data);
/// }
/// # Ok(())
/// # }
/// ```
pub struct EventSource {
    // Reached only through `&mut self`: the wrappers make the source Sync.
    current: Option<SyncWrapper<EventStream>>,
    reconnect: Option<Reconnect>,
    url: Arc<str>,
    last_event_id: Option<String>,
    retry: Duration,
    pending: Option<SyncWrapper<BoxFuture<'static, Result<ClientResponse>>>>,
    done: bool,
    /// Reconnections in a row that brought no event.
    quiet: u32,
}

impl EventSource {
    pub(crate) fn new(response: ClientResponse) -> EventSource {
        let reconnect = response.reconnect.clone();
        EventSource {
            url: response.url.clone(),
            current: Some(SyncWrapper::new(EventStream::new(response.body))),
            reconnect,
            last_event_id: None,
            retry: DEFAULT_RETRY,
            pending: None,
            done: false,
            quiet: 0,
        }
    }

    /// Turns reconnection on (the default, when the request allows it) or
    /// off.
    pub fn reconnect(mut self, on: bool) -> EventSource {
        if !on {
            self.reconnect = None;
        }
        self
    }

    /// The id of the last event received, sent as `Last-Event-ID` on
    /// reconnection.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    fn again(&mut self) -> bool {
        let Some(plan) = self.reconnect.clone() else {
            return false;
        };
        let mut headers = plan.headers.clone();
        default_headers(&mut headers);
        if let Some(id) = self
            .last_event_id
            .as_deref()
            .and_then(|id| HeaderValue::try_from(id).ok())
        {
            headers.insert(HeaderName::from_static("last-event-id"), id);
        }
        let base = self.retry.max(MIN_RETRY);
        let wait = base
            .saturating_mul(1 << self.quiet.min(16))
            .min(MAX_BACKOFF.max(base));
        self.quiet = self.quiet.saturating_add(1);
        let request = RequestOptions {
            method: Method::GET,
            url: self.url.to_string(),
            headers,
            throw_exceptions: Some(false),
            ..RequestOptions::default()
        };
        self.pending = Some(SyncWrapper::new(
            async move {
                tokio::time::sleep(wait).await;
                exec::execute(plan.inner, request).await
            }
            .boxed(),
        ));
        true
    }
}

impl Stream for EventSource {
    type Item = Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Event>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(pending) = &mut this.pending {
                let response = std::task::ready!(pending.get_mut().poll_unpin(cx));
                this.pending = None;
                match response.and_then(check) {
                    Ok(response) => {
                        this.current = Some(SyncWrapper::new(EventStream::new(response.body)))
                    }
                    Err(error) if is_network(&error) => {
                        tracing::debug!(%error, "event stream reconnect failed; retrying");
                        this.again();
                        continue;
                    }
                    Err(error) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                }
            }
            let Some(stream) = &mut this.current else {
                this.done = true;
                return Poll::Ready(None);
            };
            let stream = stream.get_mut();
            match std::task::ready!(stream.poll_next_unpin(cx)) {
                Some(Ok(event)) => {
                    this.quiet = 0;
                    this.last_event_id = stream.last_event_id().map(str::to_owned);
                    if let Some(retry) = stream.retry() {
                        this.retry = retry;
                    }
                    return Poll::Ready(Some(Ok(event)));
                }
                Some(Err(error)) if is_network(&error) => {
                    this.current = None;
                    if !this.again() {
                        this.done = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                    tracing::debug!(%error, "event stream broke; reconnecting");
                }
                Some(Err(error)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    this.current = None;
                    if !this.again() {
                        this.done = true;
                        return Poll::Ready(None);
                    }
                }
            }
        }
    }
}

/// An answer that is an event stream, or the error that ends the source.
fn check(response: ClientResponse) -> Result<ClientResponse> {
    let is_events = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
        });
    if response.status() == StatusCode::OK && is_events {
        return Ok(response);
    }
    Err(Error::new(
        ErrorKind::Protocol,
        format!(
            "reconnecting to {} gave {} {:?}, not an event stream",
            response.url(),
            response.status(),
            response.headers().get(CONTENT_TYPE)
        ),
    ))
}

/// Failures after which a browser reconnects.
fn is_network(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Body
            | ErrorKind::Io
            | ErrorKind::Closed
            | ErrorKind::Connect
            | ErrorKind::Timeout
            | ErrorKind::Dns
    )
}

/// The headers an event stream request adds unless set.
pub(crate) fn default_headers(headers: &mut HeaderMap) {
    headers
        .entry(ACCEPT)
        .or_insert(HeaderValue::from_static("text/event-stream"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("last_event_id", &self.last_event_id)
            .field("retry", &self.retry)
            .field("reconnects", &self.reconnect.is_some())
            .finish()
    }
}
