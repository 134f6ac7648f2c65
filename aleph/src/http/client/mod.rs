//! The HTTP client: clj-http's requests on aleph's own connection pool, over
//! hyper's HTTP/1.1 and HTTP/2 client connections.
//!
//! Every call returns a future of a [`ClientResponse`]; dropping that future
//! cancels the request at whatever stage it is (waiting for a slot,
//! connecting, sending, waiting for the answer) and frees its slot in the
//! pool. A [`Client`] is a pool and its options; [`get`] and its
//! siblings use a default client made on first use.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::http::{self, Client, ClientOptions, Request, ServerOptions};
//!
//! let server = http::start_server(|_req: Request| "hello!", ServerOptions::default()).await?;
//! let url = format!("http://127.0.0.1:{}/", server.port());
//!
//! // Await style, on the default client:
//! let text = http::get(&url).await?.text().await?;
//! assert_eq!(text, "hello!");
//!
//! // A client of one's own, and a request built step by step:
//! let client = Client::new(ClientOptions { connections_per_host: 2, ..Default::default() });
//! let response = client.get(&url).query(&[("q", "1")]).header("x-trace", "on").send().await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.text().await?, "hello!");
//! server.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # The pool
//!
//! At most [`connections_per_host`](ClientOptions::connections_per_host)
//! connections per host and [`total_connections`](ClientOptions::total_connections)
//! in all; beyond them a request waits in its host's FIFO queue (for at most
//! [`pool_timeout`](ClientOptions::pool_timeout)), and once
//! [`max_queue_size`](ClientOptions::max_queue_size) requests wait, the next
//! fails at once with [`ErrorKind::PoolFull`](crate::ErrorKind::PoolFull).
//! An HTTP/1.1 connection goes back to the pool when its response body has
//! been read to the end (or dropped and drained); one HTTP/2 connection per
//! host carries every request to it. [`Client::stats`] tells what each host
//! holds.
//!
//! # Errors
//!
//! Each failure has its kind: [`Dns`](crate::ErrorKind::Dns),
//! [`Connect`](crate::ErrorKind::Connect), [`Tls`](crate::ErrorKind::Tls),
//! [`Timeout`](crate::ErrorKind::Timeout) with
//! [`timeout_kind`](crate::Error::timeout_kind) telling which limit,
//! [`Protocol`](crate::ErrorKind::Protocol) (a malformed answer),
//! [`Body`](crate::ErrorKind::Body) (a body cut short),
//! [`Redirect`](crate::ErrorKind::Redirect), [`PoolFull`](crate::ErrorKind::PoolFull)
//! and [`Status`](crate::ErrorKind::Status) (a status of 400 or more, when
//! `throw_exceptions` is on; [`Error::take_response`](crate::Error::take_response)
//! hands the response back).

mod body;
mod connect;
mod error;
mod exec;
mod pool;
mod redirect;
mod request;
mod response;
mod sse;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Method};

pub use pool::{HostStats, PoolStats};
pub use request::{RequestBuilder, RequestOptions};
pub use response::{ClientResponse, SentRequest, Timings};
pub use sse::EventSource;

use crate::tls::ClientTls;
use crate::Result;

/// Options of a [`Client`]: its pool's limits, its timeouts, TLS and the
/// defaults of every request it sends.
///
/// Build it with `..Default::default()`; every field's default is written
/// on it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use aleph::http::{Client, ClientOptions};
///
/// let client = Client::new(ClientOptions {
///     connections_per_host: 4,
///     pool_timeout: Some(Duration::from_secs(5)),
///     throw_exceptions: false,
///     ..Default::default()
/// });
/// # drop(client);
/// ```
#[derive(Clone)]
pub struct ClientOptions {
    /// Connections open at once to one host (scheme, host and port).
    /// Default: 8.
    pub connections_per_host: usize,
    /// Connections open at once over all hosts; when reached, an idle
    /// connection of another host is closed to make room, or the request
    /// waits. Default: 1024.
    pub total_connections: usize,
    /// Requests that may wait for a connection at once, over all hosts;
    /// the next one fails at once with
    /// [`PoolFull`](crate::ErrorKind::PoolFull). Default: 65536.
    pub max_queue_size: usize,
    /// The longest a request waits for a connection of the pool
    /// ([`TimeoutKind::PoolWait`](crate::TimeoutKind::PoolWait)).
    /// Default: 30 s.
    pub pool_timeout: Option<Duration>,
    /// How long an unused connection stays open before it is closed; hosts
    /// with nothing open are forgotten. Default: 90 s.
    pub idle_timeout: Option<Duration>,
    /// Keep connections open for the next request; off sends
    /// `Connection: close` and opens one connection per request.
    /// Default: `true`.
    pub keep_alive: bool,
    /// Offer HTTP/2 by ALPN on `https` URLs (the server chooses).
    /// Default: `true`.
    pub http2: bool,
    /// Speak HTTP/2 on `http` URLs without asking first (h2c with prior
    /// knowledge): for servers known to speak it. Default: `false`.
    pub http2_prior_knowledge: bool,
    /// The TLS configuration for `https` URLs: custom roots, a client
    /// certificate ([`ClientTls::new`]). Its ALPN list is replaced by the
    /// client's (`h2`, `http/1.1`) when empty. Default: `None`, the bundled
    /// Mozilla roots.
    pub tls: Option<ClientTls>,
    /// **Accept any server certificate** (for tests against self-signed
    /// servers only: anyone on the path can impersonate the server).
    /// Ignored when `tls` is given. Default: `false`.
    pub insecure: bool,
    /// The longest resolving, connecting and the TLS handshake may take
    /// ([`TimeoutKind::Connect`](crate::TimeoutKind::Connect)).
    /// Default: 10 s.
    pub connect_timeout: Option<Duration>,
    /// The longest the server may take to send the response's head once
    /// the request is sent
    /// ([`TimeoutKind::ResponseHeaders`](crate::TimeoutKind::ResponseHeaders)).
    /// Default: 60 s.
    pub response_header_timeout: Option<Duration>,
    /// The longest the server may stay silent while a body is read
    /// ([`TimeoutKind::Read`](crate::TimeoutKind::Read)). Default: `None`:
    /// event streams and long polls are silent for as long as they like;
    /// the connect and header timeouts bound a dead server.
    pub read_timeout: Option<Duration>,
    /// The longest a whole request may take, redirects and reading the body
    /// included ([`TimeoutKind::Request`](crate::TimeoutKind::Request)).
    /// Default: `None`: a download takes as long as it needs.
    pub request_timeout: Option<Duration>,
    /// Follow redirects (3xx with a `Location`). Default: `true`.
    pub follow_redirects: bool,
    /// Redirects followed before failing with
    /// [`Redirect`](crate::ErrorKind::Redirect). Default: 10.
    pub max_redirects: usize,
    /// Answer a status of 400 or more with an error of kind
    /// [`Status`](crate::ErrorKind::Status) that carries the response
    /// (clj-http's default). Default: `true`.
    pub throw_exceptions: bool,
    /// Ask for compressed bodies (`gzip, deflate, br, zstd`) and decode them.
    /// Default: `true`.
    pub decompress: bool,
    /// The local address connections are made from. Default: `None`.
    pub local_address: Option<IpAddr>,
    /// `TCP_NODELAY` on every connection. Default: `true`.
    pub nodelay: bool,
    /// Send every request to this Unix domain socket, whatever the URL's
    /// host (which still fills the `Host` header). Default: `None`.
    pub unix_socket: Option<PathBuf>,
    /// The `User-Agent` header of every request that sets none.
    /// Default: `None`, meaning `aleph/<version>`.
    pub user_agent: Option<HeaderValue>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            connections_per_host: 8,
            total_connections: 1024,
            max_queue_size: 65536,
            pool_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(90)),
            keep_alive: true,
            http2: true,
            http2_prior_knowledge: false,
            tls: None,
            insecure: false,
            connect_timeout: Some(Duration::from_secs(10)),
            response_header_timeout: Some(Duration::from_secs(60)),
            read_timeout: None,
            request_timeout: None,
            follow_redirects: true,
            max_redirects: 10,
            throw_exceptions: true,
            decompress: true,
            local_address: None,
            nodelay: true,
            unix_socket: None,
            user_agent: None,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("connections_per_host", &self.connections_per_host)
            .field("total_connections", &self.total_connections)
            .field("max_queue_size", &self.max_queue_size)
            .field("pool_timeout", &self.pool_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("keep_alive", &self.keep_alive)
            .field("http2", &self.http2)
            .field("http2_prior_knowledge", &self.http2_prior_knowledge)
            .field("tls", &self.tls)
            .field("insecure", &self.insecure)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_header_timeout", &self.response_header_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("follow_redirects", &self.follow_redirects)
            .field("max_redirects", &self.max_redirects)
            .field("throw_exceptions", &self.throw_exceptions)
            .field("decompress", &self.decompress)
            .field("local_address", &self.local_address)
            .field("nodelay", &self.nodelay)
            .field("unix_socket", &self.unix_socket)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// An HTTP client: a connection pool and the options of its requests.
///
/// Cheap to clone (an `Arc` inside); clones share the pool. Requests are
/// built with [`get`](Client::get) and its siblings, or given as plain data
/// to [`send`](Client::send). `Client` is also a `tower::Service` of
/// [`RequestOptions`], so tower layers (timeouts, rate limits, retries)
/// wrap it as they wrap any service.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::http::{self, Client, ClientOptions, Request, ServerOptions};
///
/// let server = http::start_server(|req: Request| format!("{}", req.method()), ServerOptions::default()).await?;
/// let client = Client::new(ClientOptions::default());
/// let url = format!("http://127.0.0.1:{}/", server.port());
/// let response = client.post(&url).body("data").send().await?;
/// assert_eq!(response.text().await?, "POST");
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) options: ClientOptions,
    pub(crate) pool: pool::Pool,
    tls: OnceLock<std::result::Result<ClientTls, crate::Error>>,
    /// URLs parsed before, by their text (bounded: see `exec::parse_url`).
    pub(crate) urls: parking_lot::Mutex<std::collections::HashMap<Box<str>, url::Url>>,
}

impl ClientInner {
    /// The TLS configuration, built on first use (loading roots costs).
    pub(crate) fn tls(&self) -> Result<ClientTls> {
        self.tls
            .get_or_init(|| {
                let alpn: Vec<Vec<u8>> = if self.options.http2 {
                    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
                } else {
                    vec![b"http/1.1".to_vec()]
                };
                let base = match &self.options.tls {
                    Some(tls) => tls.clone(),
                    None if self.options.insecure => ClientTls::insecure(),
                    None => ClientTls::default(),
                };
                let mut config = (**base.config()).clone();
                if config.alpn_protocols.is_empty() {
                    config.alpn_protocols = alpn;
                }
                Ok(ClientTls::from(config))
            })
            .clone()
    }
}

impl Client {
    /// A client with its own pool.
    ///
    /// Nothing is opened until the first request; the TLS configuration is
    /// built on the first `https` request.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = aleph::http::Client::new(aleph::http::ClientOptions::default());
    /// assert!(client.stats().hosts.is_empty());
    /// ```
    pub fn new(options: ClientOptions) -> Client {
        let limits = pool::Limits {
            per_host: options.connections_per_host.max(1),
            total: options.total_connections.max(1),
            max_queue: options.max_queue_size,
            idle_timeout: options.idle_timeout,
        };
        Client {
            inner: Arc::new(ClientInner {
                pool: pool::Pool::new(limits),
                options,
                tls: OnceLock::new(),
                urls: parking_lot::Mutex::new(std::collections::HashMap::new()),
            }),
        }
    }

    /// The options this client was made with.
    pub fn client_options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// A `GET` request to `url`, to finish building and [`send`](RequestBuilder::send).
    ///
    /// A malformed URL is reported when the request is sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f() -> aleph::Result<()> {
    /// let client = aleph::http::Client::default();
    /// let body = client.get("https://example.com/").send().await?.text().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` request to `url`.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A `PUT` request to `url`.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A `PATCH` request to `url`.
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A `DELETE` request to `url`.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A `HEAD` request to `url`.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// An `OPTIONS` request to `url`.
    pub fn options(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::OPTIONS, url)
    }

    /// A request of any method to `url`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f() -> aleph::Result<()> {
    /// use aleph::http::{Client, Method};
    ///
    /// let client = Client::default();
    /// let response = client.request(Method::from_bytes(b"PURGE").unwrap(), "http://cache.local/x")
    ///     .send()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::new(
            self.clone(),
            RequestOptions {
                method,
                url: url.into_url_string(),
                ..RequestOptions::default()
            },
        )
    }

    /// Sends a request given as plain data.
    ///
    /// The future is `'static`: it owns what it needs and may be spawned.
    /// Dropping it cancels the request at any stage and frees its slot.
    ///
    /// # Errors
    ///
    /// See the [module's errors](self#errors).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f() -> aleph::Result<()> {
    /// use aleph::http::{Client, Method, RequestOptions};
    ///
    /// let client = Client::default();
    /// let response = client
    ///     .send(RequestOptions {
    ///         method: Method::PUT,
    ///         url: "http://127.0.0.1:8080/echo".into(),
    ///         body: "hello".into(),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send(
        &self,
        request: RequestOptions,
    ) -> impl Future<Output = Result<ClientResponse>> + Send + 'static {
        exec::execute(self.inner.clone(), request)
    }

    /// The pool's statistics: per host, connections live, idle and in use,
    /// and requests queued.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = aleph::http::Client::default();
    /// assert_eq!(client.stats().total().live, 0);
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }
}

impl Default for Client {
    /// A client with [`ClientOptions::default`].
    fn default() -> Client {
        Client::new(ClientOptions::default())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.options)
            .field("stats", &self.stats())
            .finish()
    }
}

/// A client is a tower service of requests given as data, so that tower
/// layers wrap it: `ServiceBuilder::new().rate_limit(..).service(client)`.
/// It is always ready; its limits are the pool's.
impl tower_service::Service<RequestOptions> for Client {
    type Response = ClientResponse;
    type Error = crate::Error;
    type Future = Pin<Box<dyn Future<Output = Result<ClientResponse>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestOptions) -> Self::Future {
        exec::execute(self.inner.clone(), request)
    }
}

/// Something that names a URL: `&str`, `String`, `&String` or an
/// [`http::Uri`]. A malformed URL is reported when the
/// request is sent.
pub trait IntoUrl: sealed::Sealed {
    #[doc(hidden)]
    fn into_url_string(self) -> String;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
    impl Sealed for http::Uri {}
    impl Sealed for &http::Uri {}
}

impl IntoUrl for &str {
    fn into_url_string(self) -> String {
        self.to_owned()
    }
}

impl IntoUrl for String {
    fn into_url_string(self) -> String {
        self
    }
}

impl IntoUrl for &String {
    fn into_url_string(self) -> String {
        self.clone()
    }
}

impl IntoUrl for http::Uri {
    fn into_url_string(self) -> String {
        self.to_string()
    }
}

impl IntoUrl for &http::Uri {
    fn into_url_string(self) -> String {
        self.to_string()
    }
}

/// Where a request goes: the pool's key and what the connector dials.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The pool's key, `scheme://host:port`; the pool keeps one shared copy.
    pub(crate) key: String,
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// HTTP/2 by prior knowledge.
    pub(crate) h2c: bool,
}

fn default_client() -> &'static Client {
    static DEFAULT: OnceLock<Client> = OnceLock::new();
    DEFAULT.get_or_init(Client::default)
}

macro_rules! shortcut {
    ($(#[$doc:meta])* $name:ident, $method:ident) => {
        $(#[$doc])*
        ///
        /// Sent by a default [`Client`] made on first use (its options are
        /// [`ClientOptions::default`]). Dropping the future cancels the
        /// request.
        ///
        /// # Errors
        ///
        /// See the [client's errors](crate::http::client#errors).
        pub fn $name(url: impl IntoUrl) -> impl Future<Output = Result<ClientResponse>> + Send + 'static {
            default_client().send(RequestOptions {
                method: Method::$method,
                url: url.into_url_string(),
                ..RequestOptions::default()
            })
        }
    };
}

shortcut!(
    /// `GET url`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f() -> aleph::Result<()> {
    /// let page = aleph::http::get("https://example.com/").await?.text().await?;
    /// # Ok(())
    /// # }
    /// ```
    get,
    GET
);
shortcut!(
    /// `POST url` with no body (use [`Client::post`] to give one).
    post,
    POST
);
shortcut!(
    /// `PUT url` with no body (use [`Client::put`] to give one).
    put,
    PUT
);
shortcut!(
    /// `PATCH url` with no body (use [`Client::patch`] to give one).
    patch,
    PATCH
);
shortcut!(
    /// `DELETE url`.
    delete,
    DELETE
);
shortcut!(
    /// `HEAD url`.
    head,
    HEAD
);
shortcut!(
    /// `OPTIONS url`.
    options,
    OPTIONS
);

/// Sends a request given as data on the default client.
///
/// # Errors
///
/// See the [client's errors](crate::http::client#errors).
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> aleph::Result<()> {
/// use aleph::http::{self, Method, RequestOptions};
///
/// let response = http::request(RequestOptions {
///     method: Method::DELETE,
///     url: "http://127.0.0.1:8080/item/7".into(),
///     ..Default::default()
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
pub fn request(
    request: RequestOptions,
) -> impl Future<Output = Result<ClientResponse>> + Send + 'static {
    default_client().send(request)
}
