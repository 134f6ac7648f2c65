//! Sending one request: the URL made ready, a connection from the pool,
//! the exchange on it, redirects, replays of what the server never saw,
//! opt-in retries, and the status check.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Version};
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::body::ResponseBody;
use super::connect::{self, ConnectSettings};
use super::pool::{Acquire, Checkout, Grant, Sender};
use super::request::basic_auth_value;
use super::response::{SentRequest, Timings};
use super::{redirect, ClientInner, ClientResponse, RequestOptions, Target};
use crate::http::Body;
use crate::net::connector::ConnectTimings;
use crate::{Error, ErrorKind, Result, TimeoutKind};

/// How many times a request the server never saw is sent again (on a new
/// connection each time) before its error is reported.
const MAX_REPLAYS: usize = 3;

/// What one exchange of a request needs, the same across redirects.
struct Plan {
    inner: Arc<ClientInner>,
    deadline: Option<(Instant, Duration)>,
    save_request: bool,
    h2c: bool,
}

/// Sends `request`; the future is boxed once here, so that moving it (into
/// a task, a `FuturesUnordered`) moves a pointer, not its kilobytes of state.
pub(crate) fn execute(
    inner: Arc<ClientInner>,
    request: RequestOptions,
) -> Pin<Box<dyn Future<Output = Result<ClientResponse>> + Send + 'static>> {
    Box::pin(execute_inner(inner, request))
}

async fn execute_inner(inner: Arc<ClientInner>, request: RequestOptions) -> Result<ClientResponse> {
    let started = Instant::now();
    let limit = request.timeout.or(inner.options.request_timeout);
    let deadline = limit.and_then(|limit| Some((started.checked_add(limit)?, limit)));
    let span = tracing::info_span!("request", method = %request.method, url = %request.url);
    match deadline {
        None => {
            run(inner, request, deadline, started)
                .instrument(span)
                .await
        }
        Some((at, limit)) => {
            let url_text = request.url.clone();
            let run = run(inner, request, deadline, started).instrument(span);
            match tokio::time::timeout_at(at, run).await {
                Ok(done) => done,
                Err(_) => Err(Error::timeout(
                    TimeoutKind::Request,
                    format!("request timeout ({limit:?}) for {url_text}"),
                )),
            }
        }
    }
}

async fn run(
    inner: Arc<ClientInner>,
    request: RequestOptions,
    deadline: Option<(Instant, Duration)>,
    started: Instant,
) -> Result<ClientResponse> {
    let options = &inner.options;
    let RequestOptions {
        method,
        url,
        query,
        mut headers,
        body,
        version,
        timeout: _,
        throw_exceptions,
        follow_redirects,
        max_redirects,
        save_request,
        retries,
        retry_backoff,
        file,
    } = request;
    let mut url = prepare_url(&inner, &url, &query, &mut headers)?;
    let throw = throw_exceptions.unwrap_or(options.throw_exceptions);
    let follow = follow_redirects.unwrap_or(options.follow_redirects);
    let max = max_redirects.unwrap_or(options.max_redirects);
    let plan = Plan {
        deadline,
        save_request,
        h2c: options.http2_prior_knowledge || version == Some(Version::HTTP_2),
        inner: inner.clone(),
    };
    let mut method = method;
    let mut body = match file {
        Some(path) => Payload::File(Arc::new(path)),
        None => Payload::Body(body),
    };
    let mut redirects = 0;
    let mut response = loop {
        let copy = body.try_clone();
        let response =
            with_retries(&plan, &method, &url, &headers, body, retries, retry_backoff).await?;
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok());
        let next = if follow {
            redirect::follow(response.status(), location, &url, &method)
        } else {
            None
        };
        let Some(next) = next else {
            break response;
        };
        let next_body = if next.keep_body {
            copy
        } else {
            Some(Payload::Body(Body::empty()))
        };
        // A streamed body was sent once and cannot be again: the redirect
        // is handed to the caller as the answer.
        let Some(next_body) = next_body else {
            break response;
        };
        if redirects == max {
            return Err(Error::new(
                ErrorKind::Redirect,
                format!("too many redirects ({max}) from {}", response.url()),
            ));
        }
        redirects += 1;
        if !next.keep_body {
            redirect::strip_body_headers(&mut headers);
        }
        if !redirect::same_origin(&url, &next.url) {
            redirect::strip_credentials(&mut headers);
        }
        tracing::debug!(status = %response.status(), to = %next.url, "following a redirect");
        drop(response);
        url = next.url;
        method = next.method;
        body = next_body;
    };
    response.redirects = redirects;
    response.timings.total = Some(started.elapsed());
    if method == Method::GET {
        response.reconnect = Some(super::sse::Reconnect {
            inner: inner.clone(),
            headers,
        });
    }
    if throw && response.status().as_u16() >= 400 {
        return Err(super::error::status_error(response));
    }
    Ok(response)
}

/// The URL parsed, its query extended, its user-info moved to an
/// `Authorization` header (unless one is set).
fn prepare_url(
    inner: &ClientInner,
    text: &str,
    query: &[(String, String)],
    headers: &mut HeaderMap,
) -> Result<Url> {
    let mut url = parse_url(inner, text)?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        let decode = |s: &str| percent_decode(s);
        if !headers.contains_key(header::AUTHORIZATION) {
            let user = decode(url.username());
            let password = url.password().map(decode);
            headers.insert(
                header::AUTHORIZATION,
                basic_auth_value(&user, password.as_deref())?,
            );
        }
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    url.set_fragment(None);
    Ok(url)
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A request's body: given, or a file opened for each sending (so that a
/// redirect or a retry can send it again).
enum Payload {
    Body(Body),
    File(Arc<std::path::PathBuf>),
}

impl Payload {
    /// A copy to send again: a body in memory, or the file; `None` for a
    /// stream.
    fn try_clone(&self) -> Option<Payload> {
        match self {
            Payload::Body(body) => body.try_clone().map(Payload::Body),
            Payload::File(path) => Some(Payload::File(path.clone())),
        }
    }

    /// The body to send, and its length when a file gives it.
    async fn open(self) -> Result<(Body, Option<u64>)> {
        match self {
            Payload::Body(body) => Ok((body, None)),
            Payload::File(path) => {
                let file = tokio::fs::File::open(&*path).await.map_err(|e| {
                    Error::from_io(e, format!("cannot open {} to send", path.display()))
                })?;
                let metadata = file
                    .metadata()
                    .await
                    .map_err(|e| Error::from_io(e, format!("cannot read {}", path.display())))?;
                if metadata.is_dir() {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("cannot send {}: it is a directory", path.display()),
                    ));
                }
                // A FIFO or a device has no length to announce: it is sent
                // chunked, to its end.
                let length = metadata.is_file().then_some(metadata.len());
                Ok((Body::from_reader(file), length))
            }
        }
    }
}

/// The most URLs a client keeps parsed; beyond, the cache starts over.
const URL_CACHE: usize = 256;

/// `text` parsed and checked (an `http` or `https` URL with a host); URLs
/// seen before come from a small cache, as parsing (with its IDNA pass) is
/// the costliest step of a small request.
fn parse_url(inner: &ClientInner, text: &str) -> Result<Url> {
    if let Some(url) = inner.urls.lock().get(text) {
        return Ok(url.clone());
    }
    let url = Url::parse(text).map_err(|e| {
        Error::with_source(ErrorKind::InvalidInput, format!("invalid URL {text:?}"), e)
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "unsupported URL scheme {:?} in {text:?} (http and https only)",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("no host in URL {text:?}"),
        ));
    }
    // Credentials are not kept.
    if !url.username().is_empty() || url.password().is_some() {
        return Ok(url);
    }
    let mut urls = inner.urls.lock();
    if urls.len() >= URL_CACHE {
        urls.clear();
    }
    urls.insert(text.into(), url.clone());
    Ok(url)
}

/// Sends with opt-in retries: after a failure, a body in memory is sent
/// again after a backoff that doubles each time.
async fn with_retries(
    plan: &Plan,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Payload,
    retries: u32,
    backoff: Duration,
) -> Result<ClientResponse> {
    let mut copy = if retries > 0 { body.try_clone() } else { None };
    let mut body = body;
    let mut wait = if backoff.is_zero() {
        Duration::from_millis(100)
    } else {
        backoff
    };
    let mut left = retries;
    loop {
        match exchange(plan, method, url, headers, body).await {
            Ok(response) => return Ok(response),
            Err(error) if left > 0 && retryable(&error, method) => {
                let Some(next) = copy.as_ref().and_then(Payload::try_clone) else {
                    return Err(error);
                };
                left -= 1;
                tracing::debug!(%error, ?wait, "retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
                body = next;
                if left == 0 {
                    copy = None;
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// Whether a failure is worth a retry: for a method that is not
/// idempotent (a POST, a PATCH), only a failure before the request went out
/// (no connection, no slot), as the server may have acted on one it saw.
fn retryable(error: &Error, method: &Method) -> bool {
    if error.timeout_kind() == Some(TimeoutKind::Request) {
        return false;
    }
    let unsent = matches!(error.kind(), ErrorKind::Connect | ErrorKind::Dns)
        || matches!(
            error.timeout_kind(),
            Some(TimeoutKind::Connect | TimeoutKind::PoolWait)
        );
    unsent
        || (is_idempotent(method)
            && matches!(
                error.kind(),
                ErrorKind::Timeout | ErrorKind::Io | ErrorKind::Closed
            ))
}

/// The target of `url`: the pool's key and what to dial.
fn target(inner: &ClientInner, url: &Url, h2c: bool) -> Target {
    let https = url.scheme() == "https";
    let host = url.host_str().unwrap_or_default();
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });
    let h2c = h2c && !https;
    // Built by hand: `format!` is a visible cost on a small request.
    let mut key = String::with_capacity(host.len() + 24);
    match &inner.options.unix_socket {
        Some(path) => {
            key.push_str("unix:");
            key.push_str(&path.to_string_lossy());
        }
        None => {
            key.push_str(url.scheme());
            key.push_str("://");
            key.push_str(host);
            key.push(':');
            push_decimal(&mut key, port);
            if h2c {
                key.push_str(" (h2c)");
            }
        }
    }
    Target {
        key,
        https,
        host: host.to_owned(),
        port,
        h2c,
    }
}

fn push_decimal(out: &mut String, n: u16) {
    let mut digits = [0u8; 5];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// One exchange: a connection from the pool and the request on it,
/// replayed on another connection when the server never saw it.
async fn exchange(
    plan: &Plan,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Payload,
) -> Result<ClientResponse> {
    let inner = &*plan.inner;
    let options = &inner.options;
    let target = target(inner, url, plan.h2c);
    let copy = body.try_clone();
    let mut body = Some(body);
    // The body opened (a file is opened before a connection is taken, so
    // that an unreadable file costs no connection), and its length.
    let mut opened: Option<(Body, Option<u64>)> = None;
    let mut timings = Timings::default();
    let mut replays = 0;
    let mut dead = 0;
    loop {
        if opened.is_none() {
            let Some(payload) = body.take() else {
                return Err(Error::new(ErrorKind::Body, "the request body was lost"));
            };
            opened = Some(payload.open().await?);
        }
        let wait_started = Instant::now();
        let span = tracing::debug_span!("pool_wait", host = %target.key);
        let grant = if span.is_disabled() {
            acquire(inner, &target).await?
        } else {
            acquire(inner, &target).instrument(span).await?
        };
        timings.pool_wait = Some(wait_started.elapsed());
        let mut checkout = match grant {
            Grant::Connection(checkout) => checkout,
            Grant::Connect(permit) => {
                let mut connect_timings = ConnectTimings::default();
                // Boxed: the connect's state is large and needed once per
                // connection, not once per request.
                let settings = settings(inner, plan, &target)?;
                let connected =
                    Box::pin(connect::connect(&settings, &target, &mut connect_timings)).await;
                timings.dns = connect_timings.dns;
                timings.connect = connect_timings.connect;
                timings.tls = connect_timings.tls;
                match connected {
                    Ok(sender) => permit.connected(sender),
                    Err(error) => {
                        drop(permit);
                        // A refused connection was seen by no server.
                        if refused(&error) && replays < 1 {
                            replays += 1;
                            continue;
                        }
                        return Err(error);
                    }
                }
            }
        };
        let reused = checkout.reused();
        if reused {
            timings.dns = None;
            timings.connect = None;
            timings.tls = None;
        }
        if let Sender::Http1(sender) = checkout.sender() {
            if let Err(error) = sender.ready().await {
                // A pooled connection that died while idle.
                checkout.set_broken();
                drop(checkout);
                dead += 1;
                if dead > options.connections_per_host + MAX_REPLAYS {
                    return Err(convert(error, url));
                }
                tracing::debug!(host = %target.key, "a pooled connection was dead; replaying");
                continue;
            }
        }
        let Some((request_body, length)) = opened.take() else {
            return Err(Error::new(ErrorKind::Body, "the request body was lost"));
        };
        let (request, decode) =
            build_request(inner, method, url, headers, request_body, length, &checkout)?;
        let sent = plan.save_request.then(|| {
            Box::new(SentRequest {
                method: request.method().clone(),
                url: url.to_string(),
                headers: request.headers().clone(),
                version: request.version(),
            })
        });
        let version = request.version();
        let send_started = Instant::now();
        let span = tracing::debug_span!("wait_headers");
        let sending = send(&mut checkout, request, options.response_header_timeout, url);
        let outcome = if span.is_disabled() {
            sending.await
        } else {
            sending.instrument(span).await
        };
        match outcome {
            Ok(response) => {
                timings.first_byte = Some(send_started.elapsed());
                let (mut head, incoming) = response.into_parts();
                if head.version == Version::HTTP_2 || version == Version::HTTP_2 {
                    head.version = Version::HTTP_2;
                }
                let url_text: Arc<str> = url.as_str().into();
                let body = ResponseBody::new(
                    incoming,
                    checkout,
                    options.read_timeout,
                    plan.deadline,
                    url_text.clone(),
                );
                let mut body = Body::new(body);
                if decode {
                    body = decoded(&mut head.headers, body);
                }
                return Ok(ClientResponse {
                    head,
                    body,
                    url: url_text,
                    timings,
                    reused,
                    request: sent,
                    redirects: 0,
                    reconnect: None,
                });
            }
            Err(Failure::Unsent(error, request)) => {
                checkout.set_broken();
                drop(checkout);
                if replays >= MAX_REPLAYS {
                    return Err(error);
                }
                replays += 1;
                tracing::debug!(%error, "the server never saw the request; replaying");
                opened = Some((request.into_body(), length));
            }
            Err(Failure::Refused(error)) => {
                drop(checkout);
                match copy.as_ref().and_then(Payload::try_clone) {
                    Some(again) if replays < MAX_REPLAYS => {
                        replays += 1;
                        tracing::debug!(%error, "the server refused the stream; replaying");
                        body = Some(again);
                    }
                    _ => return Err(error),
                }
            }
            Err(Failure::Failed(error, broken)) => {
                if broken {
                    checkout.set_broken();
                }
                drop(checkout);
                // A reused connection the server closed just as the request
                // went out (its keep-alive ran out): an idempotent request
                // with a body that can be sent again is sent on a fresh
                // connection (RFC 9110 §9.2.2).
                let again = copy.as_ref().and_then(Payload::try_clone);
                match again {
                    Some(again)
                        if reused
                            && error.is_closed()
                            && is_idempotent(method)
                            && replays < MAX_REPLAYS =>
                    {
                        replays += 1;
                        tracing::debug!(%error, "a reused connection closed; replaying");
                        body = Some(again);
                    }
                    _ => return Err(error),
                }
            }
        }
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn settings(inner: &ClientInner, plan: &Plan, target: &Target) -> Result<ConnectSettings> {
    let options = &inner.options;
    Ok(ConnectSettings {
        tls: if target.https {
            Some(inner.tls()?)
        } else {
            None
        },
        http2_prior_knowledge: plan.h2c,
        connect_timeout: options.connect_timeout.unwrap_or(Duration::MAX),
        local_addr: options
            .local_address
            .map(|ip| std::net::SocketAddr::new(ip, 0)),
        nodelay: options.nodelay,
        unix: options.unix_socket.clone(),
    })
}

fn refused(error: &Error) -> bool {
    use std::error::Error as _;
    error.is_connect()
        && error
            .source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// A grant from the pool, waiting in the queue for at most the pool
/// timeout.
async fn acquire(inner: &ClientInner, target: &Target) -> Result<Grant> {
    match inner.pool.acquire(&target.key, target.h2c)? {
        Acquire::Ready(grant) => Ok(grant),
        Acquire::Wait(waiting) => match inner.options.pool_timeout {
            None => waiting.granted().await,
            Some(limit) => match tokio::time::timeout(limit, waiting.granted()).await {
                Ok(granted) => granted,
                Err(_) => Err(Error::timeout(
                    TimeoutKind::PoolWait,
                    format!(
                        "pool timeout ({limit:?}) waiting for a connection to {}",
                        target.key
                    ),
                )),
            },
        },
    }
}

fn build_request(
    inner: &ClientInner,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Body,
    length: Option<u64>,
    checkout: &Checkout,
) -> Result<(Request<Body>, bool)> {
    let http2 = checkout.is_http2();
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let uri = if http2 { url.as_str() } else { path };
    let mut request = Request::builder()
        .method(method.clone())
        .uri(uri)
        .version(if http2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        })
        .body(body)
        .map_err(|e| {
            Error::with_source(ErrorKind::InvalidInput, format!("cannot send to {url}"), e)
        })?;
    let out = request.headers_mut();
    *out = headers.clone();
    if !http2 && !out.contains_key(header::HOST) {
        let host = url.host_str().unwrap_or_default();
        let mut value = String::with_capacity(host.len() + 6);
        value.push_str(host);
        if let Some(port) = url.port() {
            value.push(':');
            push_decimal(&mut value, port);
        }
        let value = HeaderValue::try_from(value).map_err(|e| {
            Error::with_source(ErrorKind::InvalidInput, format!("invalid host in {url}"), e)
        })?;
        out.insert(header::HOST, value);
    }
    if let Some(length) = length {
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    if !out.contains_key(header::USER_AGENT) {
        let agent = inner.options.user_agent.clone().unwrap_or_else(|| {
            HeaderValue::from_static(concat!("aleph/", env!("CARGO_PKG_VERSION")))
        });
        out.insert(header::USER_AGENT, agent);
    }
    if !http2 && !inner.options.keep_alive {
        out.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    // A caller that asks for codings itself gets the body as it came.
    let decode = inner.options.decompress && !out.contains_key(header::ACCEPT_ENCODING);
    if decode {
        out.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(crate::http::decode::ACCEPT_ENCODING),
        );
    }
    Ok((request, decode))
}

/// The body decoded from its `Content-Encoding`, whose header (and the
/// length of the coded body) then goes; a body in a coding not known is
/// left as it came.
fn decoded(headers: &mut HeaderMap, body: Body) -> Body {
    let Some(coding) = headers.get(header::CONTENT_ENCODING).cloned() else {
        return body;
    };
    match crate::http::decode::decode(body, &coding) {
        Ok(decoded) => {
            headers.remove(header::CONTENT_ENCODING);
            headers.remove(header::CONTENT_LENGTH);
            decoded
        }
        Err(body) => body,
    }
}

/// Why an exchange failed, as far as replaying goes.
enum Failure {
    /// The request was never written: it comes back, to send elsewhere.
    Unsent(Error, Box<Request<Body>>),
    /// The server refused the stream before processing it (HTTP/2
    /// REFUSED_STREAM, or a GOAWAY that excluded it).
    Refused(Error),
    /// Anything else; `true` when the connection is no longer usable.
    Failed(Error, bool),
}

async fn send(
    checkout: &mut Checkout,
    request: Request<Body>,
    header_timeout: Option<Duration>,
    url: &Url,
) -> std::result::Result<http::Response<hyper::body::Incoming>, Failure> {
    let sending = match checkout.sender() {
        Sender::Http1(sender) => {
            futures_util::future::Either::Left(sender.try_send_request(request))
        }
        Sender::Http2(sender) => {
            futures_util::future::Either::Right(sender.try_send_request(request))
        }
    };
    let outcome = match header_timeout {
        None => sending.await,
        Some(limit) => match tokio::time::timeout(limit, sending).await {
            Ok(outcome) => outcome,
            Err(_) => {
                return Err(Failure::Failed(
                    Error::timeout(
                        TimeoutKind::ResponseHeaders,
                        format!("response headers timeout ({limit:?}) from {url}"),
                    ),
                    true,
                ))
            }
        },
    };
    match outcome {
        Ok(response) => Ok(response),
        Err(mut error) => {
            let unsent = error.take_message();
            let error = error.into_error();
            let refused = never_processed(&error);
            let converted = convert(error, url);
            match unsent {
                Some(request) => Err(Failure::Unsent(converted, Box::new(request))),
                None if refused => Err(Failure::Refused(converted)),
                None => Err(Failure::Failed(converted, true)),
            }
        }
    }
}

/// HTTP/2's signals that a stream was not processed (RFC 9113 §8.7):
/// REFUSED_STREAM, or a GOAWAY whose last stream id excluded it.
fn never_processed(error: &hyper::Error) -> bool {
    use std::error::Error as _;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(h2) = cause.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR));
        }
        source = cause.source();
    }
    false
}

/// Whether an I/O error (a reset, a broken pipe) is behind a hyper error.
fn io_cause(error: &hyper::Error) -> bool {
    use std::error::Error as _;
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A hyper error as an aleph error naming the URL.
fn convert(error: hyper::Error, url: &Url) -> Error {
    let (kind, message) =
        if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() {
            (
                ErrorKind::Protocol,
                format!("malformed response from {url}: {error}"),
            )
        } else if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
            (
                ErrorKind::Closed,
                format!("the connection closed before the response from {url}"),
            )
        } else if error.is_timeout() {
            (ErrorKind::Timeout, format!("timed out waiting for {url}"))
        } else if io_cause(&error) {
            (
                ErrorKind::Io,
                format!("sending the request to {url} failed: {error}"),
            )
        } else if error.is_body_write_aborted() || error.is_user() {
            (
                ErrorKind::Body,
                format!("sending the request to {url} failed: {error}"),
            )
        } else {
            (
                ErrorKind::Protocol,
                format!("request to {url} failed: {error}"),
            )
        };
    Error::with_source(kind, message, error)
}
