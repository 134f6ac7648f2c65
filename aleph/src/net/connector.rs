//! The dialling side every client protocol stands on: resolve the host,
//! connect to its addresses in happy-eyeballs order (staggered, so one that
//! never answers does not hold up the rest), then the TLS handshake.
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
    let mut timings = ConnectTimings::default();
    connect_timed(options, &mut timings).await
}

/// How long each step of a connect took; a step not taken (no DNS for an IP
/// address, no TLS on plain TCP) stays `None`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConnectTimings {
    pub(crate) dns: Option<Duration>,
    pub(crate) connect: Option<Duration>,
    pub(crate) tls: Option<Duration>,
}

/// [`connect`], recording each step's duration in `timings` as it ends (so
/// a failed connect still tells how far it came), each step in its own
/// `tracing` span (`dns`, `connect`, `tls`) under the caller's.
pub(crate) async fn connect_timed(
    options: &ConnectorOptions,
    timings: &mut ConnectTimings,
) -> Result<(RawStream, ConnectionInfo)> {
    use tracing::Instrument;

    let timeout = options.connect_timeout;
    // A timeout past what an instant can hold ("never", written as
    // `Duration::MAX`) is as good as none.
    let now = Instant::now();
    let deadline = now.checked_add(timeout).unwrap_or_else(|| now + NEVER);
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
            let started = Instant::now();
            let stream = within(deadline, timeout, format!("connect to {target}"), connect)
                .instrument(tracing::debug_span!("connect", unix = %target))
                .await;
            timings.connect = Some(started.elapsed());
            let stream = stream?;
            info.unix_path = Some(path.clone());
            Socket::Unix(stream)
        }
        None => {
            let host = &options.host;
            let target = format!("{host}:{}", options.port);
            let started = Instant::now();
            let addrs = within(
                deadline,
                timeout,
                format!("resolving {host}"),
                resolve(host, options.port),
            )
            .instrument(tracing::debug_span!("dns", host = %host))
            .await;
            if !is_ip(host) {
                timings.dns = Some(started.elapsed());
            }
            let addrs = addrs?;
            let started = Instant::now();
            let stream = within(
                deadline,
                timeout,
                format!("connect to {target}"),
                connect_tcp(&target, &addrs, options.local_addr),
            )
            .instrument(tracing::debug_span!("connect", target = %target))
            .await;
            timings.connect = Some(started.elapsed());
            let stream = stream?;
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
    let started = Instant::now();
    let stream = within(
        deadline,
        timeout,
        format!("TLS handshake with {peer}"),
        handshake,
    )
    .instrument(tracing::debug_span!("tls", server_name = %name))
    .await;
    timings.tls = Some(started.elapsed());
    let stream = stream?;
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
        Err(_) => Err(Error::timeout(
            crate::TimeoutKind::Connect,
            format!("{step} timed out after {timeout:?}"),
        )),
    }
}

/// True when `host` is an IP address literal (bracketed or not): no lookup.
fn is_ip(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
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

/// Connects to the first of `addrs` that accepts, in their order, each
/// attempt given [`ATTEMPT_DELAY`] before the next starts alongside it (at
/// once when it fails); the caller bounds the time.
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
    use futures_util::stream::{FuturesUnordered, StreamExt};

    // Several attempts at once need a local port each: a fixed one means one
    // attempt after the other.
    let stagger = local.is_none_or(|local| local.port() == 0);
    let mut waiting = addrs.iter().copied();
    let mut attempts = FuturesUnordered::new();
    let mut last = None;
    // Each turn starts the next attempt: the first, then one per failure
    // or per attempt delay passed.
    loop {
        if let Some(addr) = waiting.next() {
            attempts.push(async move { (addr, connect_one(addr, local).await) });
        }
        if attempts.is_empty() {
            break;
        }
        let more = stagger && waiting.len() > 0;
        tokio::select! {
            Some((addr, connected)) = attempts.next() => match connected {
                Ok(stream) => return Ok(stream),
                Err(error) => last = Some((addr, error)),
            },
            () = tokio::time::sleep(ATTEMPT_DELAY), if more => {}
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

/// A deadline far enough away to never come (tokio's own "far future").
const NEVER: Duration = Duration::from_secs(86_400 * 365 * 30);

/// How long an attempt has before the next address is tried alongside it
/// (RFC 8305's "Connection Attempt Delay"): an address that never answers
/// does not hold up the others.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

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

    /// An address whose connects hang: a listener with a backlog of 0 that
    /// never accepts, its queue filled (Linux then drops further SYNs). The
    /// listener and the queued connections must stay alive while it is used.
    async fn hanging_addr() -> (socket2::Socket, Vec<tokio::net::TcpStream>, SocketAddr) {
        let listener =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        listener.bind(&any.into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut queued = Vec::new();
        for _ in 0..8 {
            let connect = tokio::net::TcpStream::connect(addr);
            match tokio::time::timeout(std::time::Duration::from_millis(200), connect).await {
                Ok(Ok(stream)) => queued.push(stream),
                Ok(Err(e)) => panic!("filling the backlog: {e}"),
                Err(_) => return (listener, queued, addr),
            }
        }
        panic!(
            "the backlog never filled: {} connects went through",
            queued.len()
        );
    }

    /// Happy eyeballs: an address that never answers does not hold up the
    /// next one; the attempts are staggered, not strictly one after another.
    #[tokio::test]
    async fn an_address_that_never_answers_does_not_hold_up_the_next_one() {
        let (_hanging, _queued, hanging) = hanging_addr().await;
        let working = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let working_addr = working.local_addr().unwrap();
        let addrs = [hanging, working_addr];
        let connect = super::connect_tcp("a-host:1", &addrs, None);
        let stream = tokio::time::timeout(std::time::Duration::from_secs(10), connect)
            .await
            .expect("the second address was never tried while the first hung")
            .expect("the second address accepts");
        assert_eq!(stream.peer_addr().unwrap(), working_addr);
    }

    #[test]
    fn one_family_keeps_the_resolver_order() {
        let given = addrs(&["10.0.0.3:1", "10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(interleave(given.clone()), given);
        assert!(interleave(Vec::new()).is_empty());
    }
}
