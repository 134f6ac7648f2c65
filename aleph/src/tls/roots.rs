//! The certificates a side trusts to vouch for its peer.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

use super::identity::parse_certificates;
use super::CertCount;
use crate::{Error, ErrorKind, Result};

/// Which certificate authorities a client trusts for servers, or a server
/// for client certificates.
///
/// Default: [`TrustRoots::WebPki`].
///
/// # Examples
///
/// ```
/// use aleph::tls::{ClientTls, ClientTlsOptions, Identity, TrustRoots};
///
/// // Trust one self-signed server and nothing else.
/// let server_identity = Identity::self_signed(&["localhost"])?;
/// let client = ClientTls::new(ClientTlsOptions {
///     roots: TrustRoots::Pem(server_identity.certificate_pem().into_bytes()),
///     ..Default::default()
/// })?;
/// # Ok::<(), aleph::Error>(())
/// ```
#[derive(Clone, Default)]
pub enum TrustRoots {
    /// The Mozilla root program's certificate authorities, bundled into the
    /// program (the `webpki-roots` crate): the same answer on every machine.
    #[default]
    WebPki,
    /// The operating system's trusted certificates, read (through
    /// `rustls-native-certs`) each time a configuration is built. Building
    /// fails if none can be loaded.
    System,
    /// Certificates in PEM (`-----BEGIN CERTIFICATE-----` sections): a
    /// private CA, or a self-signed server's own certificate.
    Pem(Vec<u8>),
    /// Certificates already decoded to DER.
    Certificates(Vec<CertificateDer<'static>>),
}

impl TrustRoots {
    /// The roots as rustls' store.
    ///
    /// # Errors
    ///
    /// Kind `Tls` when the PEM does not parse, holds no certificate, a
    /// certificate cannot serve as a trust anchor, or no certificate is left.
    pub(crate) fn root_store(&self) -> Result<Arc<RootCertStore>> {
        match self {
            TrustRoots::WebPki => Ok(webpki_store()),
            TrustRoots::System => system_store(),
            TrustRoots::Pem(pem) => {
                let certs = parse_certificates(pem, "the trust roots PEM")?;
                anchor_store(&certs)
            }
            TrustRoots::Certificates(certs) => anchor_store(certs),
        }
    }
}

impl fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustRoots::WebPki => f.write_str("WebPki"),
            TrustRoots::System => f.write_str("System"),
            TrustRoots::Pem(pem) => write!(f, "Pem([{} bytes])", pem.len()),
            TrustRoots::Certificates(certs) => f
                .debug_tuple("Certificates")
                .field(&CertCount(certs))
                .finish(),
        }
    }
}

/// The bundled roots never change, so one store serves every configuration.
pub(super) fn webpki_store() -> Arc<RootCertStore> {
    static STORE: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        })
        .clone()
}

fn system_store() -> Result<Arc<RootCertStore>> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    // A system bundle often holds a few certificates webpki cannot use; as
    // long as some load, the rest are skipped, as browsers do.
    store.add_parsable_certificates(loaded.certs);
    if store.is_empty() {
        let reasons = if loaded.errors.is_empty() {
            "the system has none".to_owned()
        } else {
            loaded
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(Error::new(
            ErrorKind::Tls,
            format!("no system root certificates could be loaded: {reasons}"),
        ));
    }
    Ok(Arc::new(store))
}

fn anchor_store(certs: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>> {
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::Tls,
            "no trust root certificates given",
        ));
    }
    let mut store = RootCertStore::empty();
    for (index, cert) in certs.iter().enumerate() {
        store.add(cert.clone()).map_err(|err| {
            Error::with_source(
                ErrorKind::Tls,
                format!(
                    "trust root certificate {} of {} cannot be used",
                    index + 1,
                    certs.len()
                ),
                err,
            )
        })?;
    }
    Ok(Arc::new(store))
}
