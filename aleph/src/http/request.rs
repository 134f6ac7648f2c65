//! [`Request`]: `http::Request<Body>` with Ring's accessors.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use http::header::{AsHeaderName, GetAll};
use http::uri::Scheme;
use http::{HeaderValue, Method};
use rustls_pki_types::CertificateDer;

use super::incoming::Exchange;
use super::params::Params;
use super::Body;
use crate::net::ConnectionInfo;
use crate::tls::TlsInfo;
use crate::Result;

/// What the server knows of a request beyond its message: the connection it
/// came on and the request's own state. It rides in the request's
/// extensions when a tower service or raw mode gets the request.
#[derive(Clone, Debug)]
pub(crate) struct RequestContext {
    pub(crate) connection: Arc<ConnectionInfo>,
    pub(crate) exchange: Arc<Exchange>,
}

/// An HTTP request as a handler gets it: an [`http::Request<Body>`] (it
/// dereferences to one, so `method()`, `uri()`, `headers()`, `version()` and
/// the rest are there) plus Ring's accessors: [`remote_addr`](Self::remote_addr),
/// [`server_port`](Self::server_port), [`server_name`](Self::server_name),
/// [`scheme`](Self::scheme), [`request_method`](Self::request_method),
/// [`query_string`](Self::query_string), [`header_values`](Self::header_values),
/// the TLS session ([`tls`](Self::tls)), parameter and cookie helpers, and
/// [`client_gone`](Self::client_gone).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::http::{self, Request, ServerOptions};
///
/// let server = http::start_server(
///     |req: Request| format!("{} {} from {:?}", req.request_method(), req.uri(), req.query_string()),
///     ServerOptions::default(),
/// )
/// .await?;
/// # let answer = aleph_test_get(server.port(), "/where?x=1").await;
/// # assert_eq!(answer, "GET /where?x=1 from Some(\"x=1\")");
/// server.close().await;
/// # Ok(())
/// # }
/// # async fn aleph_test_get(port: u16, path: &str) -> String {
/// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// #     let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
/// #     s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
/// #     let mut out = String::new();
/// #     s.read_to_string(&mut out).await.unwrap();
/// #     out.split("\r\n\r\n").nth(1).unwrap().to_owned()
/// # }
/// ```
#[derive(Debug)]
pub struct Request {
    inner: http::Request<Body>,
    context: Option<RequestContext>,
}

impl Request {
    pub(crate) fn with_context(inner: http::Request<Body>, context: RequestContext) -> Request {
        Request {
            inner,
            context: Some(context),
        }
    }

    /// The `http::Request` inside, with what the server knows of the
    /// connection in its extensions (so that a later [`Request::from`] finds it).
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// let inner: http::Request<aleph::http::Body> = req.into_inner();
    /// assert_eq!(inner.method(), http::Method::GET);
    /// ```
    pub fn into_inner(self) -> http::Request<Body> {
        let mut inner = self.inner;
        if let Some(context) = self.context {
            inner.extensions_mut().insert(context.connection.clone());
            inner.extensions_mut().insert(context);
        }
        inner
    }

    /// The body, consuming the request.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::from("hi")));
    /// assert_eq!(aleph::bytes::to_string(req.into_body()).await?, "hi");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_body(self) -> Body {
        self.inner.into_body()
    }

    /// What the server knows of the connection the request came on; empty
    /// for a request that did not come from a server.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert!(req.connection_info().remote_addr.is_none());
    /// ```
    pub fn connection_info(&self) -> &ConnectionInfo {
        static NONE: std::sync::OnceLock<ConnectionInfo> = std::sync::OnceLock::new();
        match &self.context {
            Some(context) => &context.connection,
            None => NONE.get_or_init(ConnectionInfo::default),
        }
    }

    /// The client's address (Ring's `:remote-addr`); `None` over a Unix
    /// socket. A proxy's `X-Forwarded-For` is not consulted.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert_eq!(req.remote_addr(), None);
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.connection_info().remote_addr
    }

    /// The port the request came in on (Ring's `:server-port`); 0 over a
    /// Unix socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert_eq!(req.server_port(), 0);
    /// ```
    pub fn server_port(&self) -> u16 {
        self.connection_info()
            .local_addr
            .map_or(0, |addr| addr.port())
    }

    /// The server's name as the client addressed it (Ring's
    /// `:server-name`): the host of the `Host` header (or of HTTP/2's
    /// `:authority`), else the TLS SNI name, else the address the request
    /// came in on.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = http::Request::builder()
    ///     .header("host", "example.com:8080")
    ///     .body(aleph::http::Body::empty())
    ///     .unwrap();
    /// assert_eq!(aleph::http::Request::from(req).server_name(), "example.com");
    /// ```
    pub fn server_name(&self) -> Cow<'_, str> {
        if let Some(host) = self.inner.uri().host() {
            return Cow::Borrowed(host);
        }
        if let Some(host) = self
            .inner
            .headers()
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
        {
            // "[::1]:8080" and "example.com:8080": the port is after the
            // last colon outside brackets.
            let name = match host.rfind(':') {
                Some(at) if !host[at..].contains(']') => &host[..at],
                _ => host,
            };
            return Cow::Borrowed(name.trim_start_matches('[').trim_end_matches(']'));
        }
        let info = self.connection_info();
        if let Some(name) = info.tls.as_ref().and_then(|tls| tls.server_name.as_deref()) {
            return Cow::Borrowed(name);
        }
        match info.local_addr {
            Some(addr) => Cow::Owned(addr.ip().to_string()),
            None => Cow::Borrowed("localhost"),
        }
    }

    /// `http` or `https` (Ring's `:scheme`): whether the connection is TLS.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert_eq!(req.scheme(), http::uri::Scheme::HTTP);
    /// ```
    pub fn scheme(&self) -> Scheme {
        if self.is_tls() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        }
    }

    /// The request method (Ring's `:request-method`), as `method()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert_eq!(req.request_method(), http::Method::GET);
    /// ```
    pub fn request_method(&self) -> &Method {
        self.inner.method()
    }

    /// The query string, without its `?` (Ring's `:query-string`); `None`
    /// when the target has none.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = http::Request::get("/search?q=aleph&q=ring").body(aleph::http::Body::empty()).unwrap();
    /// assert_eq!(aleph::http::Request::from(req).query_string(), Some("q=aleph&q=ring"));
    /// ```
    pub fn query_string(&self) -> Option<&str> {
        self.inner.uri().query()
    }

    /// Every value of a header, in the order the client sent them.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = http::Request::builder()
    ///     .header("accept", "text/html")
    ///     .header("accept", "text/plain")
    ///     .body(aleph::http::Body::empty())
    ///     .unwrap();
    /// let req = aleph::http::Request::from(req);
    /// let values: Vec<_> = req.header_values("accept").iter().collect();
    /// assert_eq!(values, ["text/html", "text/plain"]);
    /// ```
    pub fn header_values<K: AsHeaderName>(&self, name: K) -> GetAll<'_, HeaderValue> {
        self.inner.headers().get_all(name)
    }

    /// Whether the request came over TLS.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert!(!req.is_tls());
    /// ```
    pub fn is_tls(&self) -> bool {
        self.connection_info().tls.is_some()
    }

    /// The TLS session the request came over: version, ALPN, SNI name and,
    /// under mutual TLS, the client's certificates.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert!(req.tls().is_none());
    /// ```
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.connection_info().tls.as_ref()
    }

    /// The client's certificate chain under mutual TLS, leaf first; empty
    /// otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert!(req.peer_certificates().is_empty());
    /// ```
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        self.tls()
            .map_or(&[], |tls| tls.peer_certificates.as_slice())
    }

    /// The query string's parameters, decoded (Ring's `wrap-params` on the
    /// query): every pair in order, repeated keys kept.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = http::Request::get("/?tag=a&tag=b&q=x%20y").body(aleph::http::Body::empty()).unwrap();
    /// let params = aleph::http::Request::from(req).query_params();
    /// assert_eq!(params.get("q"), Some("x y"));
    /// assert_eq!(params.get_all("tag"), ["a", "b"]);
    /// ```
    pub fn query_params(&self) -> Params {
        Params::parse_urlencoded(self.query_string().unwrap_or("").as_bytes())
    }

    /// Reads the body as an urlencoded form (Ring's `wrap-params` on the
    /// body) when the request says it is one (`Content-Type:
    /// application/x-www-form-urlencoded`); other bodies give no parameters
    /// and are left unread. The body is taken from the request either way
    /// only when it is read.
    ///
    /// # Errors
    ///
    /// As reading the body: the client went away, the body broke the server's
    /// size limit or timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// let req = http::Request::post("/")
    ///     .header("content-type", "application/x-www-form-urlencoded")
    ///     .body(aleph::http::Body::from("a=1&a=2&b=%C3%A9"))
    ///     .unwrap();
    /// let form = aleph::http::Request::from(req).form_params().await?;
    /// assert_eq!(form.get_all("a"), ["1", "2"]);
    /// assert_eq!(form.get("b"), Some("é"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn form_params(&mut self) -> Result<Params> {
        let is_form = self
            .inner
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Ok(Params::default());
        }
        let body = std::mem::take(self.inner.body_mut());
        let bytes = crate::bytes::to_bytes(body).await?;
        Ok(Params::parse_urlencoded(&bytes))
    }

    /// The cookies of the `Cookie` headers, in order (RFC 6265 §5.4: `name=value`
    /// pairs separated by `; `); a value in double quotes loses them.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = http::Request::builder()
    ///     .header("cookie", "session=abc; theme=\"dark\"")
    ///     .body(aleph::http::Body::empty())
    ///     .unwrap();
    /// let cookies = aleph::http::Request::from(req).cookies();
    /// assert_eq!(cookies.get("session"), Some("abc"));
    /// assert_eq!(cookies.get("theme"), Some("dark"));
    /// ```
    pub fn cookies(&self) -> Params {
        Params::parse_cookies(
            self.inner
                .headers()
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok()),
        )
    }

    /// Completes once the client can no longer get this request's response:
    /// it closed the connection or reset the HTTP/2 stream before the
    /// response was sent in full. A streamed response body's channel is
    /// closed at the same moment. Never completes for a request that did not
    /// come from a server.
    ///
    /// On HTTP/1 the server notices the client leaving even while the
    /// handler holds the request body unread: it reads up to 16 KiB of the
    /// body ahead (kept, in order, for when the handler reads it) to see the
    /// connection's end. A client that leaves after sending more than that of
    /// a body no one reads is noticed when the handler reads or drops the
    /// body, or answers.
    ///
    /// The future owns what it needs (it is `Send + 'static`): when the
    /// client goes away, hyper drops the handler's own future, as it does
    /// for any service, so the place to await this is work the handler hands
    /// off: a task it spawns, the producer of a deferred or a stream body.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes.
    ///
    /// # Examples
    ///
    /// A handler whose answer is computed by a task that stops early when
    /// nobody waits for it any more:
    ///
    /// ```
    /// use std::time::Duration;
    /// use aleph::deferred::Deferred;
    /// use aleph::http::Request;
    ///
    /// fn slow(req: Request) -> Deferred<&'static str> {
    ///     let answer = Deferred::new();
    ///     let producer = answer.clone();
    ///     let gone = req.client_gone();
    ///     tokio::spawn(async move {
    ///         tokio::select! {
    ///             () = tokio::time::sleep(Duration::from_secs(10)) => producer.success("done"),
    ///             () = gone => false, // the client left: stop working
    ///         }
    ///     });
    ///     answer
    /// }
    /// # let _ = slow;
    /// ```
    pub fn client_gone(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let exchange = self
            .context
            .as_ref()
            .map(|context| context.exchange.clone());
        async move {
            match exchange {
                Some(exchange) => exchange.gone().await,
                None => std::future::pending().await,
            }
        }
    }

    /// Whether [`client_gone`](Self::client_gone) has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = aleph::http::Request::from(http::Request::new(aleph::http::Body::empty()));
    /// assert!(!req.is_client_gone());
    /// ```
    pub fn is_client_gone(&self) -> bool {
        self.context
            .as_ref()
            .is_some_and(|context| context.exchange.is_gone())
    }
}

/// Wraps an `http::Request`; what a server put in its extensions (the
/// connection, the client-gone signal) is found again.
impl From<http::Request<Body>> for Request {
    fn from(mut inner: http::Request<Body>) -> Request {
        let context = inner.extensions_mut().remove::<RequestContext>();
        Request { inner, context }
    }
}

impl From<Request> for http::Request<Body> {
    fn from(req: Request) -> http::Request<Body> {
        req.into_inner()
    }
}

impl Deref for Request {
    type Target = http::Request<Body>;

    fn deref(&self) -> &http::Request<Body> {
        &self.inner
    }
}

impl DerefMut for Request {
    fn deref_mut(&mut self) -> &mut http::Request<Body> {
        &mut self.inner
    }
}
