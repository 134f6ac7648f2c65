//! Opening one client connection: the `net` connector (resolve, connect,
//! TLS with ALPN), then hyper's HTTP/1 or HTTP/2 handshake, its connection
//! task spawned.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tracing::Instrument;

use super::pool::Sender;
use super::Target;
use crate::net::connector::{self, ConnectTimings, ConnectorOptions};
use crate::net::listener::StreamOptions;
use crate::tls::ClientTls;
use crate::{Error, ErrorKind, Result};

/// What every connection of one client shares.
#[derive(Clone, Debug)]
pub(crate) struct ConnectSettings {
    pub(crate) tls: Option<ClientTls>,
    pub(crate) http2_prior_knowledge: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) local_addr: Option<SocketAddr>,
    pub(crate) nodelay: bool,
    pub(crate) unix: Option<std::path::PathBuf>,
}

/// Opens a connection to `target` and shakes hands in the protocol TLS
/// negotiated (ALPN `h2`) or the settings ask for (h2c by prior knowledge).
///
/// # Errors
///
/// The connector's ([`Dns`](ErrorKind::Dns), [`Connect`](ErrorKind::Connect),
/// [`Tls`](ErrorKind::Tls), a connect timeout), or
/// [`Protocol`](ErrorKind::Protocol) when the HTTP handshake fails.
pub(crate) async fn connect(
    settings: &ConnectSettings,
    target: &Target,
    timings: &mut ConnectTimings,
) -> Result<Sender> {
    let tls = if target.https {
        Some(settings.tls.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Tls,
                format!("no TLS configuration to reach {}", target.key),
            )
        })?)
    } else {
        None
    };
    let options = ConnectorOptions {
        host: target.host.clone(),
        port: target.port,
        unix: settings.unix.clone(),
        local_addr: settings.local_addr,
        stream: StreamOptions {
            nodelay: settings.nodelay,
            keepalive: None,
            notsent_lowat: None,
        },
        tls,
        server_name: None,
        connect_timeout: settings.connect_timeout,
    };
    let (stream, info) = connector::connect_timed(&options, timings).await?;
    let h2 = match &info.tls {
        Some(tls) => tls.alpn.as_deref() == Some("h2"),
        None => settings.http2_prior_knowledge,
    };
    let io = TokioIo::new(stream);
    let peer: std::sync::Arc<str> = target.key.as_str().into();
    if h2 {
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .instrument(tracing::debug_span!("handshake", protocol = "h2"))
            .await
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::Protocol,
                    format!("HTTP/2 handshake with {peer} failed"),
                    e,
                )
            })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "HTTP/2 client connection ended");
            }
        });
        Ok(Sender::Http2(sender))
    } else {
        let handshake = http1::Builder::new()
            .handshake(io)
            .instrument(tracing::debug_span!("handshake", protocol = "http/1.1"));
        let (sender, connection) = handshake.await.map_err(|e| {
            Error::with_source(
                ErrorKind::Protocol,
                format!("HTTP/1.1 handshake with {peer} failed"),
                e,
            )
        })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "HTTP/1.1 client connection ended");
            }
        });
        Ok(Sender::Http1(sender))
    }
}
