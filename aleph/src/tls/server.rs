//! Server-side TLS: options, the configuration handle and SNI selection.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use super::{alpn_protocols, provider, Identity, TrustRoots};
use crate::{Error, ErrorKind, Result};

/// Whether a server asks its clients for certificates (mutual TLS).
///
/// Default: [`ClientAuth::None`].
///
/// The client's verified chain reaches the handler as
/// [`TlsInfo::peer_certificates`](super::TlsInfo::peer_certificates).
///
/// # Examples
///
/// ```
/// use aleph::tls::{ClientAuth, Identity, ServerTls, ServerTlsOptions, TrustRoots};
///
/// # let ca_pem = Identity::self_signed(&["clients-ca"])?.certificate_pem();
/// // `ca_pem`: the PEM of the authority that signs your clients' certificates.
/// let server = ServerTls::new(ServerTlsOptions {
///     identity: Some(Identity::self_signed(&["localhost"])?),
///     client_auth: ClientAuth::Required(TrustRoots::Pem(ca_pem.into_bytes())),
///     ..Default::default()
/// })?;
/// # Ok::<(), aleph::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub enum ClientAuth {
    /// Clients are not asked for a certificate.
    #[default]
    None,
    /// Clients are asked for a certificate; one that is sent must chain to
    /// these roots, but a client that sends none is accepted too.
    Optional(TrustRoots),
    /// Clients must send a certificate that chains to these roots, or the
    /// handshake fails.
    Required(TrustRoots),
}

/// Options for [`ServerTls::new`].
///
/// # Examples
///
/// ```
/// use aleph::tls::{Identity, ServerTls, ServerTlsOptions};
///
/// let server = ServerTls::new(ServerTlsOptions {
///     identity: Some(Identity::self_signed(&["localhost"])?),
///     sni: vec![("api.test".into(), Identity::self_signed(&["api.test"])?)],
///     alpn: vec!["h2".into(), "http/1.1".into()],
///     ..Default::default()
/// })?;
/// # Ok::<(), aleph::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServerTlsOptions {
    /// The default certificate: used when the client's SNI name matches none
    /// of [`sni`](ServerTlsOptions::sni), or when it sent none (clients
    /// connecting to an IP address send none). Without it such handshakes
    /// fail. Default: `None`.
    pub identity: Option<Identity>,
    /// Certificates chosen by the host name the client asks for (SNI),
    /// compared without regard to ASCII case; a trailing dot is ignored.
    /// Each name appears at most once. Default: empty.
    pub sni: Vec<(String, Identity)>,
    /// Whether clients must present certificates (mutual TLS).
    /// Default: [`ClientAuth::None`].
    pub client_auth: ClientAuth,
    /// ALPN protocols in order of preference, such as `["h2", "http/1.1"]`.
    /// When set, a client that offers ALPN but none of these is refused; a
    /// client that offers no ALPN is served anyway. Default: empty (no ALPN).
    pub alpn: Vec<String>,
}

/// A server's TLS configuration: a cheap, cloneable handle on a
/// `rustls::ServerConfig`, used by every aleph server that speaks TLS.
///
/// Protocol versions are TLS 1.3 and TLS 1.2, with rustls' safe default
/// cipher suites, on the ring crypto provider.
///
/// # Examples
///
/// ```
/// use aleph::tls::ServerTls;
///
/// let tls = ServerTls::self_signed(&["localhost", "127.0.0.1"])?;
/// assert!(tls.config().alpn_protocols.is_empty());
/// # Ok::<(), aleph::Error>(())
/// ```
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
}

impl ServerTls {
    /// Builds a server configuration from options.
    ///
    /// # Errors
    ///
    /// An error of kind [`Tls`](crate::ErrorKind::Tls) when there is no
    /// certificate at all (neither `identity` nor `sni`), an SNI name is
    /// empty or listed twice, an ALPN name is empty or longer than 255 bytes,
    /// or the client-auth roots cannot be used.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tls::{ServerTls, ServerTlsOptions};
    ///
    /// let err = ServerTls::new(ServerTlsOptions::default()).unwrap_err();
    /// assert!(err.is_tls());
    /// ```
    pub fn new(options: ServerTlsOptions) -> Result<ServerTls> {
        let ServerTlsOptions {
            identity,
            sni,
            client_auth,
            alpn,
        } = options;
        if identity.is_none() && sni.is_empty() {
            return Err(Error::new(
                ErrorKind::Tls,
                "a TLS server needs a certificate: set ServerTlsOptions::identity or sni",
            ));
        }
        let resolver = SniResolver::new(identity, sni)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::with_source(ErrorKind::Tls, "TLS server setup failed", err))?;
        let builder = match client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Optional(roots) => {
                builder.with_client_cert_verifier(client_verifier(&roots, false)?)
            }
            ClientAuth::Required(roots) => {
                builder.with_client_cert_verifier(client_verifier(&roots, true)?)
            }
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = alpn_protocols(alpn)?;
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    /// A server with a freshly generated self-signed certificate for `names`
    /// (see [`Identity::self_signed`]), for tests and demos.
    ///
    /// # Errors
    ///
    /// As [`Identity::self_signed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let tls = aleph::tls::ServerTls::self_signed(&["localhost"])?;
    /// # Ok::<(), aleph::Error>(())
    /// ```
    pub fn self_signed(names: &[&str]) -> Result<ServerTls> {
        ServerTls::with_identity(Identity::self_signed(names)?)
    }

    /// A server whose certificate chain and key are read from PEM files (see
    /// [`Identity::from_pem_files`]).
    ///
    /// # Errors
    ///
    /// As [`Identity::from_pem_files`]: the error names the file.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let tls = aleph::tls::ServerTls::from_pem_files("certs/server-chain.pem", "certs/server.key")?;
    /// # Ok::<(), aleph::Error>(())
    /// ```
    pub fn from_pem_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<ServerTls> {
        ServerTls::with_identity(Identity::from_pem_files(chain, key)?)
    }

    /// The rustls configuration, for code that drives rustls or tokio-rustls
    /// itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let tls = aleph::tls::ServerTls::self_signed(&["localhost"])?;
    /// let acceptor = tokio_rustls::TlsAcceptor::from(tls.config().clone());
    /// # Ok::<(), aleph::Error>(())
    /// ```
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The tokio-rustls acceptor that runs server handshakes.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    fn with_identity(identity: Identity) -> Result<ServerTls> {
        ServerTls::new(ServerTlsOptions {
            identity: Some(identity),
            ..ServerTlsOptions::default()
        })
    }
}

impl From<Arc<ServerConfig>> for ServerTls {
    fn from(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls { config }
    }
}

impl From<ServerConfig> for ServerTls {
    fn from(config: ServerConfig) -> ServerTls {
        ServerTls::from(Arc::new(config))
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("alpn", &super::alpn_names(&self.config.alpn_protocols))
            .finish_non_exhaustive()
    }
}

fn client_verifier(
    roots: &TrustRoots,
    required: bool,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let builder = WebPkiClientVerifier::builder_with_provider(roots.root_store()?, provider());
    let builder = if required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map_err(|err| Error::with_source(ErrorKind::Tls, "cannot verify client certificates", err))
}

/// Picks the certificate by the client's SNI name, falling back to the
/// default identity; with neither, rustls aborts the handshake.
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    fn new(default: Option<Identity>, sni: Vec<(String, Identity)>) -> Result<SniResolver> {
        let mut by_name = HashMap::with_capacity(sni.len());
        for (name, identity) in sni {
            let key = normalize(&name);
            if key.is_empty() {
                return Err(Error::new(ErrorKind::Tls, "an SNI host name is empty"));
            }
            if by_name
                .insert(key, identity.certified_key().clone())
                .is_some()
            {
                return Err(Error::new(
                    ErrorKind::Tls,
                    format!("SNI host name {name:?} is listed twice"),
                ));
            }
        }
        Ok(SniResolver {
            by_name,
            default: default.map(|identity| identity.certified_key().clone()),
        })
    }
}

/// Host names compare without ASCII case (RFC 6066 section 3, RFC 4343), and
/// `example.test.` names the same host as `example.test`.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        client_hello
            .server_name()
            .and_then(|name| self.by_name.get(&normalize(name)))
            .or(self.default.as_ref())
            .cloned()
    }
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver")
            .field("names", &self.by_name.keys().collect::<Vec<_>>())
            .field("default", &self.default.is_some())
            .finish()
    }
}
