//! [`Response`] and [`IntoResponse`]: what a handler may return.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use super::Body;
use crate::stream::{Channel, Receiver};
use crate::Error;

/// An HTTP response with an aleph [`Body`].
pub type Response = http::Response<Body>;

/// A handler's error, carried in a 500 response's extensions so that the
/// server logs it once with the request line and the peer.
#[derive(Clone, Debug)]
pub(crate) struct HandlerFailure(pub(crate) Error);

/// What a handler may return: anything that becomes a [`Response`].
///
/// Implemented for a `Response` with any [`http_body::Body`], for a [`Body`],
/// for text (`&'static str`, `String`: `text/plain; charset=utf-8`) and bytes
/// (`Bytes`, `Vec<u8>`: `application/octet-stream`), for an aleph
/// [`Channel`] or [`Receiver`] of chunks (streamed), for a [`StatusCode`]
/// alone (an empty body), for `(StatusCode, T)` and `(StatusCode, HeaderMap,
/// T)`, for `()` (200, empty), and for `Result<T, E>`: an `Err` becomes a
/// 500 and is logged once with the request line and the client's address.
///
/// # Examples
///
/// ```
/// use aleph::http::{IntoResponse, StatusCode};
///
/// let res = (StatusCode::CREATED, "made").into_response();
/// assert_eq!(res.status(), StatusCode::CREATED);
/// assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
///
/// let failed: Result<&str, std::io::Error> = Err(std::io::Error::other("disk full"));
/// assert_eq!(failed.into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
pub trait IntoResponse {
    /// Makes the response.
    fn into_response(self) -> Response;
}

impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn into_response(self) -> Response {
        self.map(Body::new)
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        http::Response::new(self)
    }
}

fn with_type(body: Body, content_type: HeaderValue) -> Response {
    let mut res = http::Response::new(body);
    res.headers_mut().insert(CONTENT_TYPE, content_type);
    res
}

// Checked once, at compile time, not at every response.
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_type(Body::from(self), TEXT)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_type(Body::from(self), TEXT)
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_type(Body::from(self), OCTETS)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_type(Body::from(self), OCTETS)
    }
}

impl<T> IntoResponse for Channel<T>
where
    T: Into<Bytes> + Send + 'static,
{
    fn into_response(self) -> Response {
        with_type(Body::from(self), OCTETS)
    }
}

impl<T> IntoResponse for Receiver<T>
where
    T: Into<Bytes> + Send + 'static,
{
    fn into_response(self) -> Response {
        with_type(Body::from(self), OCTETS)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut res = http::Response::new(Body::empty());
        *res.status_mut() = self;
        res
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        http::Response::new(Body::empty())
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        *res.status_mut() = self.0;
        res
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, HeaderMap, T) {
    fn into_response(self) -> Response {
        let mut res = self.2.into_response();
        *res.status_mut() = self.0;
        res.headers_mut().extend(self.1);
        res
    }
}

impl<T, E> IntoResponse for Result<T, E>
where
    T: IntoResponse,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(error) => failure(Error::other(error)),
        }
    }
}

/// The 500 response for a failed handler, carrying its error for the log.
pub(crate) fn failure(error: Error) -> Response {
    let mut res = status_response(StatusCode::INTERNAL_SERVER_ERROR);
    res.extensions_mut().insert(HandlerFailure(error));
    res
}

/// A response of a status and its reason phrase as plain text.
pub(crate) fn status_response(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("");
    let mut res = with_type(Body::from(reason), TEXT);
    *res.status_mut() = status;
    res
}
