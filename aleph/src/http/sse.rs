//! Server-sent events (the `text/event-stream` format of the HTML standard,
//! §9.2): an [`Event`] type, a [`response`] that streams events, each
//! flushed as it is sent, with keep-alive comments in the quiet times, and
//! an [`EventStream`] that parses them back out of any body.
//!
//! # Examples
//!
//! A clock that ticks once a second, its events numbered:
//!
//! ```
//! use std::time::Duration;
//! use aleph::http::{sse, Request, Response};
//! use futures::StreamExt;
//!
//! fn clock(_req: Request) -> Response {
//!     let ticks = tokio_stream_like_interval(Duration::from_secs(1))
//!         .enumerate()
//!         .map(|(i, ())| sse::Event::data(format!("tick {i}")).with_id(i.to_string()));
//!     sse::response(ticks)
//! }
//! # fn tokio_stream_like_interval(period: Duration) -> impl futures::Stream<Item = ()> + Send + 'static {
//! #     futures::stream::unfold((), move |()| async move { tokio::time::sleep(period).await; Some(((), ())) })
//! # }
//! # let _ = clock;
//! ```

use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};

use super::{Body, Response};

mod parse;

pub use parse::EventStream;

/// One server-sent event.
///
/// Every field is optional; an event with only a comment is sent as a
/// comment line (clients ignore it, proxies see traffic).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use aleph::http::sse::Event;
///
/// let event = Event {
///     id: Some("7".into()),
///     event: Some("update".into()),
///     data: Some("line one\nline two".into()),
///     retry: Some(Duration::from_secs(3)),
///     comment: None,
/// };
/// assert_eq!(
///     event.to_string(),
///     "id: 7\nevent: update\nretry: 3000\ndata: line one\ndata: line two\n\n"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The event's id (`id:`), which a reconnecting client sends back as
    /// `Last-Event-ID`.
    pub id: Option<String>,
    /// The event's type (`event:`); clients treat none as `message`.
    pub event: Option<String>,
    /// The data; each line becomes its own `data:` line, and the client
    /// joins them with newlines again.
    pub data: Option<String>,
    /// How long the client waits before reconnecting (`retry:`, in ms).
    pub retry: Option<Duration>,
    /// A comment (`: ...`), one line each, ignored by clients.
    pub comment: Option<String>,
}

impl Event {
    /// An event of data only.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aleph::http::sse::Event::data("hi").to_string(), "data: hi\n\n");
    /// ```
    pub fn data(data: impl Into<String>) -> Event {
        Event {
            data: Some(data.into()),
            ..Event::default()
        }
    }

    /// This event with an id.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = aleph::http::sse::Event::data("hi").with_id("1");
    /// assert_eq!(event.to_string(), "id: 1\ndata: hi\n\n");
    /// ```
    pub fn with_id(self, id: impl Into<String>) -> Event {
        Event {
            id: Some(id.into()),
            ..self
        }
    }

    /// This event with a type.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = aleph::http::sse::Event::data("hi").with_event("greeting");
    /// assert_eq!(event.to_string(), "event: greeting\ndata: hi\n\n");
    /// ```
    pub fn with_event(self, event: impl Into<String>) -> Event {
        Event {
            event: Some(event.into()),
            ..self
        }
    }

    /// The event's type, `"message"` when it has none (as browsers name it).
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::http::sse::Event;
    ///
    /// assert_eq!(Event::data("hi").event_type(), "message");
    /// assert_eq!(Event::data("hi").with_event("tick").event_type(), "tick");
    /// ```
    pub fn event_type(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }

    /// The event in the wire format, one message (ending in a blank line).
    fn encode(&self) -> Bytes {
        Bytes::from(self.to_string())
    }
}

/// Line breaks as the event-stream format knows them: CRLF, LF or CR.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split("\r\n").flat_map(|line| line.split(['\n', '\r']))
}

/// Writes the event in the `text/event-stream` format. A line break inside
/// `id` or `event` (which the format cannot carry) is replaced by a space.
impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(comment) = &self.comment {
            for line in lines(comment) {
                writeln!(f, ": {line}")?;
            }
        }
        if let Some(id) = &self.id {
            writeln!(f, "id: {}", id.replace(['\n', '\r'], " "))?;
        }
        if let Some(event) = &self.event {
            writeln!(f, "event: {}", event.replace(['\n', '\r'], " "))?;
        }
        if let Some(retry) = self.retry {
            writeln!(f, "retry: {}", retry.as_millis())?;
        }
        if let Some(data) = &self.data {
            for line in lines(data) {
                writeln!(f, "data: {line}")?;
            }
        }
        f.write_char('\n')
    }
}

/// Options of [`response_with`].
#[derive(Clone, Copy, Debug)]
pub struct SseOptions {
    /// After this long without an event, a comment line (`: keep-alive`)
    /// is sent so that proxies and clients see the stream is alive. `None`
    /// sends none. Default: 15 s.
    pub keep_alive: Option<Duration>,
}

impl Default for SseOptions {
    fn default() -> SseOptions {
        SseOptions {
            keep_alive: Some(Duration::from_secs(15)),
        }
    }
}

/// A `200 text/event-stream` response streaming `events` (a
/// `futures::Stream` of [`Event`]s, or an aleph channel of them), each
/// flushed as it is sent, with a keep-alive comment every 15 s of quiet.
///
/// The stream is read only as fast as the client takes the events; when the
/// client goes away, it is dropped (an aleph channel is closed, so its
/// producer's `send` fails).
///
/// # Examples
///
/// ```
/// use aleph::http::{sse, Request, Response};
/// use aleph::stream::Channel;
///
/// fn events(_req: Request) -> Response {
///     let channel = Channel::buffered(16);
///     let producer = channel.clone();
///     tokio::spawn(async move {
///         for i in 0.. {
///             if producer.send(sse::Event::data(format!("event {i}"))).await.is_err() {
///                 break; // the client went away
///             }
///         }
///     });
///     sse::response(channel)
/// }
/// # let _ = events;
/// ```
pub fn response<S>(events: S) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    response_with(events, SseOptions::default())
}

/// As [`response`], with options.
///
/// # Examples
///
/// ```
/// use aleph::http::sse::{self, Event, SseOptions};
///
/// let res = sse::response_with(
///     futures::stream::iter([Event::data("only one")]),
///     SseOptions { keep_alive: None },
/// );
/// assert_eq!(res.headers()["content-type"], "text/event-stream");
/// ```
pub fn response_with<S>(events: S, options: SseOptions) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    let stream = Encoded {
        events: Box::pin(events),
        keep_alive: options.keep_alive,
        quiet: options
            .keep_alive
            .map(|period| Box::pin(tokio::time::sleep(period))),
        ended: false,
    };
    let mut res = http::Response::new(Body::from_stream(stream));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// The events as chunks, with keep-alive comments in between.
struct Encoded {
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    keep_alive: Option<Duration>,
    quiet: Option<Pin<Box<tokio::time::Sleep>>>,
    ended: bool,
}

const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

impl Stream for Encoded {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(event)) => {
                if let (Some(quiet), Some(period)) = (&mut this.quiet, this.keep_alive) {
                    quiet.as_mut().reset(tokio::time::Instant::now() + period);
                }
                Poll::Ready(Some(Ok(event.encode())))
            }
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let (Some(quiet), Some(period)) = (&mut this.quiet, this.keep_alive) {
                    if quiet.as_mut().poll(cx).is_ready() {
                        quiet.as_mut().reset(tokio::time::Instant::now() + period);
                        return Poll::Ready(Some(Ok(Bytes::from_static(KEEP_ALIVE))));
                    }
                }
                Poll::Pending
            }
        }
    }
}

use std::future::Future as _;
