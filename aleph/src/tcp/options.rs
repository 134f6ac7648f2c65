//! The options of TCP servers and clients, and what a connection knows of itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::net::{Buffers, ListenSocket};
use crate::tls::{ClientTls, ServerTls};

/// Options of [`start_server`](super::start_server). `TcpServerOptions::default()` listens on
/// 127.0.0.1 at a port the system picks, without TLS.
///
/// # Examples
///
/// A TLS server with a self-signed certificate that gives open connections
/// one second at shutdown; every other option keeps its default:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use std::time::Duration;
/// use aleph::tcp::{self, TcpServerOptions};
/// use aleph::tls::ServerTls;
///
/// let options = TcpServerOptions {
///     tls: Some(ServerTls::self_signed(&["localhost"])?),
///     shutdown_timeout: Duration::from_secs(1),
///     ..Default::default()
/// };
/// let server = tcp::start_server(|_conn, _info| {}, options).await?;
/// assert!(server.local_addr().is_some_and(|addr| addr.ip().is_loopback()));
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TcpServerOptions {
    /// The port to listen on; 0 picks a free one (see [`Server::port`](crate::Server::port)). Default: 0.
    pub port: u16,
    /// The address to listen on. Default: 127.0.0.1 (loopback only; use
    /// `0.0.0.0` or `::` to accept connections from other hosts).
    pub host: IpAddr,
    /// Accept only TLS, finishing the handshake before the handler runs. Default: none.
    pub tls: Option<ServerTls>,
    /// Listen on this Unix domain socket path instead of TCP; the file is
    /// created, and removed when the server closes. Default: none.
    pub unix: Option<PathBuf>,
    /// Adopt this already-bound listening socket instead of binding one
    /// (socket activation); `port` and `host` are then ignored. Default: none.
    pub listen_socket: Option<ListenSocket>,
    /// Disable Nagle's algorithm on accepted connections. Default: true.
    pub nodelay: bool,
    /// Send TCP keep-alive probes after this much idle time. Default: none.
    pub keepalive: Option<Duration>,
    /// `SO_REUSEADDR` on the listening socket. Default: true.
    pub reuse_address: bool,
    /// `SO_REUSEPORT` on the listening socket (Unix). Default: false.
    pub reuse_port: bool,
    /// The listen backlog. Default: 1024.
    pub backlog: u32,
    /// At most this many connections open at once; while at the cap the
    /// server accepts nothing, and new clients wait in the backlog. A TLS
    /// connection counts from its accept, handshake included. At least 1 is
    /// used. Default: none (no cap).
    pub max_connections: Option<usize>,
    /// The bytes each connection holds each way. Default:
    /// [`Buffers::default()`] (64 KiB read ahead, write water marks 32 / 64 KiB).
    pub buffers: Buffers,
    /// The longest a TLS handshake may take before the connection is dropped. Default: 10 s.
    pub handshake_timeout: Duration,
    /// How long [`Server::close`](crate::Server::close) lets open connections finish before closing
    /// them. Default: 15 s, as Aleph.
    pub shutdown_timeout: Duration,
}

impl Default for TcpServerOptions {
    fn default() -> TcpServerOptions {
        TcpServerOptions {
            port: 0,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tls: None,
            unix: None,
            listen_socket: None,
            nodelay: true,
            keepalive: None,
            reuse_address: true,
            reuse_port: false,
            backlog: 1024,
            max_connections: None,
            buffers: Buffers::default(),
            handshake_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(15),
        }
    }
}

/// Options of [`client`](super::client). Build with [`TcpClientOptions::new`] and struct update.
///
/// # Examples
///
/// A TLS client that trusts one self-signed certificate, dialing an IP
/// address while verifying the name in the certificate:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use std::time::Duration;
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::{self, ConnectOptions};
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
/// use aleph::tls::{ClientTls, Identity, ServerTls, ServerTlsOptions};
///
/// let identity = Identity::self_signed(&["localhost"])?;
/// let server_tls = ServerTls::new(ServerTlsOptions {
///     identity: Some(identity.clone()),
///     ..Default::default()
/// })?;
/// let server = tcp::start_server(
///     |conn, _info| {
///         stream::connect(conn.clone(), conn, ConnectOptions::default());
///     },
///     TcpServerOptions { tls: Some(server_tls), ..Default::default() },
/// )
/// .await?;
///
/// let options = TcpClientOptions {
///     tls: Some(ClientTls::trusting_pem(identity.certificate_pem().as_bytes())?),
///     server_name: Some("localhost".into()),
///     connect_timeout: Duration::from_secs(5),
///     ..TcpClientOptions::new("127.0.0.1", server.port())
/// };
/// let conn = tcp::client(options).await?;
/// conn.send(Bytes::from("over TLS")).await?;
/// conn.close();
/// assert_eq!(bytes::to_bytes(conn).await?, "over TLS");
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TcpClientOptions {
    /// The host to connect to: a name or an IP address. Default: "127.0.0.1".
    pub host: String,
    /// The port to connect to. Default: 0 (set it).
    pub port: u16,
    /// Connect with TLS, verifying the server's certificate for `host` (or
    /// `server_name`). Default: none.
    pub tls: Option<ClientTls>,
    /// The name to verify and send as SNI, when it differs from `host`. Default: none.
    pub server_name: Option<String>,
    /// Connect to this Unix domain socket path instead of `host:port`. Default: none.
    pub unix: Option<PathBuf>,
    /// Bind the local end to this address before connecting. Default: none.
    pub local_addr: Option<SocketAddr>,
    /// The longest the whole connect may take: resolving the host, connecting
    /// and the TLS handshake together; a timeout error names the step it
    /// cut short. Default: 30 s, as Aleph.
    pub connect_timeout: Duration,
    /// Disable Nagle's algorithm. Default: true.
    pub nodelay: bool,
    /// Send TCP keep-alive probes after this much idle time. Default: none.
    pub keepalive: Option<Duration>,
    /// The bytes the connection holds each way. Default:
    /// [`Buffers::default()`] (64 KiB read ahead, write water marks 32 / 64 KiB).
    pub buffers: Buffers,
}

impl TcpClientOptions {
    /// Options to connect to `host:port` with the defaults otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tcp::TcpClientOptions;
    ///
    /// let opts = TcpClientOptions { nodelay: false, ..TcpClientOptions::new("example.com", 7) };
    /// assert_eq!(opts.port, 7);
    /// ```
    pub fn new(host: impl Into<String>, port: u16) -> TcpClientOptions {
        TcpClientOptions {
            host: host.into(),
            port,
            ..TcpClientOptions::default()
        }
    }
}

impl Default for TcpClientOptions {
    fn default() -> TcpClientOptions {
        TcpClientOptions {
            host: "127.0.0.1".to_owned(),
            port: 0,
            tls: None,
            server_name: None,
            unix: None,
            local_addr: None,
            connect_timeout: Duration::from_secs(30),
            nodelay: true,
            keepalive: None,
            buffers: Buffers::default(),
        }
    }
}
