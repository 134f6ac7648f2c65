//! What an HTTP server can serve: functions of a [`Request`] and tower services.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::response::failure;
use super::{Body, IntoResponse, Request, Response};
use crate::Error;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the server awaits for a response: ready at once from a plain
/// function (no allocation), or a boxed future.
pub(crate) enum ResponseFuture {
    Ready(Option<Response>),
    Boxed(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl Future for ResponseFuture {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Response> {
        match self.get_mut() {
            ResponseFuture::Ready(res) => std::task::Poll::Ready(
                res.take()
                    .expect("a ready response future is not polled after it completed"),
            ),
            ResponseFuture::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

/// A handler with its kind erased: what the server calls for each request.
pub(crate) type BoxHandler = Arc<dyn Fn(Request) -> ResponseFuture + Send + Sync>;

/// What [`start_server`](super::start_server) can serve:
///
/// - a plain `fn(Request) -> impl IntoResponse` (or closure), run on the
///   connection's task: it must not block;
/// - an `async fn(Request) -> impl IntoResponse`, or a closure returning a
///   future; an [`aleph::Deferred<T>`](crate::deferred::Deferred) is such a
///   future (for `T: Clone`), so a handler may return a deferred that another
///   task completes later;
/// - any [`tower::Service`](tower_service::Service)`<http::Request<Body>>`
///   whose response is an `http::Response` of any [`http_body::Body`]: an
///   axum `Router`, a tower-http stack. It is cloned for each request (as
///   hyper and axum do), so it must be `Clone`; its readiness is awaited
///   before each call. The request's extensions carry the connection's
///   [`ConnectionInfo`](crate::net::ConnectionInfo) (as an
///   `Arc<ConnectionInfo>`), and [`Request::from`] recovers the Ring
///   accessors and [`client_gone`](Request::client_gone).
///
/// The trait is sealed: these are all there is. Its parameter `M` only keeps
/// the impls apart and is always inferred.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::deferred::Deferred;
/// use aleph::http::{self, Request, ServerOptions};
///
/// fn plain(_req: Request) -> &'static str {
///     "hello!"
/// }
///
/// async fn asynchronous(req: Request) -> String {
///     format!("you asked for {}", req.uri())
/// }
///
/// fn deferred(_req: Request) -> Deferred<String> {
///     let answer = Deferred::new();
///     let later = answer.clone();
///     tokio::spawn(async move { later.success("done elsewhere".to_owned()) });
///     answer
/// }
///
/// let servers = [
///     http::start_server(plain, ServerOptions::default()).await?,
///     http::start_server(asynchronous, ServerOptions::default()).await?,
///     http::start_server(deferred, ServerOptions::default()).await?,
/// ];
/// for server in servers {
///     server.close().await;
/// }
/// # Ok(())
/// # }
/// ```
pub trait Handler<M>: sealed::Sealed<M> + Send + Sync + 'static {
    /// The handler with its kind erased.
    #[doc(hidden)]
    fn into_box_handler(self) -> markers::Erased;
}

/// The markers that keep [`Handler`]'s impls apart. Public only because a
/// public trait's impls name them; never written by users.
#[doc(hidden)]
pub mod markers {
    /// A plain function of a request.
    #[derive(Debug)]
    pub enum Plain {}
    /// A function of a request that returns a future.
    #[derive(Debug)]
    pub enum Async {}
    /// A tower service.
    #[derive(Debug)]
    pub enum Tower {}

    /// A handler with its kind erased, as the server calls it.
    pub struct Erased(pub(crate) super::BoxHandler);

    impl std::fmt::Debug for Erased {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Erased")
        }
    }
}

use markers::{Async, Plain, Tower};

mod sealed {
    use super::markers::{Async, Plain, Tower};
    use super::{BoxError, Request};
    use crate::http::{Body, IntoResponse};
    use std::future::Future;

    pub trait Sealed<M> {}
    impl<F, R> Sealed<Plain> for F
    where
        F: Fn(Request) -> R,
        R: IntoResponse,
    {
    }
    impl<F, Fut> Sealed<Async> for F
    where
        F: Fn(Request) -> Fut,
        Fut: Future,
        Fut::Output: IntoResponse,
    {
    }
    impl<S, B> Sealed<Tower> for S
    where
        S: tower_service::Service<http::Request<Body>, Response = http::Response<B>>,
        S::Error: Into<BoxError>,
    {
    }
}

impl<F, R> Handler<Plain> for F
where
    F: Fn(Request) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    fn into_box_handler(self) -> markers::Erased {
        markers::Erased(Arc::new(move |req| {
            ResponseFuture::Ready(Some(self(req).into_response()))
        }))
    }
}

impl<F, Fut> Handler<Async> for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse,
{
    fn into_box_handler(self) -> markers::Erased {
        markers::Erased(Arc::new(move |req| {
            let future = self(req);
            ResponseFuture::Boxed(Box::pin(async move { future.await.into_response() }))
        }))
    }
}

impl<S, B> Handler<Tower> for S
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn into_box_handler(self) -> markers::Erased {
        markers::Erased(Arc::new(move |req: Request| {
            let mut service = self.clone();
            ResponseFuture::Boxed(Box::pin(async move {
                let ready = std::future::poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .map_err(Error::other);
                if let Err(error) = ready {
                    return failure(error);
                }
                match service.call(req.into_inner()).await {
                    Ok(res) => res.map(Body::new),
                    Err(error) => failure(Error::other(error)),
                }
            }))
        }))
    }
}
