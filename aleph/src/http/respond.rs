//! One request, from hyper's message to the response hyper sends: the
//! checks aleph makes before the handler, the handler (a panic or an error
//! becomes a 500, logged once), and the headers aleph adds after it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{ALLOW, CONNECTION, CONTENT_LENGTH, HOST, SERVER};
use http::{HeaderValue, Method, StatusCode, Version};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming as HyperIncoming;

use super::handler::{BoxHandler, ResponseFuture};
use super::incoming::{Exchange, Incoming};
use super::request::RequestContext;
use super::response::{status_response, HandlerFailure};
use super::server::{is_http1, reject_response, Conn};
use super::{Body, Request, Response};
use crate::{Error, ErrorKind, Result};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The methods `OPTIONS *` lists.
const ALLOWED: &str = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";

/// `Connection: close`.
const CLOSE: HeaderValue = HeaderValue::from_static("close");

/// A response on its way: made at once (a plain handler, an answer aleph
/// gives itself: no allocation), or awaited from the handler's future.
pub(crate) enum Responding {
    Ready(Option<http::Response<ServerBody>>),
    Waiting(Pin<Box<dyn Future<Output = http::Response<ServerBody>> + Send>>),
}

impl Future for Responding {
    type Output = std::result::Result<http::Response<ServerBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Responding::Ready(res) => Poll::Ready(Ok(res
                .take()
                .expect("a ready response is not polled after it completed"))),
            Responding::Waiting(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}

/// What the server keeps of a request to finish its response.
struct Pending {
    guard: Guard,
    version: Version,
    is_head: bool,
    client_closes: bool,
}

/// What a failed handler's log line names.
struct RequestLine {
    method: Method,
    uri: http::Uri,
}

/// Answers one request. `exchange` is fresh: no one else holds it.
pub(crate) fn respond(
    conn: &Arc<Conn>,
    handler: &BoxHandler,
    exchange: Arc<Exchange>,
    req: http::Request<HyperIncoming>,
) -> Responding {
    let version = req.version();
    if version == Version::HTTP_2 {
        conn.activity.saw_http2();
    }
    // RFC 9112 §9.3: HTTP/1.1 persists unless told to close; HTTP/1.0 closes
    // unless told to keep alive.
    let client_closes = match version {
        Version::HTTP_11 => has_token(req.headers(), "close"),
        Version::HTTP_10 | Version::HTTP_09 => !has_token(req.headers(), "keep-alive"),
        _ => false,
    };
    let mut guard = Guard::new(conn.clone(), exchange.clone());
    guard.body = is_http1(version) && !http_body::Body::is_end_stream(req.body());
    let pending = Pending {
        guard,
        version,
        is_head: req.method() == Method::HEAD,
        client_closes,
    };
    if let Some(res) = precheck(conn, &req) {
        return Responding::Ready(Some(finish(pending, res)));
    }
    let line = RequestLine {
        method: req.method().clone(),
        uri: req.uri().clone(),
    };
    let limits = &conn.settings.limits;
    let (parts, body) = req.into_parts();
    // A request with no body (most GETs; HTTP/2 headers that end the
    // stream) needs no limits watching it.
    let body = if http_body::Body::is_end_stream(&body) {
        Body::empty()
    } else {
        if is_http1(version) {
            conn.activity.watch_body(exchange.clone());
        }
        Body::incoming(Incoming::new(
            body,
            limits.max_body_size,
            limits.body_read_timeout,
            exchange.clone(),
        ))
    };
    let context = RequestContext {
        connection: conn.info.clone(),
        exchange,
    };
    let req = Request::with_context(http::Request::from_parts(parts, body), context);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(req))) {
        Ok(ResponseFuture::Ready(Some(res))) => {
            Responding::Ready(Some(handled(pending, &line, res)))
        }
        Ok(future) => Responding::Waiting(Box::pin(async move {
            let res = match std::panic::AssertUnwindSafe(future).catch_unwind().await {
                Ok(res) => res,
                Err(panic) => panicked(&*panic),
            };
            handled(pending, &line, res)
        })),
        Err(panic) => Responding::Ready(Some(handled(pending, &line, panicked(&*panic)))),
    }
}

/// The 500 for a handler that panicked, carrying the panic as its error.
fn panicked(panic: &(dyn std::any::Any + Send)) -> Response {
    super::response::failure(Error::new(
        ErrorKind::Panic,
        format!("handler panicked: {}", crate::panic::message(panic)),
    ))
}

/// The handler's response, unless the request body failed; a handler's
/// failure is logged here, once.
fn handled(pending: Pending, line: &RequestLine, mut res: Response) -> http::Response<ServerBody> {
    if let Some(status) = pending.guard.exchange.failure() {
        // The body broke a limit or the protocol: that, not what the
        // handler made of the failed read, is the answer.
        res = status_response(status);
        res.headers_mut().insert(CONNECTION, CLOSE);
    }
    if let Some(HandlerFailure(error)) = res.extensions_mut().remove::<HandlerFailure>() {
        tracing::error!(
            request = %format_args!("{} {} {:?}", line.method, line.uri, pending.version),
            peer = %pending.guard.conn.info.peer_name(),
            %error,
            "handler failed; answered 500"
        );
    }
    finish(pending, res)
}

/// The headers aleph adds to every response, and the rules on bodies.
fn finish(pending: Pending, mut res: Response) -> http::Response<ServerBody> {
    let Pending {
        guard,
        version,
        is_head,
        client_closes,
    } = pending;
    let conn = &guard.conn;
    let headers = res.headers_mut();
    if let Some(server) = &conn.settings.limits.server_header {
        headers.entry(SERVER).or_insert_with(|| server.clone());
    }
    if is_http1(version)
        && (client_closes
            || conn.rejected
            || !conn.settings.limits.keep_alive
            || conn.draining.is_fired())
    {
        headers.insert(CONNECTION, CLOSE);
    }
    let no_content = matches!(
        res.status(),
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    );
    if is_head || no_content {
        // RFC 9110 §9.3.2: HEAD gets the handler's headers and no body, with
        // the length it would have had where known; 204 and 304 have no
        // body at all (§15.3.5, §15.4.5). Dropping it here closes a stream
        // body's producer, which hyper would never poll.
        let (mut parts, body) = res.into_parts();
        if let (true, false, Some(len)) = (
            is_head && !no_content,
            parts.headers.contains_key(CONTENT_LENGTH),
            http_body::Body::size_hint(&body).exact(),
        ) {
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        drop(body);
        res = http::Response::from_parts(parts, Body::empty());
    }
    if version == Version::HTTP_10
        && http_body::Body::size_hint(res.body()).exact().is_none()
        && !res.headers().contains_key(CONTENT_LENGTH)
    {
        // HTTP/1.0 has no chunked coding: a body of unknown length ends
        // with the connection, so the response must not promise keep-alive.
        res.headers_mut().insert(CONNECTION, CLOSE);
    }
    if version == Version::HTTP_10 && has_token(res.headers(), "close") {
        // hyper adds `keep-alive` to an HTTP/1.1 response for a client that
        // asked for it, even beside `close`; as HTTP/1.0 the close stands.
        *res.version_mut() = Version::HTTP_10;
    }
    res.map(|body| ServerBody::new(body, guard))
}

/// The answers aleph gives without the handler: a rejected connection, `OPTIONS *`,
/// a bad `Host`, an over-long target, a declared body over the limit.
fn precheck(conn: &Conn, req: &http::Request<HyperIncoming>) -> Option<Response> {
    if conn.rejected {
        let mut res = reject_response(conn);
        res.headers_mut().insert(CONNECTION, CLOSE);
        return Some(res);
    }
    if req.method() == Method::OPTIONS && req.uri() == "*" {
        let mut res = http::Response::new(Body::empty());
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(ALLOWED));
        return Some(res);
    }
    // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host.
    let hosts = req.headers().get_all(HOST).iter().count();
    if (req.version() == Version::HTTP_11 && hosts != 1) || hosts > 1 {
        // A client this confused is not trusted with the connection.
        let mut res = status_response(StatusCode::BAD_REQUEST);
        res.headers_mut().insert(CONNECTION, CLOSE);
        return Some(res);
    }
    let limits = &conn.settings.limits;
    let target = req
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > limits.max_request_line {
        return Some(status_response(StatusCode::URI_TOO_LONG));
    }
    if let (Some(max), Some(declared)) = (
        limits.max_body_size,
        http_body::Body::size_hint(req.body()).exact(),
    ) {
        if declared > max {
            let mut res = status_response(StatusCode::PAYLOAD_TOO_LARGE);
            res.headers_mut().insert(CONNECTION, CLOSE);
            return Some(res);
        }
    }
    None
}

/// Whether a `Connection` header lists `token`.
fn has_token(headers: &http::HeaderMap, token: &str) -> bool {
    headers.get_all(CONNECTION).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// A request in flight: counted on its connection until its response is
/// sent in full or given up; given up before its end means the client went
/// away.
struct Guard {
    conn: Arc<Conn>,
    exchange: Arc<Exchange>,
    finished: bool,
    /// An HTTP/1 request with a body: unless the body was read to its end,
    /// the client may still be sending it (see `Activity::may_have_unread`).
    body: bool,
}

impl Guard {
    fn new(conn: Arc<Conn>, exchange: Arc<Exchange>) -> Guard {
        conn.activity.start();
        Guard {
            conn,
            exchange,
            finished: false,
            body: false,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.conn.activity.unwatch_body();
        if self.body && !self.exchange.body_was_read() {
            self.conn.activity.note_unread();
        }
        if !self.finished {
            self.exchange.set_gone();
        }
        self.conn.activity.end();
    }
}

/// The body hyper sends: the handler's, with the request's guard.
pub(crate) struct ServerBody {
    body: Body,
    guard: Guard,
}

impl ServerBody {
    fn new(body: Body, mut guard: Guard) -> ServerBody {
        guard.finished = http_body::Body::is_end_stream(&body);
        ServerBody { body, guard }
    }
}

impl http_body::Body for ServerBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(http_body::Body::poll_frame(Pin::new(&mut this.body), cx));
        match &frame {
            // A failed body is the server's failure, not the client's leaving.
            None | Some(Err(_)) => this.guard.finished = true,
            Some(Ok(_)) => this.guard.finished = http_body::Body::is_end_stream(&this.body),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.body)
    }

    fn size_hint(&self) -> SizeHint {
        http_body::Body::size_hint(&self.body)
    }
}
