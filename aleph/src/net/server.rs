//! [`Server`]: the handle of a running server, shared by every protocol.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::deferred::Deferred;

/// A running server: where it listens, and how to stop it.
///
/// Returned by `tcp::start_server` (and, later, the HTTP server). Cloning is
/// cheap; every clone controls the same server. Dropping the handles does not
/// stop the server: call [`close`](Server::close).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::stream::{self, ConnectOptions};
/// use aleph::tcp::{self, TcpServerOptions};
///
/// let server = tcp::start_server(
///     |conn, _info| {
///         stream::connect(conn.clone(), conn, ConnectOptions::default());
///     },
///     TcpServerOptions { port: 0, ..Default::default() },
/// )
/// .await?;
/// assert_ne!(server.port(), 0);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    local_addr: Option<SocketAddr>,
    unix_path: Option<PathBuf>,
    shutdown_timeout: Duration,
    /// Cancelled by `close`: the accept loop stops and drops its listener.
    stop: Signal,
    accepting: Mutex<Option<tokio::task::JoinHandle<()>>>,
    connections: Connections,
    closing: AtomicBool,
    closed: Deferred<()>,
}

/// Where a server listens and how long it grants connections at shutdown.
pub(crate) struct ServerParts {
    pub(crate) local_addr: Option<SocketAddr>,
    pub(crate) unix_path: Option<PathBuf>,
    pub(crate) shutdown_timeout: Duration,
}

impl Server {
    /// Starts the accept loop made by `accept` on the current runtime. The
    /// loop must return soon after the token is cancelled, dropping its listener.
    pub(crate) fn start<F, Fut>(parts: ServerParts, accept: F) -> Server
    where
        F: FnOnce(Signal, Connections) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = Signal::new();
        let connections = Connections {
            tracker: TaskTracker::new(),
            cut: Signal::new(),
        };
        let task = tokio::spawn(accept(stop.clone(), connections.clone()));
        Server {
            inner: Arc::new(Inner {
                local_addr: parts.local_addr,
                unix_path: parts.unix_path,
                shutdown_timeout: parts.shutdown_timeout,
                stop,
                accepting: Mutex::new(Some(task)),
                connections,
                closing: AtomicBool::new(false),
                closed: Deferred::new(),
            }),
        }
    }

    /// The address the server listens on; `None` for a Unix socket server.
    ///
    /// With `port: 0` in the options, this is where to find the port chosen.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use aleph::tcp::{self, TcpServerOptions};
    ///
    /// let server = tcp::start_server(|_conn, _info| {}, TcpServerOptions::default()).await?;
    /// let addr = server.local_addr().expect("a TCP server has an address");
    /// assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    /// assert_eq!(addr.port(), server.port());
    /// server.close().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr
    }

    /// The port the server listens on; 0 for a Unix socket server.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
    ///
    /// let options = TcpServerOptions { port: 0, ..Default::default() }; // any free port
    /// let server = tcp::start_server(|_conn, _info| {}, options).await?;
    /// assert_ne!(server.port(), 0);
    /// let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
    /// drop(conn);
    /// server.close().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn port(&self) -> u16 {
        self.inner.local_addr.map_or(0, |addr| addr.port())
    }

    /// The path of the Unix socket the server listens on, if it does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
    ///
    /// let name = format!("aleph-unix-path-doc-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_file(&path); // left over from a killed run
    /// let options = TcpServerOptions { unix: Some(path.clone()), ..Default::default() };
    /// let server = tcp::start_server(|_conn, _info| {}, options).await?;
    /// assert_eq!(server.unix_path(), Some(path.as_path()));
    /// assert_eq!((server.local_addr(), server.port()), (None, 0));
    ///
    /// let client_options = TcpClientOptions { unix: Some(path.clone()), ..Default::default() };
    /// let conn = tcp::client(client_options).await?;
    /// drop(conn);
    /// server.close().await;
    /// assert!(!path.exists()); // closing removed the socket file
    /// # Ok(())
    /// # }
    /// ```
    pub fn unix_path(&self) -> Option<&Path> {
        self.inner.unix_path.as_deref()
    }

    /// Connections open now.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::bytes::Bytes;
    /// use aleph::stream::{self, ConnectOptions};
    /// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
    ///
    /// let server = tcp::start_server(
    ///     |conn, _info| {
    ///         stream::connect(conn.clone(), conn, ConnectOptions::default());
    ///     },
    ///     TcpServerOptions::default(),
    /// )
    /// .await?;
    /// let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
    /// conn.send(Bytes::from("hi")).await?;
    /// assert!(conn.recv().await.is_some()); // an echo: the server is serving it
    /// assert_eq!(server.connections(), 1);
    /// drop(conn);
    /// server.close().await;
    /// assert_eq!(server.connections(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connections(&self) -> usize {
        self.inner.connections.len()
    }

    /// True once [`close`](Server::close) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::tcp::{self, TcpServerOptions};
    ///
    /// let server = tcp::start_server(|_conn, _info| {}, TcpServerOptions::default()).await?;
    /// assert!(!server.is_closing());
    /// server.close().await;
    /// assert!(server.is_closing());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::Acquire)
    }

    /// Stops the server gracefully and waits until it is stopped.
    ///
    /// It stops accepting at once (the listening socket is closed and a Unix
    /// socket's file removed), then waits for open connections to end on their
    /// own, for at most the shutdown timeout of the server's options; those
    /// still open then are closed. Calling it again, or from several clones,
    /// waits for the same shutdown. A handler that stops its own server
    /// should spawn the `close` rather than await it: its own connection is
    /// one of those `close` waits for, so it would wait out the timeout.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the shutdown, once begun, goes on if this future is dropped.
    ///
    /// # Examples
    ///
    /// A connection in the middle of an exchange finishes it before `close`
    /// returns:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::bytes::{self, Bytes};
    /// use aleph::stream::{self, ConnectOptions};
    /// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
    ///
    /// let server = tcp::start_server(
    ///     |conn, _info| {
    ///         stream::connect(conn.clone(), conn, ConnectOptions::default());
    ///     },
    ///     TcpServerOptions::default(),
    /// )
    /// .await?;
    /// let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
    /// conn.send(Bytes::from("one")).await?;
    /// assert!(conn.recv().await.is_some()); // the server has accepted the connection
    ///
    /// let (_, last) = tokio::join!(server.close(), async move {
    ///     conn.send(Bytes::from("two")).await?;
    ///     conn.close();
    ///     bytes::to_bytes(conn).await
    /// });
    /// assert!(last?.ends_with(b"two")); // the answer came back during the shutdown
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&self) {
        if !self.inner.closing.swap(true, Ordering::AcqRel) {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                inner.stop.fire();
                let accepting = inner.accepting.lock().take();
                if let Some(task) = accepting {
                    let _ = task.await;
                }
                let tracker = &inner.connections.tracker;
                tracker.close();
                if tokio::time::timeout(inner.shutdown_timeout, tracker.wait())
                    .await
                    .is_err()
                {
                    tracing::debug!(
                        open = tracker.len(),
                        "shutdown timeout passed: closing the rest"
                    );
                    inner.connections.cut.fire();
                    tracker.wait().await;
                }
                inner.closed.success(());
            });
        }
        let _ = self.inner.closed.clone().await;
    }

    /// Waits until the server has stopped (after [`close`](Server::close)).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::tcp::{self, TcpServerOptions};
    ///
    /// let server = tcp::start_server(|_conn, _info| {}, TcpServerOptions::default()).await?;
    /// let watcher = server.clone();
    /// let watching = tokio::spawn(async move { watcher.wait_for_close().await });
    /// server.close().await;
    /// watching.await.expect("the watching task does not panic");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for_close(&self) {
        let _ = self.inner.closed.clone().await;
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.inner.local_addr)
            .field("unix_path", &self.inner.unix_path)
            .field("connections", &self.inner.connections.len())
            .field("closing", &self.is_closing())
            .finish()
    }
}

/// The tasks serving a server's open connections: tracked until they end,
/// and cut short together when the shutdown timeout passes.
#[derive(Clone)]
pub(crate) struct Connections {
    tracker: TaskTracker,
    /// Fired when the shutdown timeout passes: every connection's future
    /// is dropped where it stands (its streams end with an error).
    cut: Signal,
}

impl Connections {
    /// Runs `serve` as the task of one connection, tracked until it ends.
    pub(crate) fn spawn<F>(&self, serve: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Reading the shared token from every connection's task would
        // contend on one lock: the Signal's flag is read instead.
        let cut = self.cut.clone();
        self.tracker.spawn(async move {
            let fired = cut.fired();
            tokio::pin!(serve, fired);
            let mut registered = false;
            std::future::poll_fn(|cx| {
                if cut.check(fired.as_mut(), &mut registered, cx) {
                    return std::task::Poll::Ready(());
                }
                serve.as_mut().poll(cx)
            })
            .await;
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.tracker.len()
    }
}

/// A one-way signal (stop accepting, cut the connections) that the tasks of
/// every connection check each time they are woken.
///
/// Reading a `CancellationToken` takes its lock, shared by every connection
/// of the server, whether through `is_cancelled` or by polling `cancelled()`;
/// a connection's task is woken for every read and write. So the signal is
/// an atomic flag beside the token: a task reads the flag on each poll and
/// polls the token's future once, to be woken when it fires (a task's waker
/// stays the same).
#[derive(Clone, Debug)]
pub(crate) struct Signal {
    flag: Arc<AtomicBool>,
    token: CancellationToken,
}

impl Signal {
    pub(crate) fn new() -> Signal {
        Signal {
            flag: Arc::new(AtomicBool::new(false)),
            token: CancellationToken::new(),
        }
    }

    pub(crate) fn fire(&self) {
        self.flag.store(true, Ordering::Release);
        self.token.cancel();
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Completes once fired.
    pub(crate) fn fired(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Whether the signal has fired, for a hand-written `poll`: reads the
    /// flag, and polls `fired` (from [`fired`](Signal::fired)) only the first
    /// time, to register the task for the wake-up.
    pub(crate) fn check(
        &self,
        fired: Pin<&mut tokio_util::sync::WaitForCancellationFuture<'_>>,
        registered: &mut bool,
        cx: &mut std::task::Context<'_>,
    ) -> bool {
        if self.is_fired() {
            return true;
        }
        if !*registered {
            *registered = true;
            return fired.poll(cx).is_ready();
        }
        false
    }
}
