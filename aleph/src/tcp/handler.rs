//! What a connection handler may return, and how it is run.

use std::future::Future;
use std::pin::Pin;

use futures_util::FutureExt;

use super::ConnectionInfo;
use crate::{Error, ErrorKind, Result};

/// What a connection handler may return: nothing, a `Result<()>`, or a future
/// of either. An `Err` (or a panic) closes that connection only, and is logged
/// with the peer's address.
///
/// The marker `M` only keeps the impls apart; it is inferred.
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
pub trait HandlerOutput<M>: Send + 'static {
    /// The outcome as a future.
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;
}

/// Marks [`HandlerOutput`] for handlers that return `()`.
#[derive(Debug)]
pub enum Unit {}
/// Marks [`HandlerOutput`] for handlers that return `Result<()>`.
#[derive(Debug)]
pub enum Fallible {}
/// Marks [`HandlerOutput`] for async handlers whose future yields `()`.
#[derive(Debug)]
pub enum AsyncUnit {}
/// Marks [`HandlerOutput`] for async handlers whose future yields `Result<()>`.
#[derive(Debug)]
pub enum AsyncFallible {}

impl HandlerOutput<Unit> for () {
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl HandlerOutput<Fallible> for Result<()> {
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(std::future::ready(self))
    }
}

impl<F> HandlerOutput<AsyncUnit> for F
where
    F: Future<Output = ()> + Send + 'static,
{
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self.map(Ok))
    }
}

impl<F> HandlerOutput<AsyncFallible> for F
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    fn into_outcome(self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(self)
    }
}

/// Calls the handler, turning a panic in it (or in its future) into an error.
pub(super) fn run_handler<F, S, R, M>(
    handler: &F,
    conn: S,
    info: ConnectionInfo,
) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>
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
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    Error::new(
        ErrorKind::Panic,
        format!("connection handler panicked: {message}"),
    )
}
