//! Client-side TLS: options, the configuration handle and insecure mode.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WantsClientCert;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ConfigBuilder, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::verify::ExplainingVerifier;
use super::{alpn_protocols, provider, Identity, TrustRoots};
use crate::{Error, ErrorKind, Result};

/// Options for [`ClientTls::new`].
///
/// # Examples
///
/// ```
/// use aleph::tls::{ClientTls, ClientTlsOptions, TrustRoots};
///
/// let client = ClientTls::new(ClientTlsOptions {
///     roots: TrustRoots::System,
///     alpn: vec!["h2".into(), "http/1.1".into()],
///     ..Default::default()
/// });
/// // Building fails only if the system has no usable root certificates.
/// # drop(client);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ClientTlsOptions {
    /// The certificate authorities that vouch for servers.
    /// Default: [`TrustRoots::WebPki`] (the bundled Mozilla roots).
    pub roots: TrustRoots,
    /// **Turns off all server authentication**: any certificate is accepted,
    /// for any host name, from anyone, and `roots` is ignored. A connection
    /// made this way is encrypted but can be intercepted by whoever sits on
    /// the network path. For tests and local debugging only; never ship it.
    /// Default: `false`.
    pub insecure: bool,
    /// A client certificate, for servers that ask for one (mutual TLS).
    /// Default: `None`.
    pub identity: Option<Identity>,
    /// ALPN protocols to offer, in order of preference, such as
    /// `["h2", "http/1.1"]`. Default: empty (no ALPN).
    pub alpn: Vec<String>,
}

/// A client's TLS configuration: a cheap, cloneable handle on a
/// `rustls::ClientConfig`, used by every aleph client that speaks TLS.
///
/// The server's certificate must chain to the trusted roots and be valid for
/// the host name (or IP address) the client connects to, unless the client
/// was built [`insecure`](ClientTls::insecure). Protocol versions are TLS 1.3
/// and TLS 1.2, on the ring crypto provider.
///
/// `ClientTls::default()` trusts the bundled Mozilla roots and offers no ALPN.
///
/// # Examples
///
/// ```
/// use aleph::tls::ClientTls;
///
/// let public_web = ClientTls::default();
/// let for_tests = ClientTls::insecure();
/// ```
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// Builds a client configuration from options.
    ///
    /// # Errors
    ///
    /// An error of kind [`Tls`](crate::ErrorKind::Tls) when the roots cannot
    /// be used (malformed PEM, no certificate, no system roots), an ALPN name
    /// is empty or longer than 255 bytes, or the client certificate is
    /// rejected by rustls.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tls::{ClientTls, ClientTlsOptions, TrustRoots};
    ///
    /// let err = ClientTls::new(ClientTlsOptions {
    ///     roots: TrustRoots::Pem(b"no certificates here".to_vec()),
    ///     ..Default::default()
    /// })
    /// .unwrap_err();
    /// assert!(err.is_tls());
    /// assert!(err.to_string().contains("trust roots"));
    /// ```
    pub fn new(options: ClientTlsOptions) -> Result<ClientTls> {
        let ClientTlsOptions {
            roots,
            insecure,
            identity,
            alpn,
        } = options;
        let builder = if insecure {
            insecure_builder()
        } else {
            builder()
                .dangerous()
                .with_custom_certificate_verifier(ExplainingVerifier::new(roots.root_store()?)?)
        };
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some(identity) => builder
                .with_client_auth_cert(identity.chain().to_vec(), identity.private_key())
                .map_err(|err| {
                    Error::with_source(ErrorKind::Tls, "unusable client certificate", err)
                })?,
        };
        config.alpn_protocols = alpn_protocols(alpn)?;
        Ok(ClientTls::from(config))
    }

    /// A client that **accepts any server certificate for any host name**.
    ///
    /// The traffic is encrypted but the server is not authenticated, so
    /// anyone on the network path can impersonate it. For tests and local
    /// debugging only (see [`ClientTlsOptions::insecure`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let client = aleph::tls::ClientTls::insecure();
    /// ```
    pub fn insecure() -> ClientTls {
        ClientTls::from(insecure_builder().with_no_client_auth())
    }

    /// A client that trusts the certificates in `pem` and nothing else: a
    /// private CA, or a self-signed server's
    /// [`certificate_pem`](Identity::certificate_pem). Host names are still
    /// verified.
    ///
    /// # Errors
    ///
    /// An error of kind [`Tls`](crate::ErrorKind::Tls) when `pem` holds no
    /// usable certificate.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tls::{ClientTls, Identity};
    ///
    /// let server_identity = Identity::self_signed(&["localhost"])?;
    /// let client = ClientTls::trusting_pem(server_identity.certificate_pem().as_bytes())?;
    /// # Ok::<(), aleph::Error>(())
    /// ```
    pub fn trusting_pem(pem: &[u8]) -> Result<ClientTls> {
        ClientTls::new(ClientTlsOptions {
            roots: TrustRoots::Pem(pem.to_vec()),
            ..ClientTlsOptions::default()
        })
    }

    /// The rustls configuration, for code that drives rustls or tokio-rustls
    /// itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let tls = aleph::tls::ClientTls::default();
    /// let connector = tokio_rustls::TlsConnector::from(tls.config().clone());
    /// ```
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// The tokio-rustls connector that runs client handshakes.
    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }
}

impl Default for ClientTls {
    fn default() -> ClientTls {
        ClientTls::from(
            builder()
                .dangerous()
                .with_custom_certificate_verifier(
                    ExplainingVerifier::new(super::roots::webpki_store())
                        .expect("the bundled roots are not empty"),
                )
                .with_no_client_auth(),
        )
    }
}

impl From<Arc<ClientConfig>> for ClientTls {
    fn from(config: Arc<ClientConfig>) -> ClientTls {
        ClientTls { config }
    }
}

impl From<ClientConfig> for ClientTls {
    fn from(config: ClientConfig) -> ClientTls {
        ClientTls::from(Arc::new(config))
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("alpn", &super::alpn_names(&self.config.alpn_protocols))
            .finish_non_exhaustive()
    }
}

fn builder() -> ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        // Only a provider without TLS 1.2 and 1.3 cipher suites fails here,
        // and the ring provider has both.
        .expect("the ring provider supports the default TLS versions")
}

fn insecure_builder() -> ConfigBuilder<ClientConfig, WantsClientCert> {
    builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer {
            provider: provider(),
        }))
}

/// Insecure mode's verifier: it accepts any chain for any name, but still
/// checks the handshake signatures, so the peer must at least hold the key of
/// the certificate it shows.
#[derive(Debug)]
struct AcceptAnyServer {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
