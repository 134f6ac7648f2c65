//! The HTTP server: hyper's connections over aleph's listener, with the
//! server's limits, graceful shutdown and idle connections closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, StatusCode, Version};
use hyper::body::Incoming as HyperIncoming;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::Notify;
use tracing::Instrument;

use super::conn_io::{ConnIo, ReadAhead, ReadAheadState};
use super::handler::{BoxHandler, Handler};
use super::incoming::Exchange;
use super::options::{HttpVersion, RejectHandler, ServerOptions};
use super::respond::{respond, Responding, ServerBody};
use crate::net::listener::{self, ListenerOptions, StreamOptions};
use crate::net::{ConnectionInfo, RawStream, Server, Signal};
use crate::tls::ServerTls;
use crate::{Error, ErrorKind, Result};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Starts an HTTP server that calls `handler` for each request.
///
/// The handler is a plain or `async` function of a [`Request`](super::Request)
/// returning anything that is [`IntoResponse`](super::IntoResponse), or any
/// tower service (see [`Handler`]). HTTP/1.0, HTTP/1.1 and HTTP/2 (over TLS
/// by ALPN, or h2c with prior knowledge) are served on one port, as
/// [`http_versions`](ServerOptions::http_versions) allows.
///
/// A handler that panics or returns an `Err` gets its client a 500, and the
/// failure is logged (`tracing`, level error) once with the request line and
/// the client's address; the connection and the server go on. Malformed
/// requests get a 400.
///
/// [`Server::close`] stops accepting at once, closes idle keep-alive
/// connections, lets requests in flight finish (their HTTP/1 responses say
/// `Connection: close`; HTTP/2 connections get a GOAWAY), and cuts what is
/// left when [`shutdown_timeout`](ServerOptions::shutdown_timeout) passes.
///
/// # Errors
///
/// [`Io`](ErrorKind::Io) when the socket cannot be bound, naming the address;
/// [`Other`](ErrorKind::Other) when `http_versions` is empty.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// The seed's hello server:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::http::{self, Request, ServerOptions};
///
/// fn hello(_req: Request) -> &'static str {
///     "hello!"
/// }
///
/// let server = http::start_server(hello, ServerOptions { port: 0, ..Default::default() }).await?;
/// assert_ne!(server.port(), 0);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
pub async fn start_server<H, M>(handler: H, options: ServerOptions) -> Result<Server>
where
    H: Handler<M>,
{
    let handler = handler.into_box_handler().0;
    let settings = Arc::new(Settings::new(&options)?);
    listener::serve_draining(
        listener_options(&options)?,
        move |stream, info, draining| {
            let handler = handler.clone();
            serve_connection(stream, info, draining, settings.clone(), move |conn| {
                AlephService::new(conn, handler)
            })
        },
    )
}

/// Starts a server whose handler gets hyper's own request (its body is
/// hyper's `Incoming`) and returns any `http::Response`, as hyper's
/// `service_fn` does: raw mode, for handlers that want every last cycle.
///
/// The listener, TLS, HTTP versions, timeouts, connection limits and
/// graceful shutdown are as [`start_server`]'s; the request-level parts of
/// aleph are not there: no body size limit, body read timeout, 414 check,
/// `Server` header or `OPTIONS *` answer, and an `Err` from the handler
/// closes its connection, as in hyper. The request's extensions carry the
/// connection's [`ConnectionInfo`] as an `Arc<ConnectionInfo>`.
///
/// # Errors
///
/// As [`start_server`].
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use std::convert::Infallible;
/// use aleph::bytes::Bytes;
/// use aleph::http::{start_server_raw, ServerOptions};
/// use http_body_util::Full;
///
/// async fn raw(
///     _req: http::Request<hyper::body::Incoming>,
/// ) -> Result<http::Response<Full<Bytes>>, Infallible> {
///     Ok(http::Response::new(Full::new(Bytes::from("raw"))))
/// }
///
/// let server = start_server_raw(raw, ServerOptions::default()).await?;
/// server.close().await;
/// # Ok(())
/// # }
/// ```
pub async fn start_server_raw<F, Fut, B, E>(handler: F, options: ServerOptions) -> Result<Server>
where
    F: Fn(http::Request<HyperIncoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<http::Response<B>, E>> + Send + 'static,
    E: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let handler = Arc::new(handler);
    let settings = Arc::new(Settings::new(&options)?);
    listener::serve_draining(
        listener_options(&options)?,
        move |stream, info, draining| {
            let handler = handler.clone();
            serve_connection(stream, info, draining, settings.clone(), move |conn| {
                RawService { conn, handler }
            })
        },
    )
}

fn listener_options(options: &ServerOptions) -> Result<ListenerOptions> {
    Ok(ListenerOptions {
        host: options.host,
        port: options.port,
        unix: options.unix.clone(),
        listen_socket: options.listen_socket.clone(),
        reuse_address: options.reuse_address,
        reuse_port: options.reuse_port,
        backlog: options.backlog,
        stream: StreamOptions {
            nodelay: options.nodelay,
            keepalive: None,
            // The write timeout looks for progress at the socket: without
            // this, a client taking bytes slowly but steadily makes none
            // visible until a third of the send buffer (autotuned up to
            // megabytes) is free, which at tens of KiB/s is over a minute.
            notsent_lowat: options.write_timeout.map(|_| WRITE_LOWAT),
        },
        tls: options
            .tls
            .as_ref()
            .map(|tls| with_alpn(tls, &options.http_versions)),
        handshake_timeout: options.handshake_timeout,
        // Beyond the limit, clients are answered 503 (see `Settings`), not
        // left waiting in the backlog.
        max_connections: None,
        shutdown_timeout: options.shutdown_timeout,
    })
}

/// The TLS configuration, offering the served HTTP versions by ALPN unless
/// it names its own protocols.
fn with_alpn(tls: &ServerTls, versions: &[HttpVersion]) -> ServerTls {
    if !tls.config().alpn_protocols.is_empty() {
        return tls.clone();
    }
    let mut config = (**tls.config()).clone();
    if versions.contains(&HttpVersion::Http2) {
        config.alpn_protocols.push(b"h2".to_vec());
    }
    if versions.contains(&HttpVersion::Http1) {
        config.alpn_protocols.push(b"http/1.1".to_vec());
    }
    ServerTls::from(config)
}

/// What every connection of a server shares: hyper's builders, the limits,
/// the count of open connections.
pub(crate) struct Settings {
    /// HTTP/1 and HTTP/2 by what the connection starts with.
    auto: auto::Builder<TokioExecutor>,
    http1: hyper::server::conn::http1::Builder,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    versions: (bool, bool),
    idle_timeout: Option<Duration>,
    /// Applied by the connection's watch, not by hyper (see [`Activity::watch`]).
    header_read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    linger_time: Duration,
    linger_bytes: u64,
    max_connections: Option<usize>,
    /// Connections being served under `max_connections` (rejected ones,
    /// and any when there is no limit, are not counted).
    open: AtomicUsize,
    /// Connections lingering (see [`ServerOptions::linger_time`]): they
    /// give up their slot, so under `max_connections` they have a cap of
    /// their own, as many again, lest clients that upload without end hold
    /// sockets far beyond the limit.
    lingering: AtomicUsize,
    pub(crate) limits: Limits,
}

/// The per-request limits and headers aleph applies itself.
pub(crate) struct Limits {
    pub(crate) body_read_timeout: Option<Duration>,
    pub(crate) max_request_line: usize,
    pub(crate) max_body_size: Option<u64>,
    pub(crate) keep_alive: bool,
    pub(crate) server_header: Option<HeaderValue>,
    pub(crate) reject: Option<RejectHandler>,
}

impl Settings {
    fn new(options: &ServerOptions) -> Result<Settings> {
        let versions = (
            options.http_versions.contains(&HttpVersion::Http1),
            options.http_versions.contains(&HttpVersion::Http2),
        );
        if versions == (false, false) {
            return Err(Error::new(
                ErrorKind::Other,
                "ServerOptions::http_versions names no HTTP version",
            ));
        }
        let header_max = options.max_header_size.max(8 * 1024);
        let header_list_max = u32::try_from(options.max_header_size).unwrap_or(u32::MAX);
        let mut auto = auto::Builder::new(TokioExecutor::new());
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .keep_alive(options.keep_alive)
            // hyper refuses a buffer under 8 KiB.
            .max_buf_size(header_max);
        auto.http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(options.http2_max_concurrent_streams)
            .initial_stream_window_size(options.http2_stream_window)
            .initial_connection_window_size(options.http2_connection_window)
            .max_header_list_size(header_list_max);
        // hyper-util's `http1_only` / `http2_only` do not apply to
        // connections with upgrades: a single version uses hyper's builder.
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .keep_alive(options.keep_alive)
            .max_buf_size(header_max);
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(options.http2_max_concurrent_streams)
            .initial_stream_window_size(options.http2_stream_window)
            .initial_connection_window_size(options.http2_connection_window)
            .max_header_list_size(header_list_max);
        Ok(Settings {
            http1,
            http2,
            auto,
            versions,
            idle_timeout: options.idle_timeout,
            header_read_timeout: options.header_read_timeout,
            write_timeout: options.write_timeout,
            linger_time: options.linger_time,
            linger_bytes: options.linger_bytes,
            max_connections: options.max_connections,
            open: AtomicUsize::new(0),
            lingering: AtomicUsize::new(0),
            limits: Limits {
                body_read_timeout: options.body_read_timeout,
                max_request_line: options.max_request_line,
                max_body_size: options.max_body_size,
                keep_alive: options.keep_alive,
                server_header: options.server_header.clone(),
                reject: options.reject_connection.clone(),
            },
        })
    }

    /// How to serve a connection: what ALPN chose over TLS, else what the
    /// options allow.
    fn kind(&self, info: &ConnectionInfo) -> Kind {
        let alpn = info.tls.as_ref().and_then(|tls| tls.alpn.as_deref());
        match (alpn, self.versions) {
            (Some("h2"), _) => Kind::Http2,
            (Some(_), _) => Kind::Http1,
            (None, (true, true)) if info.tls.is_none() => Kind::Auto,
            // TLS without ALPN: a client that did not ask for h2.
            (None, (true, _)) => Kind::Http1,
            (None, (false, _)) => Kind::Http2,
        }
    }
}

/// The unsent bytes a TCP socket holds under a write timeout (see
/// `StreamOptions::notsent_lowat`): enough for fast links (bytes in flight are
/// not counted), small enough that a slow reader's progress shows.
const WRITE_LOWAT: u32 = 128 * 1024;

/// Which hyper connection serves a client.
#[derive(Clone, Copy)]
enum Kind {
    /// HTTP/1 unless the client starts with HTTP/2's preface.
    Auto,
    Http1,
    Http2,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Auto => "http/1 or h2c",
            Kind::Http1 => "http/1",
            Kind::Http2 => "h2",
        }
    }
}

/// One connection as its requests see it.
pub(crate) struct Conn {
    pub(crate) info: Arc<ConnectionInfo>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) activity: Activity,
    /// Over `max_connections`: every request is answered by the rejection.
    pub(crate) rejected: bool,
    pub(crate) draining: Signal,
}

/// Requests in flight on a connection, and how many it has answered.
///
/// Kept cheap for the request path: a request's start and end are atomic
/// counts, with no clock read and nothing woken; the idle check looks at
/// them when its own timer fires (see [`Activity::watch`]).
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    served: AtomicUsize,
    /// Whether a request came over HTTP/2.
    http2: AtomicBool,
    /// Whether an HTTP/1 request with a body is in flight: hyper reads the
    /// socket only as the handler reads the body, so the connection reads
    /// ahead to notice the client leaving.
    body_in_flight: AtomicBool,
    /// That request's state, to tell it the client left.
    body_exchange: std::sync::Mutex<Option<Arc<Exchange>>>,
    /// Woken when the connection goes idle, for a rejected connection only
    /// (it closes after its first answer).
    went_idle: Option<Notify>,
    /// Whether the last HTTP/1 request's body may not have been read to its
    /// end: the client may still be sending it when the connection closes.
    unread: AtomicBool,
}

impl Activity {
    fn new(rejected: bool) -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            http2: AtomicBool::new(false),
            body_in_flight: AtomicBool::new(false),
            body_exchange: std::sync::Mutex::new(None),
            went_idle: rejected.then(Notify::new),
            unread: AtomicBool::new(false),
        }
    }

    pub(crate) fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        // hyper reads a request head only once the last body was consumed
        // (read, or drained by hyper itself).
        if self.unread.load(Ordering::Relaxed) {
            self.unread.store(false, Ordering::Relaxed);
        }
    }

    /// An HTTP/1 request ended without its body read to the end.
    pub(crate) fn note_unread(&self) {
        self.unread.store(true, Ordering::Release);
    }

    /// Whether the client may still be sending a request body no one read:
    /// closing now would reset the connection (see
    /// [`ServerOptions::linger_time`]).
    fn may_have_unread(&self) -> bool {
        self.unread.load(Ordering::Acquire)
    }

    /// A request's response was sent in full, or given up.
    pub(crate) fn end(&self) {
        self.served.fetch_add(1, Ordering::AcqRel);
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(went_idle) = &self.went_idle {
                went_idle.notify_waiters();
            }
        }
    }

    fn body_exchange(&self) -> std::sync::MutexGuard<'_, Option<Arc<Exchange>>> {
        self.body_exchange
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An HTTP/1 request with a body is in flight: watch for the client
    /// leaving while hyper does not read.
    pub(crate) fn watch_body(&self, exchange: Arc<Exchange>) {
        *self.body_exchange() = Some(exchange);
        self.body_in_flight.store(true, Ordering::Release);
    }

    /// The request watched by [`watch_body`](Self::watch_body) ended.
    pub(crate) fn unwatch_body(&self) {
        if self.body_in_flight.swap(false, Ordering::AcqRel) {
            *self.body_exchange() = None;
        }
    }

    fn watching_body(&self) -> bool {
        self.body_in_flight.load(Ordering::Acquire)
    }

    /// The client left while the watched request was in flight.
    fn body_client_left(&self) {
        self.body_in_flight.store(false, Ordering::Release);
        if let Some(exchange) = self.body_exchange().take() {
            exchange.set_gone();
        }
    }

    /// Notes that the connection speaks HTTP/2, which the header read
    /// timeout does not apply to.
    pub(crate) fn saw_http2(&self) {
        if !self.http2.load(Ordering::Relaxed) {
            self.http2.store(true, Ordering::Relaxed);
        }
    }

    /// Completes when the connection has been quiet (no request in flight,
    /// none answered, no response bytes moving or waiting for the client to
    /// take them) for `idle`, or, on HTTP/1, for `head`: then it is waiting
    /// for a request head that does not come.
    ///
    /// Requests never touch a timer: it ticks every quarter of the shorter
    /// timeout and looks at the counts, so a verdict comes between one and
    /// one and a quarter timeouts after the connection went quiet, never
    /// sooner. (hyper's own header read timeout arms a timer for every
    /// request, which costs a read and an allocation each time.)
    async fn watch(
        &self,
        idle: Option<Duration>,
        head: Option<Duration>,
        socket: &ReadAhead,
    ) -> Quiet {
        let period = match (idle, head) {
            (Some(idle), Some(head)) => idle.min(head),
            (Some(timeout), None) | (None, Some(timeout)) => timeout,
            (None, None) => return std::future::pending().await,
        } / 4;
        let mut seen = self.served.load(Ordering::Acquire);
        let mut seen_writes = socket.writes();
        let mut quiet = Duration::ZERO;
        loop {
            tokio::time::sleep(period).await;
            let served = self.served.load(Ordering::Acquire);
            let writes = socket.writes();
            // hyper lets go of a response's body (and so of its request)
            // once the body is in its buffer, which a slow client may take
            // long after: until then the connection is not waiting for it.
            if served != seen
                || self.in_flight.load(Ordering::Acquire) > 0
                || writes != seen_writes
                || writes.stalled
            {
                seen = served;
                seen_writes = writes;
                quiet = Duration::ZERO;
                continue;
            }
            quiet += period;
            if head.is_some_and(|head| quiet >= head) && !self.http2.load(Ordering::Relaxed) {
                return Quiet::NoHead;
            }
            if idle.is_some_and(|idle| quiet >= idle) {
                return Quiet::Idle;
            }
        }
    }

    /// Completes once a rejected connection has answered its first request.
    async fn answered(&self) {
        let Some(went_idle) = &self.went_idle else {
            return std::future::pending().await;
        };
        loop {
            let notified = went_idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.served.load(Ordering::Acquire) > 0
                && self.in_flight.load(Ordering::Acquire) == 0
            {
                return;
            }
            notified.await;
        }
    }
}

/// Serves one connection with hyper until it ends: on its own, at the
/// server's drain (graceful), after its idle timeout, or cut by the server.
async fn serve_connection<S, B>(
    stream: RawStream,
    info: ConnectionInfo,
    draining: Signal,
    settings: Arc<Settings>,
    make_service: impl FnOnce(Arc<Conn>) -> S,
) where
    S: hyper::service::Service<
            http::Request<HyperIncoming>,
            Response = http::Response<B>,
            Error = BoxError,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    // Only served connections take a slot: a rejected one (which may sit
    // silent until its header read timeout) must not keep out the next
    // client once a served connection ends.
    let rejected = match settings.max_connections {
        Some(max) => settings
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .is_err(),
        None => false,
    };
    let counted = settings.max_connections.is_some() && !rejected;
    let open = counted.then(|| OpenGuard(settings.clone()));
    let peer = info.peer_name();
    let conn = Arc::new(Conn {
        info: Arc::new(info),
        settings: settings.clone(),
        activity: Activity::new(rejected),
        rejected,
        draining: draining.clone(),
    });
    let kind = settings.kind(&conn.info);
    let head_timeout = match kind {
        Kind::Http2 => None,
        Kind::Auto | Kind::Http1 => settings.header_read_timeout,
    };
    let (io, ahead) = ConnIo::new(stream, settings.write_timeout);
    let quiet = async {
        let quiet = conn
            .activity
            .watch(settings.idle_timeout, head_timeout, &ahead);
        if rejected {
            // Closed after its first answer, or sooner if it asks nothing
            // (an HTTP/2 client has no header read timeout).
            tokio::select! {
                () = conn.activity.answered() => Quiet::Idle,
                quiet = quiet => quiet,
            }
        } else {
            quiet.await
        }
    };
    // Once the connection winds down (the server drains, or it was idle),
    // hyper finishes what is in flight, but does not close a connection in
    // the middle of a request head: the header read timeout still cuts it.
    let late_head = conn.activity.watch(None, head_timeout, &ahead);
    // Tells a request hyper is not reading that its client left; hyper gets
    // the end after the bytes read ahead, when the handler reads the body.
    let watch_reads = |cx: &mut Context<'_>| {
        if conn.activity.watching_body() {
            match ahead.poll(cx) {
                ReadAheadState::ClientLeft => conn.activity.body_client_left(),
                ReadAheadState::Took => cx.waker().wake_by_ref(),
                ReadAheadState::Waiting => {}
            }
        }
    };
    let service = make_service(conn.clone());
    // A span is entered and left at every poll of the connection: made only
    // when someone listens (a disabled span still costs, where `tracing`
    // forwards to `log`).
    let span = if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug_span!(
            "http connection",
            %peer,
            protocol = kind.name(),
            tls = conn.info.tls.is_some()
        )
    } else {
        tracing::Span::none()
    };
    async {
        match kind {
            Kind::Auto => {
                let served = settings.auto.serve_connection_with_upgrades(io, service);
                tokio::pin!(served);
                drive(
                    served,
                    |c| c.graceful_shutdown(),
                    draining,
                    quiet,
                    late_head,
                    watch_reads,
                    &peer,
                )
                .await;
            }
            Kind::Http1 => {
                let served = settings.http1.serve_connection(io, service).with_upgrades();
                tokio::pin!(served);
                drive(
                    served,
                    |c| c.graceful_shutdown(),
                    draining,
                    quiet,
                    late_head,
                    watch_reads,
                    &peer,
                )
                .await;
            }
            Kind::Http2 => {
                let served = settings.http2.serve_connection(io, service);
                tokio::pin!(served);
                drive(
                    served,
                    |c| c.graceful_shutdown(),
                    draining,
                    quiet,
                    late_head,
                    watch_reads,
                    &peer,
                )
                .await;
            }
        }
    }
    .instrument(span)
    .await;
    // hyper is done and has let go of the handler; the client may still be
    // sending a body no one read, and closing now would reset the
    // connection before it read its response.
    if conn.activity.may_have_unread() && !settings.linger_time.is_zero() {
        // A lingering connection serves no one: its slot goes to the next.
        drop(open);
        let Some(_lingering) = LingerGuard::take(&settings) else {
            tracing::debug!(%peer, "no lingering close: as many connections linger as may");
            return;
        };
        let discarded = ahead
            .linger(settings.linger_time, settings.linger_bytes)
            .await;
        tracing::debug!(%peer, discarded, "lingering close: the unread request body was discarded");
    }
}

/// Runs a hyper connection to its end, asking it to wind down (finish what
/// is in flight, close when idle; GOAWAY on HTTP/2) when the server drains
/// or the connection has been idle too long, and cutting it when an HTTP/1
/// client takes too long to send a request head.
async fn drive<C, E>(
    mut served: Pin<&mut C>,
    shutdown: impl Fn(Pin<&mut C>),
    draining: Signal,
    quiet: impl Future<Output = Quiet>,
    late_head: impl Future<Output = Quiet>,
    mut watch_reads: impl FnMut(&mut Context<'_>),
    peer: &str,
) where
    C: Future<Output = std::result::Result<(), E>>,
    E: std::fmt::Display,
{
    let fired = draining.fired();
    tokio::pin!(fired, quiet, late_head);
    let mut registered = false;
    let mut winding_down = false;
    let result = std::future::poll_fn(|cx| {
        if !winding_down && draining.check(fired.as_mut(), &mut registered, cx) {
            winding_down = true;
            shutdown(served.as_mut());
        }
        if !winding_down {
            match quiet.as_mut().poll(cx) {
                Poll::Ready(Quiet::Idle) => {
                    winding_down = true;
                    shutdown(served.as_mut());
                }
                Poll::Ready(Quiet::NoHead) => return Poll::Ready(Some(Cut::NoHead)),
                Poll::Pending => {}
            }
        }
        // Counted from the wind-down: this watch is first polled then.
        if winding_down && late_head.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Cut::NoHead));
        }
        let polled = served.as_mut().poll(cx).map(|result| match result {
            Ok(()) => None,
            Err(error) => Some(Cut::Failed(error)),
        });
        if polled.is_pending() {
            // After hyper's turn: a request it started in it is watched now.
            watch_reads(cx);
        }
        polled
    })
    .await;
    match result {
        None => {}
        Some(Cut::Failed(error)) => {
            tracing::debug!(%peer, %error, "HTTP connection ended with an error");
        }
        Some(Cut::NoHead) => {
            tracing::debug!(%peer, "no request head came in time: connection closed");
        }
    }
}

/// Why a connection ended other than cleanly.
enum Cut<E> {
    Failed(E),
    /// See [`Quiet::NoHead`].
    NoHead,
}

/// Why a connection's watch ended.
enum Quiet {
    /// No request for the idle timeout: the connection winds down.
    Idle,
    /// An HTTP/1 connection waited the header read timeout for a request
    /// head: it is closed at once.
    NoHead,
}

/// A place among the lingering connections, given back when dropped.
struct LingerGuard<'a>(Option<&'a Settings>);

impl<'a> LingerGuard<'a> {
    /// A place, if fewer than `max_connections` linger (always, without
    /// the limit: then nothing bounds the served connections either).
    fn take(settings: &'a Settings) -> Option<LingerGuard<'a>> {
        let Some(max) = settings.max_connections else {
            return Some(LingerGuard(None));
        };
        settings
            .lingering
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |lingering| {
                (lingering < max).then_some(lingering + 1)
            })
            .ok()
            .map(|_| LingerGuard(Some(settings)))
    }
}

impl Drop for LingerGuard<'_> {
    fn drop(&mut self) {
        if let Some(settings) = self.0 {
            settings.lingering.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Counts a connection out of the open ones when it ends.
struct OpenGuard(Arc<Settings>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

type ServiceFuture<R> = Pin<Box<dyn Future<Output = std::result::Result<R, BoxError>> + Send>>;

/// aleph's request handling on a connection.
struct AlephService {
    conn: Arc<Conn>,
    handler: BoxHandler,
    /// The last request's shared state, taken again for the next request
    /// once nothing else holds it (on HTTP/1, nearly always): one allocation
    /// less per request.
    spare: std::cell::Cell<Option<Arc<Exchange>>>,
}

impl AlephService {
    fn new(conn: Arc<Conn>, handler: BoxHandler) -> AlephService {
        AlephService {
            conn,
            handler,
            spare: std::cell::Cell::new(None),
        }
    }

    fn exchange(&self) -> Arc<Exchange> {
        let exchange = match self.spare.take() {
            Some(mut spare) => match Arc::get_mut(&mut spare) {
                Some(unshared) => {
                    *unshared = Exchange::default();
                    spare
                }
                None => Arc::new(Exchange::default()),
            },
            None => Arc::new(Exchange::default()),
        };
        self.spare.set(Some(exchange.clone()));
        exchange
    }
}

impl hyper::service::Service<http::Request<HyperIncoming>> for AlephService {
    type Response = http::Response<ServerBody>;
    type Error = BoxError;
    type Future = Responding;

    fn call(&self, req: http::Request<HyperIncoming>) -> Responding {
        respond(&self.conn, &self.handler, self.exchange(), req)
    }
}

/// Raw mode: hyper's request to the user's function, with the connection's
/// info in its extensions and the in-flight count kept for the idle timeout.
struct RawService<F> {
    conn: Arc<Conn>,
    handler: Arc<F>,
}

impl<F, Fut, B, E> hyper::service::Service<http::Request<HyperIncoming>> for RawService<F>
where
    F: Fn(http::Request<HyperIncoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<http::Response<B>, E>> + Send + 'static,
    E: Into<BoxError>,
    B: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = ServiceFuture<Self::Response>;

    fn call(&self, mut req: http::Request<HyperIncoming>) -> Self::Future {
        if self.conn.rejected {
            // A raw response is of the user's body type, so no 503 can be
            // made here: the connection is closed instead.
            return Box::pin(std::future::ready(Err(BoxError::from(
                "connection over max_connections",
            ))));
        }
        req.extensions_mut().insert(self.conn.info.clone());
        if req.version() == Version::HTTP_2 {
            self.conn.activity.saw_http2();
        }
        let conn = self.conn.clone();
        conn.activity.start();
        // Whether the raw handler reads the body is not seen: one with a
        // body counts as maybe unread, so a close lingers (bounded).
        if is_http1(req.version()) && !http_body::Body::is_end_stream(req.body()) {
            conn.activity.note_unread();
        }
        let future = (self.handler)(req);
        Box::pin(async move {
            let result = future.await.map_err(Into::into);
            conn.activity.end();
            result
        })
    }
}

/// The response for a connection over the limit.
pub(crate) fn reject_response(conn: &Conn) -> super::Response {
    match &conn.settings.limits.reject {
        Some(reject) => reject(&conn.info),
        None => super::response::status_response(StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// Whether a response on this connection goes over HTTP/1.
pub(crate) fn is_http1(version: Version) -> bool {
    version == Version::HTTP_10 || version == Version::HTTP_11 || version == Version::HTTP_09
}
