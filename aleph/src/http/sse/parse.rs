//! Reading server-sent events: the `text/event-stream` parsing rules of the
//! HTML standard (§9.2.6, "Interpreting an event stream").

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_core::stream::{FusedStream, Stream};

use super::Event;
use crate::bytes::{ByteSource, ByteStream};
use crate::{Error, ErrorKind, Result};

/// The largest line, and the largest event, [`EventStream::new`] accepts:
/// 1 MiB.
const MAX_EVENT: usize = 1024 * 1024;

/// The events of a `text/event-stream` body, parsed as browsers do: a
/// [`futures::Stream`](futures_core::Stream) of `aleph::Result<Event>`.
///
/// Built over any [`ByteSource`] (a response [`Body`](crate::http::Body), a
/// channel of chunks, ...), it reads the source only as events are taken and
/// holds at most one line and one event. The rules are the HTML standard's:
/// lines end with CRLF, LF or CR (split across chunks in any way); a leading
/// byte order mark is skipped; a line starting with `:` is a comment and is
/// skipped; a line without a colon is a field with an empty value; one space
/// after the colon is dropped; `data` lines are joined with `\n`; `retry`
/// counts only when it is all digits; an `id` holding NUL is ignored; an
/// event is dispatched at a blank line, and only if it has data; an event
/// cut off by the end of the stream is dropped. Bytes that are not UTF-8
/// become U+FFFD.
///
/// Each event's [`id`](Event::id) is the last id the stream set, as a
/// browser's `lastEventId` (an event without an `id:` line of its own keeps
/// the one before; an empty `id:` clears it); [`retry`](Event::retry) is set
/// on the event whose lines carried it. [`EventStream::last_event_id`] and
/// [`EventStream::retry`] say what to reconnect with.
///
/// # Errors
///
/// An item is an error, after which the stream ends:
/// - of kind [`Decode`](crate::ErrorKind::Decode) when one line, or one
///   event's data and type together, exceed the limit (1 MiB, or the one
///   given to [`with_max`](EventStream::with_max));
/// - the source's own error when it ends with one (the event being read is
///   dropped): a cut connection is never a clean end.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::http::sse::EventStream;
/// use futures::TryStreamExt;
///
/// let body = ": hello\nevent: greeting\ndata: one\ndata: two\nid: 7\n\ndata: three\n\n";
/// let events: Vec<_> = EventStream::new(body).try_collect().await?;
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0].event.as_deref(), Some("greeting"));
/// assert_eq!(events[0].data.as_deref(), Some("one\ntwo"));
/// assert_eq!(events[1].id.as_deref(), Some("7"));
/// assert_eq!(events[1].event_type(), "message");
/// # Ok(())
/// # }
/// ```
pub struct EventStream {
    source: ByteStream,
    /// What is left of the chunk being read.
    chunk: Bytes,
    /// The start of the current line, from earlier chunks.
    line: Vec<u8>,
    /// The last line ended with CR: an LF right after belongs to it.
    after_cr: bool,
    /// No line was read yet (a byte order mark may start it).
    first_line: bool,
    /// The data buffer: each `data` value and a `\n`.
    data: String,
    /// The event type buffer.
    event_type: String,
    /// The last event ID buffer; it outlives events.
    last_event_id: String,
    /// The `retry` of the event being read.
    event_retry: Option<Duration>,
    /// The last `retry` of the stream.
    retry: Option<Duration>,
    max: usize,
    done: bool,
}

impl EventStream {
    /// The events of `source`, with lines and events of at most 1 MiB.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use futures::StreamExt;
    ///
    /// let mut events = aleph::http::sse::EventStream::new("data: hi\r\n\r\n");
    /// let event = events.next().await.unwrap()?;
    /// assert_eq!(event.data.as_deref(), Some("hi"));
    /// assert!(events.next().await.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(source: impl ByteSource) -> EventStream {
        EventStream::with_max(source, MAX_EVENT)
    }

    /// The events of `source`, with lines, and each event's data and type
    /// together, of at most `max` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::StreamExt;
    ///
    /// let mut events = aleph::http::sse::EventStream::with_max("data: too long\n\n", 8);
    /// let err = events.next().await.unwrap().unwrap_err();
    /// assert!(err.is_decode());
    /// # }
    /// ```
    pub fn with_max(source: impl ByteSource, max: usize) -> EventStream {
        EventStream {
            source: source.into_byte_stream(),
            chunk: Bytes::new(),
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            data: String::new(),
            event_type: String::new(),
            last_event_id: String::new(),
            event_retry: None,
            retry: None,
            max,
            done: false,
        }
    }

    /// The last event id the stream set, to send as `Last-Event-ID` when
    /// reconnecting; `None` if none was set (or the last `id:` was empty).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use futures::TryStreamExt;
    ///
    /// let mut events = aleph::http::sse::EventStream::new("id: 41\ndata: a\n\nid: 42\n\n");
    /// while events.try_next().await?.is_some() {}
    /// assert_eq!(events.last_event_id(), Some("42"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn last_event_id(&self) -> Option<&str> {
        Some(self.last_event_id.as_str()).filter(|id| !id.is_empty())
    }

    /// The reconnection time the stream asked for last (`retry:`), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use std::time::Duration;
    /// use futures::TryStreamExt;
    ///
    /// let mut events = aleph::http::sse::EventStream::new("retry: 2500\n\n");
    /// assert!(events.try_next().await?.is_none());
    /// assert_eq!(events.retry(), Some(Duration::from_millis(2500)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The next complete line of the current chunk (moved out of it), or
    /// `None` once the chunk is used up (its tail kept as the line's start).
    fn next_line(&mut self) -> Result<Option<Bytes>> {
        if self.after_cr && !self.chunk.is_empty() {
            self.after_cr = false;
            if self.chunk[0] == b'\n' {
                self.chunk.advance(1);
            }
        }
        let Some(end) = self.chunk.iter().position(|&b| b == b'\n' || b == b'\r') else {
            if self.line.len() + self.chunk.len() > self.max {
                return Err(self.too_long("event line"));
            }
            self.line.extend_from_slice(&self.chunk);
            self.chunk.clear();
            return Ok(None);
        };
        if self.line.len() + end > self.max {
            return Err(self.too_long("event line"));
        }
        let ended_by_cr = self.chunk[end] == b'\r';
        let line = self.chunk.split_to(end);
        self.chunk.advance(1);
        self.after_cr = ended_by_cr;
        if self.line.is_empty() {
            return Ok(Some(line));
        }
        self.line.extend_from_slice(&line);
        Ok(Some(Bytes::from(std::mem::take(&mut self.line))))
    }

    fn too_long(&mut self, what: &str) -> Error {
        self.done = true;
        Error::new(
            ErrorKind::Decode,
            format!("server-sent {what} longer than {} bytes", self.max),
        )
    }

    /// Applies one line; the event it completes, if any.
    fn take_line(&mut self, line: &[u8]) -> Result<Option<Event>> {
        let mut line = line;
        if std::mem::take(&mut self.first_line) {
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.event_type = value.into_owned(),
            b"data" => {
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"id" if !value.contains('\0') => self.last_event_id = value.into_owned(),
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // All digits but too large for a u64: ignored, as any bad value.
                if let Ok(ms) = value.parse::<u64>() {
                    let retry = Duration::from_millis(ms);
                    self.event_retry = Some(retry);
                    self.retry = Some(retry);
                }
            }
            _ => {}
        }
        if self.data.len() + self.event_type.len() > self.max {
            return Err(self.too_long("event"));
        }
        Ok(None)
    }

    /// The event read so far, if it has data; the buffers start over.
    fn dispatch(&mut self) -> Option<Event> {
        let retry = self.event_retry.take();
        let event_type = std::mem::take(&mut self.event_type);
        if self.data.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        Some(Event {
            id: self.last_event_id().map(str::to_owned),
            event: Some(event_type).filter(|t| !t.is_empty()),
            data: Some(data),
            retry,
            comment: None,
        })
    }
}

impl Stream for EventStream {
    type Item = Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Event>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            loop {
                let line = match this.next_line() {
                    Ok(Some(line)) => line,
                    Ok(None) => break,
                    Err(error) => return Poll::Ready(Some(Err(error))),
                };
                match this.take_line(&line) {
                    Ok(Some(event)) => return Poll::Ready(Some(Ok(event))),
                    Ok(None) => {}
                    Err(error) => return Poll::Ready(Some(Err(error))),
                }
            }
            match std::task::ready!(Pin::new(&mut this.source).poll_next(cx)) {
                Some(Ok(chunk)) => this.chunk = chunk,
                Some(Err(error)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
                // An event not ended by a blank line is dropped (§9.2.6).
                None => this.done = true,
            }
        }
    }
}

impl FusedStream for EventStream {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("last_event_id", &self.last_event_id())
            .field("retry", &self.retry)
            .field("max", &self.max)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::*;
    use crate::bytes::Chunks;

    /// `input` cut into chunks at `cuts`.
    fn split(
        input: &[u8],
        cuts: &[usize],
    ) -> Chunks<impl futures_core::TryStream<Ok = Bytes, Error = Error> + Send> {
        let mut pieces = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([&input.len()]) {
            pieces.push(Ok(Bytes::copy_from_slice(&input[from..cut])));
            from = cut;
        }
        Chunks(futures_util::stream::iter(pieces))
    }

    async fn parse(input: &[u8]) -> Vec<Event> {
        EventStream::new(Bytes::copy_from_slice(input))
            .try_collect()
            .await
            .unwrap()
    }

    /// The events of `input`, checked to be the same however it is cut in
    /// two or three pieces.
    async fn parse_every_split(input: &[u8]) -> Vec<Event> {
        let whole = parse(input).await;
        for a in 0..=input.len() {
            let events: Vec<Event> = EventStream::new(split(input, &[a]))
                .try_collect()
                .await
                .unwrap();
            assert_eq!(events, whole, "cut at {a}");
            for b in a..=input.len().min(a + 3) {
                let events: Vec<Event> = EventStream::new(split(input, &[a, b]))
                    .try_collect()
                    .await
                    .unwrap();
                assert_eq!(events, whole, "cut at {a} and {b}");
            }
        }
        whole
    }

    fn event(data: &str) -> Event {
        Event::data(data)
    }

    #[tokio::test]
    async fn lines_end_with_crlf_lf_or_cr_cut_anywhere() {
        let events =
            parse_every_split(b"data: a\r\n\r\ndata: b\n\ndata: c\r\rdata: d\r\ndata: e\n\r\n")
                .await;
        assert_eq!(events, [event("a"), event("b"), event("c"), event("d\ne")]);
    }

    #[tokio::test]
    async fn a_leading_byte_order_mark_is_skipped_once() {
        let events =
            parse_every_split(b"\xef\xbb\xbfdata: one\n\n\xef\xbb\xbfdata: two\n\ndata: three\n\n")
                .await;
        // The second BOM makes its line a field nobody knows: ignored.
        assert_eq!(events, [event("one"), event("three")]);
    }

    #[tokio::test]
    async fn fields_without_a_colon_and_the_one_space_after_it() {
        let events = parse_every_split(b"data\n\ndata:  two spaces\ndata:none\n\n").await;
        assert_eq!(events, [event(""), event(" two spaces\nnone")]);
    }

    #[tokio::test]
    async fn comments_and_unknown_fields_are_skipped() {
        let events = parse_every_split(b": comment\nfoo: bar\n:\ndata: x\n: more\n\n").await;
        assert_eq!(events, [event("x")]);
    }

    #[tokio::test]
    async fn events_without_data_are_not_dispatched_and_types_do_not_leak() {
        let events = parse(b"event: lonely\n\ndata: plain\n\nevent: named\ndata: y\n\n").await;
        assert_eq!(events, [event("plain"), event("y").with_event("named")]);
        assert_eq!(events[0].event_type(), "message");
    }

    #[tokio::test]
    async fn ids_persist_reset_when_empty_and_ignore_nul() {
        let mut stream = EventStream::new(Bytes::from_static(
            b"id: 1\ndata: a\n\ndata: b\n\nid: 2\0x\ndata: c\n\nid\ndata: d\n\n",
        ));
        let mut ids = Vec::new();
        while let Some(event) = stream.try_next().await.unwrap() {
            ids.push(event.id);
        }
        assert_eq!(
            ids,
            [Some("1".into()), Some("1".into()), Some("1".into()), None]
        );
        assert_eq!(stream.last_event_id(), None);
    }

    #[tokio::test]
    async fn retry_counts_only_when_all_digits() {
        let mut stream = EventStream::new(Bytes::from_static(
            b"retry: 1500\ndata: a\n\nretry: 12a\ndata: b\n\nretry: -1\nretry:  7\nretry: 99999999999999999999999\ndata: c\n\n",
        ));
        let a = stream.try_next().await.unwrap().unwrap();
        assert_eq!(a.retry, Some(Duration::from_millis(1500)));
        let b = stream.try_next().await.unwrap().unwrap();
        assert_eq!(b.retry, None);
        let c = stream.try_next().await.unwrap().unwrap();
        assert_eq!(
            c.retry, None,
            "' 7' keeps its second space; none of them counts"
        );
        assert_eq!(stream.retry(), Some(Duration::from_millis(1500)));
    }

    #[tokio::test]
    async fn an_event_cut_off_by_the_end_is_dropped() {
        assert_eq!(parse(b"data: whole\n\ndata: cut").await, [event("whole")]);
        assert_eq!(parse(b"data: whole\n\ndata: cut\n").await, [event("whole")]);
    }

    #[tokio::test]
    async fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(parse(b"data: a\xffb\n\n").await, [event("a\u{fffd}b")]);
    }

    #[tokio::test]
    async fn a_source_error_ends_the_stream_with_it() {
        let source = Chunks(futures_util::stream::iter([
            Ok(Bytes::from_static(b"data: one\n\ndata: par")),
            Err(Error::new(ErrorKind::Io, "connection reset")),
        ]));
        let mut stream = EventStream::new(source);
        assert_eq!(stream.try_next().await.unwrap(), Some(event("one")));
        let error = stream.try_next().await.unwrap_err();
        assert_eq!(error.to_string(), "connection reset");
        assert!(stream.try_next().await.unwrap().is_none());
        assert!(stream.is_terminated());
    }

    #[tokio::test]
    async fn over_long_lines_and_events_are_decode_errors() {
        let long_line = format!("data: {}\n\n", "x".repeat(100));
        let error = EventStream::with_max(split(long_line.as_bytes(), &[10, 50]), 64)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode);
        assert_eq!(
            error.to_string(),
            "server-sent event line longer than 64 bytes"
        );
        let many_lines = "data: 0123456789\n".repeat(10) + "\n";
        let error = EventStream::with_max(Bytes::from(many_lines.clone()), 64)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "server-sent event longer than 64 bytes");
        let fits = EventStream::with_max(Bytes::from(many_lines), 200)
            .try_collect::<Vec<_>>()
            .await;
        assert_eq!(fits.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn what_the_server_writes_reads_back_the_same() {
        let sent = [
            Event::data("line one\nline two")
                .with_id("1")
                .with_event("update"),
            Event {
                retry: Some(Duration::from_millis(3000)),
                ..Event::data("").with_id("2")
            },
            Event::data("crlf\r\ninside").with_id("3"),
        ];
        let wire: String = sent.iter().map(ToString::to_string).collect();
        let got = parse_every_split(wire.as_bytes()).await;
        assert_eq!(got[0], sent[0]);
        assert_eq!(got[1], sent[1]);
        assert_eq!(got[2].data.as_deref(), Some("crlf\ninside"));
    }
}
