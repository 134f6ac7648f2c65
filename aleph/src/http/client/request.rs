//! A request as plain data ([`RequestOptions`]) and the builder that fills
//! it ([`RequestBuilder`]).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Version};

use super::{Client, ClientResponse};
use crate::http::Body;
use crate::{Error, ErrorKind, Result};

/// A request as plain data, for callers who prefer data to builders (as
/// clj-http's users do); [`Client::send`] sends it.
///
/// Every `Option` left `None` takes the client's setting.
///
/// # Examples
///
/// ```
/// use aleph::http::{Method, RequestOptions};
///
/// let request = RequestOptions {
///     method: Method::POST,
///     url: "http://127.0.0.1:8080/echo".into(),
///     query: vec![("tag".into(), "a".into()), ("tag".into(), "b".into())],
///     body: "hello".into(),
///     ..Default::default()
/// };
/// assert_eq!(request.query.len(), 2);
/// ```
#[derive(Default)]
pub struct RequestOptions {
    /// The method. Default: `GET`.
    pub method: Method,
    /// The URL, absolute (`http`, `https`); user-info in it becomes basic
    /// auth, an international host name is sent in its ASCII form.
    pub url: String,
    /// Query parameters added to the URL's own, in order; a key may repeat.
    pub query: Vec<(String, String)>,
    /// Headers; they override the client's defaults (`User-Agent`, ...).
    pub headers: HeaderMap,
    /// The body, streamed as it is produced, with backpressure.
    pub body: Body,
    /// `Some(Version::HTTP_2)` on an `http` URL speaks h2c with prior
    /// knowledge; on `https` the version is negotiated by ALPN.
    pub version: Option<Version>,
    /// The longest the whole request may take, body included.
    pub timeout: Option<Duration>,
    /// Whether a status of 400 or more is an error.
    pub throw_exceptions: Option<bool>,
    /// Whether redirects are followed.
    pub follow_redirects: Option<bool>,
    /// How many redirects are followed at most.
    pub max_redirects: Option<usize>,
    /// Attach the request as sent to the response ([`ClientResponse::request`]).
    pub save_request: bool,
    /// Retries after a failure the server may have seen (a connect error,
    /// a timeout, a reset), each after `retry_backoff` doubled from the
    /// last; only for bodies that can be sent again (in memory). Requests
    /// the server never saw are replayed without asking. Default: 0.
    pub retries: u32,
    /// The wait before the first retry, doubled for each next one.
    /// Default (zero): 100 ms.
    pub retry_backoff: Duration,
    /// A file sent as the body, streamed, with its length; it is opened
    /// anew for each sending, so a redirect (307 / 308) or a retry sends it
    /// again. Takes the place of `body`.
    pub file: Option<std::path::PathBuf>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .field("throw_exceptions", &self.throw_exceptions)
            .field("follow_redirects", &self.follow_redirects)
            .field("max_redirects", &self.max_redirects)
            .field("save_request", &self.save_request)
            .field("retries", &self.retries)
            .field("file", &self.file)
            .finish()
    }
}

/// Builds a request step by step (reqwest's shape); every method takes and
/// returns the builder, and [`send`](RequestBuilder::send) sends it.
///
/// A bad header name or value is kept as an error and reported by `send`
/// (or [`build`](RequestBuilder::build)), so a chain never breaks.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> aleph::Result<()> {
/// use std::time::Duration;
/// let client = aleph::http::Client::default();
/// let response = client
///     .post("http://127.0.0.1:8080/echo")
///     .query(&[("page", "2")])
///     .header("x-request-id", "42")
///     .bearer_auth("secret-token")
///     .form(&[("name", "aleph"), ("lang", "rust")])
///     .timeout(Duration::from_secs(5))
///     .send()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a request builder does nothing until sent"]
pub struct RequestBuilder {
    client: Client,
    options: RequestOptions,
    error: Option<Error>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, options: RequestOptions) -> RequestBuilder {
        RequestBuilder {
            client,
            options,
            error: None,
        }
    }

    fn fail(mut self, error: Error) -> RequestBuilder {
        self.error.get_or_insert(error);
        self
    }

    /// Adds query parameters, in order; a key given twice is sent twice.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = aleph::http::Client::default();
    /// let request = client
    ///     .get("http://h/search")
    ///     .query(&[("tag", "a"), ("tag", "b")])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(request.query.len(), 2);
    /// ```
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, params: &[(K, V)]) -> RequestBuilder {
        self.options.query.extend(
            params
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
        );
        self
    }

    /// Adds a header (a second value for a name already set is added, not
    /// replaced).
    pub fn header<K, V>(mut self, name: K, value: V) -> RequestBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        let name = match name.try_into() {
            Ok(name) => name,
            Err(e) => return self.fail(invalid("invalid header name", e.into())),
        };
        match value.try_into() {
            Ok(value) => {
                self.options.headers.append(name, value);
                self
            }
            Err(e) => self.fail(invalid(
                &format!("invalid value for header {name}"),
                e.into(),
            )),
        }
    }

    /// Adds every header of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> RequestBuilder {
        let mut last = None;
        for (name, value) in headers {
            if let Some(name) = name {
                last = Some(name);
            }
            if let Some(name) = &last {
                self.options.headers.append(name.clone(), value);
            }
        }
        self
    }

    /// Sets the body: anything a [`Body`] is made from (`&str`, `String`,
    /// `Bytes`, `Vec<u8>`, a channel or stream of chunks, an `AsyncRead`
    /// through [`Body::from_reader`], a file through `Body::from_reader`).
    pub fn body(mut self, body: impl Into<Body>) -> RequestBuilder {
        self.options.body = body.into();
        self.options.file = None;
        self
    }

    /// Sends the file at `path` as the body: streamed, its length sent, and
    /// opened anew for a redirect or a retry (a body that can be replayed,
    /// unlike a stream). An unreadable file or a directory fails the
    /// request; a FIFO or a device has no length and is sent chunked.
    pub fn file(mut self, path: impl Into<std::path::PathBuf>) -> RequestBuilder {
        self.options.file = Some(path.into());
        self
    }

    /// Sets a form body (`application/x-www-form-urlencoded`), and that
    /// content type unless one is set.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, params: &[(K, V)]) -> RequestBuilder {
        let mut encoder = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            encoder.append_pair(k.as_ref(), v.as_ref());
        }
        self.options.body = Body::from(encoder.finish());
        self.default_header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )
    }

    /// Sets a JSON body, and `Content-Type: application/json` unless one is
    /// set.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> RequestBuilder {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.options.body = Body::from(bytes);
                self.default_header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
            }
            Err(e) => self.fail(Error::with_source(
                ErrorKind::InvalidInput,
                "cannot encode the JSON body",
                e,
            )),
        }
    }

    fn default_header(mut self, name: HeaderName, value: HeaderValue) -> RequestBuilder {
        if !self.options.headers.contains_key(&name) {
            self.options.headers.insert(name, value);
        }
        self
    }

    /// Sets `Authorization: Basic` from a user name and an optional password.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = aleph::http::Client::default();
    /// let request = client.get("http://h/").basic_auth("aladdin", Some("opensesame")).build().unwrap();
    /// assert_eq!(request.headers["authorization"], "Basic YWxhZGRpbjpvcGVuc2VzYW1l");
    /// ```
    pub fn basic_auth(
        mut self,
        user: impl fmt::Display,
        password: Option<impl fmt::Display>,
    ) -> RequestBuilder {
        let value = basic_auth_value(
            &user.to_string(),
            password.map(|p| p.to_string()).as_deref(),
        );
        match value {
            Ok(value) => {
                self.options.headers.insert(header::AUTHORIZATION, value);
                self
            }
            Err(e) => self.fail(e),
        }
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: impl fmt::Display) -> RequestBuilder {
        match HeaderValue::try_from(format!("Bearer {token}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                let mut this = self;
                this.options.headers.insert(header::AUTHORIZATION, value);
                this
            }
            Err(e) => self.fail(invalid("invalid bearer token", e.into())),
        }
    }

    /// Sets the `Accept` header.
    pub fn accept<V>(self, value: V) -> RequestBuilder
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.replace_header(header::ACCEPT, value)
    }

    /// Sets the `Content-Type` header.
    pub fn content_type<V>(self, value: V) -> RequestBuilder
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.replace_header(header::CONTENT_TYPE, value)
    }

    fn replace_header<V>(mut self, name: HeaderName, value: V) -> RequestBuilder
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        match value.try_into() {
            Ok(value) => {
                self.options.headers.insert(name, value);
                self
            }
            Err(e) => self.fail(invalid(
                &format!("invalid value for header {name}"),
                e.into(),
            )),
        }
    }

    /// The longest the whole request may take, redirects and body included.
    pub fn timeout(mut self, timeout: Duration) -> RequestBuilder {
        self.options.timeout = Some(timeout);
        self
    }

    /// `Version::HTTP_2` on an `http` URL speaks h2c with prior knowledge.
    pub fn version(mut self, version: Version) -> RequestBuilder {
        self.options.version = Some(version);
        self
    }

    /// Whether a status of 400 or more is an error (default: the client's).
    pub fn throw_exceptions(mut self, on: bool) -> RequestBuilder {
        self.options.throw_exceptions = Some(on);
        self
    }

    /// Whether redirects are followed (default: the client's).
    pub fn follow_redirects(mut self, on: bool) -> RequestBuilder {
        self.options.follow_redirects = Some(on);
        self
    }

    /// How many redirects are followed at most (default: the client's).
    pub fn max_redirects(mut self, max: usize) -> RequestBuilder {
        self.options.max_redirects = Some(max);
        self
    }

    /// Attach the request as sent to the response.
    pub fn save_request(mut self, on: bool) -> RequestBuilder {
        self.options.save_request = on;
        self
    }

    /// Retries up to `times` after a failure, waiting `backoff`, then twice
    /// as long each time; only a body in memory is sent again (a streamed
    /// body is never retried). A method that is not idempotent (POST,
    /// PATCH) is retried only after a failure before the request went out
    /// (connect, DNS, connect or pool-wait timeout), never once the server
    /// may have seen it.
    pub fn retry(mut self, times: u32, backoff: Duration) -> RequestBuilder {
        self.options.retries = times;
        self.options.retry_backoff = backoff;
        self
    }

    /// The request as data, or the first error met while building it.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](ErrorKind::InvalidInput) for a bad header name or
    /// value, or a JSON body that cannot be encoded.
    pub fn build(self) -> Result<RequestOptions> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.options),
        }
    }

    /// Sends the request.
    ///
    /// Dropping the future cancels the request at any stage and frees its
    /// slot in the pool.
    ///
    /// # Errors
    ///
    /// See the [client's errors](crate::http::client#errors).
    pub fn send(self) -> impl Future<Output = Result<ClientResponse>> + Send + 'static {
        use futures_util::future::{ready, Either};
        let client = self.client.clone();
        match self.build() {
            Ok(request) => Either::Left(super::exec::execute(client.inner, request)),
            Err(error) => Either::Right(ready(Err(error))),
        }
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("options", &self.options)
            .field("error", &self.error)
            .finish()
    }
}

fn invalid(what: &str, error: http::Error) -> Error {
    Error::with_source(ErrorKind::InvalidInput, what.to_owned(), error)
}

/// `Basic base64(user:password)`, marked sensitive (kept out of logs).
pub(crate) fn basic_auth_value(user: &str, password: Option<&str>) -> Result<HeaderValue> {
    let pair = match password {
        Some(password) => format!("{user}:{password}"),
        None => format!("{user}:"),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
        .map_err(|e| invalid("invalid basic auth", e.into()))?;
    value.set_sensitive(true);
    Ok(value)
}
