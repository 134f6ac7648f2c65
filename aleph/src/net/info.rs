//! [`ConnectionInfo`]: what a connection knows of itself.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::tls::TlsInfo;

/// What a handler (or a client) knows about a connection.
///
/// # Examples
///
/// A handler that tells each client the address it came from:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use aleph::bytes::Bytes;
/// use aleph::tcp::{self, ConnectionInfo, TcpClientOptions, TcpServerOptions};
/// use tokio::io::AsyncReadExt;
///
/// let server = tcp::start_server(
///     |conn, info: ConnectionInfo| async move {
///         let peer = info.remote_addr.map(|addr| addr.to_string()).unwrap_or_default();
///         conn.send(Bytes::from(peer)).await?;
///         conn.close();
///         Ok::<(), aleph::Error>(())
///     },
///     TcpServerOptions::default(),
/// )
/// .await?;
///
/// let (mut stream, info) =
///     tcp::client_raw(TcpClientOptions::new("127.0.0.1", server.port())).await?;
/// let mut seen = String::new();
/// stream.read_to_string(&mut seen).await?;
/// assert_eq!(Some(seen), info.local_addr.map(|addr| addr.to_string()));
/// drop(stream);
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The peer's address (`None` over a Unix socket).
    pub remote_addr: Option<SocketAddr>,
    /// Our end's address (`None` over a Unix socket).
    pub local_addr: Option<SocketAddr>,
    /// The Unix socket path, for a connection over one.
    pub unix_path: Option<PathBuf>,
    /// The TLS session, once its handshake is done: protocol, ALPN, SNI and
    /// the peer's certificates (the client's, under mutual TLS).
    pub tls: Option<TlsInfo>,
}

impl ConnectionInfo {
    /// How the peer is named in logs and errors.
    pub(crate) fn peer_name(&self) -> String {
        match (&self.remote_addr, &self.unix_path) {
            (Some(addr), _) => addr.to_string(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => "unix peer".to_owned(),
        }
    }
}
