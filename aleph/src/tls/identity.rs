//! A certificate chain with its private key, and the PEM handling around it.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{provider, CertCount};
use crate::{Error, ErrorKind, Result};

/// A certificate chain (leaf first) and its private key: what a server shows
/// its clients, or what a client shows a server under mutual TLS.
///
/// Building an `Identity` checks it: the PEM must parse, the key must be one
/// rustls can sign with (RSA, ECDSA P-256 / P-384 or Ed25519; PKCS#8, PKCS#1
/// or SEC1), and the key must belong to the leaf certificate. A wrong pairing
/// fails here with a clear error rather than at the first handshake.
///
/// Cloning is cheap (an `Arc` inside). `Debug` never shows the key.
///
/// # Examples
///
/// ```
/// use aleph::tls::Identity;
///
/// let identity = Identity::self_signed(&["localhost", "127.0.0.1"])?;
/// assert_eq!(identity.chain().len(), 1);
/// assert!(identity.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// # Ok::<(), aleph::Error>(())
/// ```
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    key: PrivateKeyDer<'static>,
    certified: Arc<CertifiedKey>,
}

impl Identity {
    /// Reads an identity from PEM: `chain_pem` holds the certificates, leaf
    /// first, then any intermediates; `key_pem` holds the private key
    /// (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    ///
    /// Other PEM sections are skipped, so both may be the same bytes when
    /// one file holds the chain and the key.
    ///
    /// # Errors
    ///
    /// An error of kind [`Tls`](crate::ErrorKind::Tls) that says what failed:
    /// malformed PEM, no certificate, no private key, a key rustls cannot use,
    /// or a key that does not match the leaf certificate.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tls::Identity;
    ///
    /// let err = Identity::from_pem(b"not pem", b"not pem either").unwrap_err();
    /// assert!(err.is_tls());
    /// assert!(err.to_string().contains("no certificate found"));
    /// ```
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Identity> {
        let chain = parse_certificates(chain_pem, "the certificate chain PEM")?;
        let key = parse_private_key(key_pem, "the private key PEM")?;
        Identity::from_parts(chain, key, "")
    }

    /// Reads an identity from two PEM files, as [`from_pem`](Identity::from_pem)
    /// does; they may be the same file.
    ///
    /// # Errors
    ///
    /// An error that names the file: of kind [`Io`](crate::ErrorKind::Io)
    /// when a file cannot be read, of kind [`Tls`](crate::ErrorKind::Tls) when
    /// its contents are not a usable certificate chain or key.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tls::Identity;
    ///
    /// let err = Identity::from_pem_files("/no/such/chain.pem", "/no/such/key.pem").unwrap_err();
    /// assert!(err.is_io());
    /// assert!(err.to_string().contains("/no/such/chain.pem"));
    /// ```
    pub fn from_pem_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Identity> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        let chain_what = format!("certificate chain file {}", chain.display());
        let key_what = format!("private key file {}", key.display());
        let chain_der = parse_certificates(&read_file(chain, &chain_what)?, &chain_what)?;
        let key_der = parse_private_key(&read_file(key, &key_what)?, &key_what)?;
        let context = format!(" ({} and {})", chain.display(), key.display());
        Identity::from_parts(chain_der, key_der, &context)
    }

    /// Generates a self-signed certificate and a fresh ECDSA P-256 key, for
    /// tests, demos and development servers.
    ///
    /// Each of `names` becomes a subject alternative name: an IP address
    /// (`"127.0.0.1"`, `"::1"`) as an IP address name, anything else as a
    /// DNS name (`"localhost"`, `"*.example.test"`). The first name is also
    /// the subject's common name. A client trusts the result through
    /// [`certificate_pem`](Identity::certificate_pem).
    ///
    /// # Errors
    ///
    /// An error of kind [`Tls`](crate::ErrorKind::Tls) when `names` is empty
    /// or a name is neither an IP address nor a valid DNS name.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tls::Identity;
    ///
    /// let identity = Identity::self_signed(&["localhost", "::1"])?;
    /// assert_eq!(identity.chain().len(), 1);
    /// assert!(Identity::self_signed(&[]).is_err());
    /// # Ok::<(), aleph::Error>(())
    /// ```
    pub fn self_signed(names: &[&str]) -> Result<Identity> {
        let Some(first) = names.first() else {
            return Err(Error::new(
                ErrorKind::Tls,
                "a self-signed certificate needs at least one name",
            ));
        };
        for name in names {
            // rcgen takes any ASCII as a DNS name; a name no client could ever
            // match is better refused here.
            let dns = name.strip_prefix("*.").unwrap_or(name);
            if name.parse::<IpAddr>().is_err() && DnsName::try_from(dns).is_err() {
                return Err(Error::new(
                    ErrorKind::Tls,
                    format!("{name:?} is neither a DNS name nor an IP address"),
                ));
            }
        }
        let sans: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(sans).map_err(|err| {
            Error::with_source(
                ErrorKind::Tls,
                format!("cannot make a self-signed certificate for {names:?}"),
                err,
            )
        })?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, *first);
        let generated = rcgen::KeyPair::generate()
            .and_then(|key| Ok((params.self_signed(&key)?, key)))
            .map_err(|err| {
                Error::with_source(
                    ErrorKind::Tls,
                    format!("cannot make a self-signed certificate for {names:?}"),
                    err,
                )
            })?;
        let (cert, key) = generated;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Identity::from_parts(vec![cert.der().clone()], key, "")
    }

    /// The leaf certificate as PEM, for a client that should trust this
    /// identity, typically a self-signed one (see
    /// [`TrustRoots::Pem`](super::TrustRoots::Pem) and
    /// [`ClientTls::trusting_pem`](super::ClientTls::trusting_pem)).
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::tls::{ClientTls, Identity};
    ///
    /// let identity = Identity::self_signed(&["localhost"])?;
    /// let client = ClientTls::trusting_pem(identity.certificate_pem().as_bytes())?;
    /// # Ok::<(), aleph::Error>(())
    /// ```
    pub fn certificate_pem(&self) -> String {
        // A chain is never empty: every constructor checks it.
        self.chain()
            .first()
            .map(|leaf| encode_pem("CERTIFICATE", leaf))
            .unwrap_or_default()
    }

    /// The certificate chain, leaf first.
    ///
    /// # Examples
    ///
    /// ```
    /// let identity = aleph::tls::Identity::self_signed(&["localhost"])?;
    /// let leaf = &identity.chain()[0];
    /// assert!(!leaf.is_empty());
    /// # Ok::<(), aleph::Error>(())
    /// ```
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.inner.certified.cert
    }

    /// The chain and key, loaded and checked, as rustls signs with them.
    pub(crate) fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.inner.certified
    }

    /// A copy of the private key, for rustls builders that load it themselves.
    pub(crate) fn private_key(&self) -> PrivateKeyDer<'static> {
        self.inner.key.clone_key()
    }

    /// Loads the key with the ring provider and checks that it belongs to the
    /// leaf; `context` ends error messages (such as the file names).
    fn from_parts(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        context: &str,
    ) -> Result<Identity> {
        let signing_key = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|err| {
                Error::with_source(
                    ErrorKind::Tls,
                    format!("unusable private key{context}"),
                    err,
                )
            })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => {}
            // A key type that cannot tell its public half is trusted as given,
            // as rustls itself does.
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(Error::new(
                    ErrorKind::Tls,
                    format!(
                        "the private key does not match the leaf certificate's public key{context}"
                    ),
                ));
            }
            Err(err) => {
                return Err(Error::with_source(
                    ErrorKind::Tls,
                    format!("invalid leaf certificate{context}"),
                    err,
                ));
            }
        }
        Ok(Identity {
            inner: Arc::new(Inner {
                key,
                certified: Arc::new(certified),
            }),
        })
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &CertCount(self.chain()))
            .field("key", &"<hidden>")
            .finish()
    }
}

/// Reads a file whole; the error names it as `what`.
pub(super) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|err| Error::with_source(ErrorKind::Io, format!("cannot read {what}"), err))
}

/// Every `CERTIFICATE` section of `pem_bytes`, in order; at least one.
pub(super) fn parse_certificates(
    pem_bytes: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| pem_error(err, what))?;
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::Tls,
            format!(
                "no certificate found in {what} (expected a -----BEGIN CERTIFICATE----- section)"
            ),
        ));
    }
    Ok(certs)
}

/// The first private key section of `pem_bytes`.
fn parse_private_key(pem_bytes: &[u8], what: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem_bytes).map_err(|err| match err {
        pem::Error::NoItemsFound => Error::new(
            ErrorKind::Tls,
            format!(
                "no private key found in {what} (expected a PRIVATE KEY, RSA PRIVATE KEY \
                 or EC PRIVATE KEY section; an ENCRYPTED PRIVATE KEY must be decrypted first)"
            ),
        ),
        err => pem_error(err, what),
    })
}

fn pem_error(err: pem::Error, what: &str) -> Error {
    let reason = match &err {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a section has no end line {:?}",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed section start line {:?}",
            String::from_utf8_lossy(line)
        ),
        _ => return Error::with_source(ErrorKind::Tls, format!("invalid PEM in {what}"), err),
    };
    Error::with_source(
        ErrorKind::Tls,
        format!("invalid PEM in {what}: {reason}"),
        err,
    )
}

/// Encodes DER as a PEM section with the standard 64-column base64 lines
/// (RFC 7468 section 2).
fn encode_pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let group = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                base64.push(ALPHABET[(group >> (18 - 6 * i)) as usize & 63]);
            } else {
                base64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in base64.chunks(64) {
        // The alphabet is ASCII, so every line is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_encoding_pads_like_rfc_4648() {
        let body = |der: &[u8]| {
            encode_pem("X", der)
                .lines()
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(body(b"f"), "Zg==");
        assert_eq!(body(b"fo"), "Zm8=");
        assert_eq!(body(b"foo"), "Zm9v");
        assert_eq!(body(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn pem_encoding_round_trips_through_the_parser() {
        let der: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let pem = encode_pem("CERTIFICATE", &der);
        assert!(pem.lines().all(|line| line.len() <= 64));
        let back = parse_certificates(pem.as_bytes(), "test").expect("parses");
        assert_eq!(back, vec![CertificateDer::from(der)]);
    }
}
