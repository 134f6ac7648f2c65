//! Sockets shared by the protocols: address resolution, connecting with
//! distinct errors, listeners with socket options, the byte pumps that turn a
//! socket into a duplex stream, and the [`Server`] handle.

pub(crate) mod conn;
mod server;
mod socket;

pub use conn::{INBOUND_CHUNKS, OUTBOUND_CHUNKS, READ_CHUNK};
pub use server::Server;
pub(crate) use server::{Connections, ServerParts};
pub(crate) use socket::RestoreBlocking;
pub use socket::{ListenSocket, Socket};

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::{Error, ErrorKind, Result};

/// Resolves `host:port` to socket addresses; an IP address is used as it is.
///
/// # Errors
///
/// An error of kind [`Dns`](ErrorKind::Dns) naming the host when it cannot be
/// resolved or resolves to nothing.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(Error::new(
                    ErrorKind::Dns,
                    format!("cannot resolve {host}: no addresses"),
                ))
            } else {
                Ok(addrs)
            }
        }
        Err(error) => Err(Error::with_source(
            ErrorKind::Dns,
            format!("cannot resolve {host}: {error}"),
            error,
        )),
    }
}

/// TCP options applied to a connected stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamOptions {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Duration>,
}

impl StreamOptions {
    pub(crate) fn apply(&self, stream: &TcpStream) -> std::io::Result<()> {
        stream.set_nodelay(self.nodelay)?;
        if let Some(idle) = self.keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
        }
        Ok(())
    }
}

/// Connects to the first of `addrs` that accepts; the caller bounds the time.
///
/// # Errors
///
/// [`Connect`](ErrorKind::Connect) when every address refused or was
/// unreachable (the message names the last one and why).
pub(crate) async fn connect_tcp(
    host: &str,
    addrs: &[SocketAddr],
    local: Option<SocketAddr>,
    options: StreamOptions,
) -> Result<TcpStream> {
    let stream = async {
        let mut last = None;
        for &addr in addrs {
            match connect_one(addr, local).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last = Some((addr, error)),
            }
        }
        let Some((addr, error)) = last else {
            return Err(Error::new(
                ErrorKind::Dns,
                format!("cannot resolve {host}: no addresses"),
            ));
        };
        let why = match error.kind() {
            std::io::ErrorKind::ConnectionRefused => "refused".to_owned(),
            _ => format!("failed: {error}"),
        };
        let target = if host == addr.to_string() {
            host.to_owned()
        } else {
            format!("{host} ({addr})")
        };
        Err(Error::with_source(
            ErrorKind::Connect,
            format!("connect to {target} {why}"),
            error,
        ))
    }
    .await?;
    options
        .apply(&stream)
        .map_err(|e| Error::from_io(e, format!("setting socket options for {host}")))?;
    Ok(stream)
}

async fn connect_one(addr: SocketAddr, local: Option<SocketAddr>) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(local) = local {
        socket.bind(local)?;
    }
    socket.connect(addr).await
}

/// Options of a listening TCP socket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListenOptions {
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    pub(crate) backlog: u32,
}

/// Binds a TCP listener on `addr` with `options`.
///
/// # Errors
///
/// [`Io`](ErrorKind::Io) naming the address (in use, not permitted, ...).
pub(crate) fn bind_tcp(
    addr: SocketAddr,
    options: ListenOptions,
) -> Result<tokio::net::TcpListener> {
    let fail = |e: std::io::Error| Error::from_io(e, format!("cannot listen on {addr}"));
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(options.reuse_address).map_err(fail)?;
    #[cfg(unix)]
    socket.set_reuseport(options.reuse_port).map_err(fail)?;
    socket.bind(addr).map_err(fail)?;
    socket.listen(options.backlog).map_err(fail)
}
