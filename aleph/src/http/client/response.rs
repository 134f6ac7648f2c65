//! [`ClientResponse`]: a response's head, its streamed body, and what the
//! client knows of how it came (timings, reuse, redirects, the request).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, CONTENT_TYPE};
use http::{Method, StatusCode, Version};

use crate::bytes::{self as byte_fns, BlockingReader, IntoAsyncRead, Lines};
use crate::http::Body;
use crate::{Error, ErrorKind, Result};

/// How long each phase of a request took.
///
/// A phase that did not happen is `None`: a reused connection has no DNS,
/// connect or TLS phase; an IP address needs no DNS. The phases are also
/// `tracing` spans (`pool_wait`, `dns`, `connect`, `tls`, `handshake`,
/// `wait_headers`) under one `request` span.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> aleph::Result<()> {
/// let response = aleph::http::get("http://127.0.0.1:8080/").await?;
/// let t = response.timings();
/// println!("pool {:?} dns {:?} connect {:?} tls {:?} first byte {:?} total {:?}",
///     t.pool_wait, t.dns, t.connect, t.tls, t.first_byte, t.total);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// Waiting for a connection of the pool (or a slot to open one).
    pub pool_wait: Option<Duration>,
    /// Resolving the host name.
    pub dns: Option<Duration>,
    /// Connecting (TCP or Unix socket).
    pub connect: Option<Duration>,
    /// The TLS handshake.
    pub tls: Option<Duration>,
    /// From sending the request to the response's head (time to first byte).
    pub first_byte: Option<Duration>,
    /// From the call to the response's head, redirects included (the body
    /// is read later, at the caller's pace).
    pub total: Option<Duration>,
}

/// The request as it was sent, attached to the response when
/// [`save_request`](super::RequestBuilder::save_request) is on.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SentRequest {
    /// The method.
    pub method: Method,
    /// The URL, with the query and in its ASCII form.
    pub url: String,
    /// The headers sent, the client's defaults included.
    pub headers: HeaderMap,
    /// The protocol version of the connection.
    pub version: Version,
}

/// A response to a client request: its head and its streamed body.
///
/// The body is read from the connection only as it is consumed. The
/// connection goes back to the pool once the body is read to its end, or
/// when the response is dropped (an unread rest is drained, within bounds,
/// or the connection closed), whatever the status.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> aleph::Result<()> {
/// let response = aleph::http::get("http://127.0.0.1:8080/").await?;
/// assert_eq!(response.status(), 200);
/// println!("{:?} {:?}", response.version(), response.headers().get("content-type"));
/// let text = response.text().await?;
/// # Ok(())
/// # }
/// ```
pub struct ClientResponse {
    pub(crate) head: http::response::Parts,
    pub(crate) body: Body,
    pub(crate) url: std::sync::Arc<str>,
    pub(crate) timings: Timings,
    pub(crate) reused: bool,
    pub(crate) request: Option<Box<SentRequest>>,
    pub(crate) redirects: usize,
    /// How to ask again, for an event stream's reconnection (a `GET`).
    pub(crate) reconnect: Option<super::sse::Reconnect>,
}

impl ClientResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.head.headers
    }

    /// The protocol version (HTTP/1.1 or HTTP/2).
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The URL this response came from: the last one, after redirects.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How long each phase took.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Whether the connection had served an earlier request.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// The request as sent, when `save_request` was on.
    pub fn request(&self) -> Option<&SentRequest> {
        self.request.as_deref()
    }

    /// How many redirects were followed to get here.
    pub fn redirects(&self) -> usize {
        self.redirects
    }

    /// The body, to read in place (`http_body::Body`).
    pub fn body(&mut self) -> &mut Body {
        &mut self.body
    }

    /// The body, a [`ByteSource`](crate::bytes::ByteSource) every function
    /// of [`aleph::bytes`](crate::bytes) takes.
    pub fn into_body(self) -> Body {
        self.body
    }

    /// The response as an `http::Response`.
    pub fn into_inner(self) -> http::Response<Body> {
        http::Response::from_parts(self.head, self.body)
    }

    /// The whole body in memory.
    ///
    /// # Errors
    ///
    /// [`Body`](ErrorKind::Body) when the body is cut short, a read
    /// [`Timeout`](ErrorKind::Timeout).
    pub async fn bytes(self) -> Result<Bytes> {
        byte_fns::to_bytes(self.body).await
    }

    /// The whole body as text, decoded by the `charset` of its
    /// `Content-Type` (UTF-8 when none is named); malformed sequences are
    /// replaced in legacy charsets and an error in UTF-8.
    ///
    /// # Errors
    ///
    /// As [`bytes`](ClientResponse::bytes); [`Decode`](ErrorKind::Decode)
    /// for invalid UTF-8 or an unknown charset.
    pub async fn text(self) -> Result<String> {
        let charset = charset(&self.head.headers);
        let bytes = byte_fns::to_bytes(self.body).await?;
        decode_text(&bytes, charset.as_deref())
    }

    /// The whole body parsed as JSON.
    ///
    /// # Errors
    ///
    /// As [`bytes`](ClientResponse::bytes); [`Decode`](ErrorKind::Decode)
    /// when the body is not JSON of type `T`.
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let url = self.url.clone();
        let bytes = byte_fns::to_bytes(self.body).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::with_source(
                ErrorKind::Decode,
                format!("the body from {url} is not the JSON expected"),
                e,
            )
        })
    }

    /// The body's lines (UTF-8), as they arrive.
    pub fn lines(self) -> Lines {
        byte_fns::lines(self.body)
    }

    /// The body as a tokio `AsyncRead`.
    pub fn into_async_read(self) -> IntoAsyncRead {
        byte_fns::into_async_read(self.body)
    }

    /// The body's server-sent events, as a stream that reconnects with
    /// `Last-Event-ID` when the response came from a `GET` (see
    /// [`EventSource`](super::EventSource)).
    pub fn sse(self) -> super::EventSource {
        super::EventSource::new(self)
    }

    /// The body as a blocking `std::io::Read`, for use off the runtime
    /// (`spawn_blocking` or a thread).
    pub fn into_reader(self) -> BlockingReader {
        byte_fns::into_blocking_reader(self.body)
    }
}

impl fmt::Debug for ClientResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponse")
            .field("status", &self.head.status)
            .field("version", &self.head.version)
            .field("url", &self.url)
            .field("headers", &self.head.headers)
            .field("reused", &self.reused)
            .field("redirects", &self.redirects)
            .finish()
    }
}

/// The charset named by the `Content-Type`, lower-cased.
fn charset(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    })
}

fn decode_text(bytes: &[u8], charset: Option<&str>) -> Result<String> {
    let encoding = match charset {
        None => encoding_rs::UTF_8,
        Some(label) => encoding_rs::Encoding::for_label(label.as_bytes())
            .ok_or_else(|| Error::new(ErrorKind::Decode, format!("unknown charset {label:?}")))?,
    };
    if encoding == encoding_rs::UTF_8 {
        return String::from_utf8(bytes.to_vec()).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
            )
        });
    }
    let (text, _, _) = encoding.decode(bytes);
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_decoded_by_the_charset_named() {
        let latin1 = [b'c', b'a', b'f', 0xe9];
        assert_eq!(decode_text(&latin1, Some("iso-8859-1")).unwrap(), "café");
        assert!(decode_text(&latin1, None).unwrap_err().is_decode());
        assert!(decode_text(b"x", Some("no-such")).unwrap_err().is_decode());
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "text/plain; Charset=\"ISO-8859-1\"".parse().unwrap(),
        );
        assert_eq!(charset(&headers).as_deref(), Some("iso-8859-1"));
    }
}
