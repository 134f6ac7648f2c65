//! What a connection handler may return, and how it is run.

use std::future::Future;
use std::pin::Pin;

use futures_util::FutureExt;

use super::ConnectionInfo;
use crate::{Error, ErrorKind, Result};

/// A boxed outcome of a handler.
type Outcome = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// What a connection handler may return: nothing, a `Result<()>`, or a future
/// of either. An `Err` (or a panic) closes that connection only, and is logged
/// with the peer's address.
///
/// The trait is sealed: these four are all there is. Its parameter `M` only
/// keeps the four impls apart and is always inferred; the types that fill it
/// are hidden from the docs.
///
/// # Examples
///
/// A sync handler that wires the connection up and returns `()` at once, and
/// an async one that returns `Result<()>`:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::{self, ConnectOptions, Duplex};
/// use aleph::tcp::{self, ConnectionInfo, TcpClientOptions, TcpServerOptions};
///
/// // The connection lives on after this returns: the link holds it.
/// fn echo(conn: Duplex<Bytes, Bytes>, _info: ConnectionInfo) {
///     stream::connect(conn.clone(), conn, ConnectOptions::default());
/// }
///
/// // An `Err` here would close this connection and be logged.
/// async fn greet(conn: Duplex<Bytes, Bytes>, _info: ConnectionInfo) -> aleph::Result<()> {
///     conn.send(Bytes::from("hello\n")).await?;
///     conn.close();
///     Ok(())
/// }
///
/// let echo_server = tcp::start_server(echo, TcpServerOptions::default()).await?;
/// let greet_server = tcp::start_server(greet, TcpServerOptions::default()).await?;
///
/// let conn = tcp::client(TcpClientOptions::new("127.0.0.1", greet_server.port())).await?;
/// assert_eq!(bytes::to_bytes(conn).await?, "hello\n");
/// echo_server.close().await;
/// greet_server.close().await;
/// # Ok(())
/// # }
/// ```
pub trait HandlerOutput<M>: sealed::Sealed<M> + Send + 'static {
    /// The outcome as a future.
    #[doc(hidden)]
    fn into_outcome(self) -> Outcome;
}

mod sealed {
    /// Keeps [`HandlerOutput`](super::HandlerOutput) to the impls here.
    use super::markers::{AsyncFallible, AsyncUnit, Fallible, Unit};
    use std::future::Future;

    pub trait Sealed<M> {}
    impl Sealed<Unit> for () {}
    impl Sealed<Fallible> for crate::Result<()> {}
    impl<F: Future<Output = ()>> Sealed<AsyncUnit> for F {}
    impl<F: Future<Output = crate::Result<()>>> Sealed<AsyncFallible> for F {}
}

/// The markers that keep [`HandlerOutput`]'s impls apart. Public only because
/// a public trait's impls name them; never written by users.
#[doc(hidden)]
pub mod markers {
    /// A handler that returns `()`.
    #[derive(Debug)]
    pub enum Unit {}
    /// A handler that returns `Result<()>`.
    #[derive(Debug)]
    pub enum Fallible {}
    /// An async handler whose future yields `()`.
    #[derive(Debug)]
    pub enum AsyncUnit {}
    /// An async handler whose future yields `Result<()>`.
    #[derive(Debug)]
    pub enum AsyncFallible {}
}

use markers::{AsyncFallible, AsyncUnit, Fallible, Unit};

impl HandlerOutput<Unit> for () {
    fn into_outcome(self) -> Outcome {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl HandlerOutput<Fallible> for Result<()> {
    fn into_outcome(self) -> Outcome {
        Box::pin(std::future::ready(self))
    }
}

impl<F> HandlerOutput<AsyncUnit> for F
where
    F: Future<Output = ()> + Send + 'static,
{
    fn into_outcome(self) -> Outcome {
        Box::pin(self.map(Ok))
    }
}

impl<F> HandlerOutput<AsyncFallible> for F
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    fn into_outcome(self) -> Outcome {
        Box::pin(self)
    }
}

/// Calls the handler, turning a panic in it (or in its future) into an error.
pub(crate) fn run_handler<F, S, R, M>(handler: &F, conn: S, info: ConnectionInfo) -> Outcome
where
    F: Fn(S, ConnectionInfo) -> R,
    R: HandlerOutput<M>,
{
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(conn, info)));
    match called {
        Ok(output) => Box::pin(
            std::panic::AssertUnwindSafe(output.into_outcome())
                .catch_unwind()
                .map(|outcome| match outcome {
                    Ok(result) => result,
                    Err(panic) => Err(panicked(&*panic)),
                }),
        ),
        Err(panic) => Box::pin(std::future::ready(Err(panicked(&*panic)))),
    }
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> Error {
    Error::new(
        ErrorKind::Panic,
        format!(
            "connection handler panicked: {}",
            crate::panic::message(payload)
        ),
    )
}
