//! TLS for aleph's servers and clients, on rustls.
//!
//! Every TLS-capable part of aleph (TCP now, HTTP and WebSocket later) takes
//! one of two cheap, cloneable configuration handles:
//!
//! - [`ServerTls`] for a server: its certificate (an [`Identity`]), more
//!   certificates chosen by the host name the client asks for (SNI), client
//!   certificates (mutual TLS, [`ClientAuth`]) and ALPN protocols, set through
//!   [`ServerTlsOptions`].
//! - [`ClientTls`] for a client: which roots it trusts ([`TrustRoots`]: the
//!   bundled Mozilla roots by default, the system's, or your own), an
//!   optional client certificate and ALPN protocols, set through
//!   [`ClientTlsOptions`]. Host names are always verified unless the client
//!   is explicitly [`insecure`](ClientTls::insecure).
//!
//! An [`Identity`] is a certificate chain and its private key, read from PEM
//! or generated on the spot ([`Identity::self_signed`], for tests and demos).
//! After a handshake, [`TlsInfo`] tells what was agreed: version, cipher
//! suite, ALPN protocol, server name and the peer's certificates.
//!
//! Everything runs on rustls with its *ring* crypto provider, and the rustls
//! configuration stays reachable: [`ServerTls::config`] and
//! [`ClientTls::config`] hand it out, and a `rustls::ServerConfig` or
//! `rustls::ClientConfig` you built yourself converts into the handles with
//! `From`.
//!
//! # Examples
//!
//! A server with a self-signed certificate and a client that trusts exactly
//! that certificate, shaking hands over an in-memory pipe (aleph's TCP server
//! and client do the same over sockets):
//!
//! ```
//! use aleph::tls::{ClientTls, ClientTlsOptions, ServerTls, ServerTlsOptions, Identity, TrustRoots};
//! use tokio_rustls::{TlsAcceptor, TlsConnector};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let identity = Identity::self_signed(&["localhost"])?;
//! let server = ServerTls::new(ServerTlsOptions {
//!     identity: Some(identity.clone()),
//!     alpn: vec!["h2".into(), "http/1.1".into()],
//!     ..Default::default()
//! })?;
//! let client = ClientTls::new(ClientTlsOptions {
//!     roots: TrustRoots::Pem(identity.certificate_pem().into_bytes()),
//!     alpn: vec!["h2".into()],
//!     ..Default::default()
//! })?;
//!
//! let (client_io, server_io) = tokio::io::duplex(64 * 1024);
//! let acceptor = TlsAcceptor::from(server.config().clone());
//! let connector = TlsConnector::from(client.config().clone());
//! let name = rustls_pki_types::ServerName::try_from("localhost")?;
//! let (accepted, connected) = tokio::join!(
//!     acceptor.accept(server_io),
//!     connector.connect(name, client_io),
//! );
//! let (_, session) = accepted?.into_inner();
//! assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
//! assert_eq!(session.server_name(), Some("localhost"));
//! connected?;
//! # Ok(())
//! # }
//! ```

use std::fmt::{self, Display};
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::{Error, ErrorKind, Result};

mod client;
mod identity;
mod roots;
mod server;
#[cfg(test)]
mod tests;
mod verify;

pub use client::{ClientTls, ClientTlsOptions};
pub use identity::Identity;
pub use roots::TrustRoots;
pub use server::{ClientAuth, ServerTls, ServerTlsOptions};
pub use verify::CertificateRefused;

/// What a TLS session agreed on, as a handler or a client sees it once the
/// handshake is done.
///
/// Every field is empty (`None` or no certificates) when the session did not
/// negotiate it.
///
/// # Examples
///
/// ```
/// let info = aleph::tls::TlsInfo::default();
/// assert!(info.protocol_version.is_none());
/// assert!(info.peer_certificates.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The protocol version, such as `"TLSv1.3"` or `"TLSv1.2"`.
    pub protocol_version: Option<String>,
    /// The cipher suite, by its IANA name, such as `"TLS13_AES_256_GCM_SHA384"`.
    pub cipher_suite: Option<String>,
    /// The ALPN protocol both sides agreed on, such as `"h2"`; `None` when
    /// either side offered none or they had none in common.
    pub alpn: Option<String>,
    /// The host name of the session: on a server, the SNI name the client
    /// sent (clients send none when they connect to an IP address); on a
    /// client, the name it connected to and verified.
    pub server_name: Option<String>,
    /// The peer's certificate chain, leaf first: on a server, the client's
    /// certificates under mutual TLS (empty when the client sent none); on a
    /// client, the server's chain.
    pub peer_certificates: Vec<CertificateDer<'static>>,
}

impl TlsInfo {
    /// Reads what a server-side session agreed on.
    pub(crate) fn from_server(conn: &rustls::ServerConnection) -> TlsInfo {
        TlsInfo {
            server_name: conn.server_name().map(str::to_owned),
            ..TlsInfo::from_common(conn)
        }
    }

    /// Reads what a client-side session agreed on; `server_name` is the name
    /// the client connected to (rustls does not keep it on the connection).
    pub(crate) fn from_client(conn: &rustls::ClientConnection, server_name: &str) -> TlsInfo {
        TlsInfo {
            server_name: Some(server_name.to_owned()),
            ..TlsInfo::from_common(conn)
        }
    }

    fn from_common(conn: &rustls::CommonState) -> TlsInfo {
        TlsInfo {
            protocol_version: conn
                .protocol_version()
                .map(|version| match version.as_str() {
                    // rustls names them `TLSv1_3`; people and OpenSSL write `TLSv1.3`.
                    Some(name) => name.replace('_', "."),
                    None => format!("{version:?}"),
                }),
            cipher_suite: conn.negotiated_cipher_suite().map(|suite| {
                let suite = suite.suite();
                match suite.as_str() {
                    Some(name) => name.to_owned(),
                    None => format!("{suite:?}"),
                }
            }),
            alpn: conn
                .alpn_protocol()
                .map(|proto| String::from_utf8_lossy(proto).into_owned()),
            server_name: None,
            peer_certificates: conn
                .peer_certificates()
                .map(<[CertificateDer<'static>]>::to_vec)
                .unwrap_or_default(),
        }
    }
}

/// Turns a failed handshake into an error of kind [`ErrorKind::Tls`] whose
/// message names the peer ("TLS handshake with 127.0.0.1:4433 failed") and
/// whose source is the reason: a [`CertificateRefused`] in plain words when
/// the peer's certificate was refused ("its certificate is self-signed and
/// not trusted here"), else rustls' own error (an alert) when there is one,
/// else the I/O error.
pub(crate) fn handshake_error(peer: impl Display, err: std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        return Error::with_source(
            ErrorKind::Tls,
            format!("TLS handshake with {peer} failed: the peer closed the connection"),
            err,
        );
    }
    let message = format!("TLS handshake with {peer} failed");
    if let Some(refused) = CertificateRefused::from_io(&err) {
        return Error::with_source(ErrorKind::Tls, message, refused);
    }
    // tokio-rustls hands rustls' own error through `io::Error`: unwrapped, it
    // is the cause itself rather than a wrapper repeating its text.
    match err.downcast::<rustls::Error>() {
        Ok(rustls) => Error::with_source(ErrorKind::Tls, message, rustls),
        Err(err) => Error::with_source(ErrorKind::Tls, message, err),
    }
}

/// The name a client verifies the server's certificate against: a DNS name or
/// an IP address (an IPv6 address may be written in brackets, as in a URL).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_owned()).map_err(|err| {
        Error::with_source(
            ErrorKind::Tls,
            format!("{host:?} is not a valid TLS server name (a DNS name or an IP address)"),
            err,
        )
    })
}

/// The crypto provider behind every configuration aleph builds: ring, chosen
/// explicitly so that no process-wide default has to be installed.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The ALPN protocols of a config, readable, for the config handles' `Debug`.
fn alpn_names(protocols: &[Vec<u8>]) -> Vec<std::borrow::Cow<'_, str>> {
    protocols
        .iter()
        .map(|proto| String::from_utf8_lossy(proto))
        .collect()
}

/// Writes ALPN protocol names as rustls wants them, refusing names TLS cannot
/// carry (RFC 7301 section 3.1: 1 to 255 bytes).
fn alpn_protocols(alpn: Vec<String>) -> Result<Vec<Vec<u8>>> {
    alpn.into_iter()
        .map(|proto| {
            if proto.is_empty() || proto.len() > 255 {
                Err(Error::new(
                    ErrorKind::Tls,
                    format!("ALPN protocol {proto:?} must be 1 to 255 bytes long"),
                ))
            } else {
                Ok(proto.into_bytes())
            }
        })
        .collect()
}

/// Shows a list of certificates by count: their bytes tell a reader nothing.
struct CertCount<'a>(&'a [CertificateDer<'static>]);

impl fmt::Debug for CertCount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} certificate(s)]", self.0.len())
    }
}
