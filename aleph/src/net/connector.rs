//! The dialling side every client protocol stands on: resolve the host,
//! connect to its addresses in happy-eyeballs order, then the TLS handshake.
//!
//! One deadline covers the whole connect; each step runs under it with
//! `timeout_at`, so the error says which step it cut short ("resolving
//! example.com timed out after 5s", "TLS handshake with ... timed out").
//! What comes back is a [`RawStream`] and its [`ConnectionInfo`]: TCP turns
//! it into a duplex of bytes; an HTTP client hands it to hyper.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::listener::StreamOptions;
use super::{ConnectionInfo, RawStream, Socket};
use crate::tls::{ClientTls, TlsInfo};
use crate::{Error, ErrorKind, Result};

/// What a client dials, and how; a protocol's client options map onto it.
#[derive(Clone, Debug)]
pub(crate) struct ConnectorOptions {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) unix: Option<PathBuf>,
    pub(crate) local_addr: Option<SocketAddr>,
    pub(crate) stream: StreamOptions,
    pub(crate) tls: Option<ClientTls>,
    /// The name verified and sent as SNI, when not `host`.
    pub(crate) server_name: Option<String>,
    /// The longest the whole connect may take.
    pub(crate) connect_timeout: Duration,
}

/// Connects as `options` say.
///
/// # Errors
///
/// [`Dns`](ErrorKind::Dns), [`Connect`](ErrorKind::Connect),
/// [`Timeout`](ErrorKind::Timeout) naming the step the deadline cut short,
/// [`Tls`](ErrorKind::Tls); each message names the target.
pub(crate) async fn connect(options: &ConnectorOptions) -> Result<(RawStream, ConnectionInfo)> {
    let timeout = options.connect_timeout;
    let deadline = Instant::now() + timeout;
    let mut info = ConnectionInfo::default();
    let socket = match &options.unix {
        Some(path) => {
            let target = path.display().to_string();
            let connect = async {
                tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|error| {
                        Error::with_source(
                            ErrorKind::Connect,
                            format!("connect to {target} failed"),
                            error,
                        )
                    })
            };
            let stream = within(deadline, timeout, format!("connect to {target}"), connect).await?;
            info.unix_path = Some(path.clone());
            Socket::Unix(stream)
        }
        None => {
            let host = &options.host;
            let target = format!("{host}:{}", options.port);
            let addrs = within(
                deadline,
                timeout,
                format!("resolving {host}"),
                resolve(host, options.port),
            )
            .await?;
            let stream = within(
                deadline,
                timeout,
                format!("connect to {target}"),
                connect_tcp(&target, &addrs, options.local_addr),
            )
            .await?;
            options.stream.apply(&stream).map_err(|e| {
                Error::from_io(e, format!("cannot set socket options for {target}"))
            })?;
            info.remote_addr = stream.peer_addr().ok();
            info.local_addr = stream.local_addr().ok();
            Socket::Tcp(stream)
        }
    };
    let Some(tls) = &options.tls else {
        return Ok((RawStream::Plain(socket), info));
    };
    let name = options.server_name.as_deref().unwrap_or(&options.host);
    let server_name = crate::tls::server_name(name)?;
    let peer = info.peer_name();
    let handshake = async {
        tls.connector()
            .connect(server_name, socket)
            .await
            .map_err(|error| crate::tls::handshake_error(&peer, error))
    };
    let stream = within(
        deadline,
        timeout,
        format!("TLS handshake with {peer}"),
        handshake,
    )
    .await?;
    info.tls = Some(TlsInfo::from_client(stream.get_ref().1, name));
    Ok((RawStream::ClientTls(Box::new(stream)), info))
}

/// Runs one step of a connect under the connect's deadline.
async fn within<T>(
    deadline: Instant,
    timeout: Duration,
    step: String,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout_at(deadline, future).await {
        Ok(done) => done,
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!("{step} timed out after {timeout:?}"),
        )),
    }
}

/// Resolves `host:port` to socket addresses, in the order to try them; an IP
/// address is used as it is.
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
            let addrs = interleave(addrs.collect());
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
            format!("cannot resolve {host}"),
            error,
        )),
    }
}

/// Orders addresses as happy eyeballs tries them (RFC 8305 §4): the family
/// of the first address first, then alternating between the families, each
/// family keeping the resolver's order. Tried one after the other today, this
/// order is also what a racing connector would stagger.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return addrs;
    };
    let first_v4 = first.is_ipv4();
    let (mut preferred, mut other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv4() == first_v4);
    let mut ordered = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    loop {
        match (preferred.pop(), other.pop()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

/// Connects to the first of `addrs` that accepts; the caller bounds the time.
///
/// # Errors
///
/// [`Connect`](ErrorKind::Connect) when every address refused or was
/// unreachable; the message names the last one, the source says why.
async fn connect_tcp(
    target: &str,
    addrs: &[SocketAddr],
    local: Option<SocketAddr>,
) -> Result<TcpStream> {
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
            format!("cannot resolve {target}: no addresses"),
        ));
    };
    let named = if target == addr.to_string() {
        target.to_owned()
    } else {
        format!("{target} ({addr})")
    };
    Err(Error::with_source(
        ErrorKind::Connect,
        format!("connect to {named} failed"),
        error,
    ))
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

#[cfg(test)]
mod tests {
    use super::interleave;
    use std::net::SocketAddr;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn families_alternate_starting_with_the_first_address_family() {
        let given = addrs(&[
            "[::1]:1",
            "[::2]:1",
            "10.0.0.1:1",
            "10.0.0.2:1",
            "10.0.0.3:1",
        ]);
        let want = addrs(&[
            "[::1]:1",
            "10.0.0.1:1",
            "[::2]:1",
            "10.0.0.2:1",
            "10.0.0.3:1",
        ]);
        assert_eq!(interleave(given), want);
        let given = addrs(&["10.0.0.1:1", "[::1]:1"]);
        assert_eq!(interleave(given.clone()), given);
    }

    #[test]
    fn one_family_keeps_the_resolver_order() {
        let given = addrs(&["10.0.0.3:1", "10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(interleave(given.clone()), given);
        assert!(interleave(Vec::new()).is_empty());
    }
}
