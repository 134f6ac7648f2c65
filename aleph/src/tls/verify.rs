//! Why a certificate was refused, in plain words.
//!
//! rustls reports a refused certificate as an enum built for programs
//! (`UnknownIssuer`, or a structure of algorithm identifiers when webpki tried
//! to check a self-signed certificate against an unrelated root). A person
//! needs the cause: self-signed, issued by an unknown authority, made for
//! another host name, expired. [`CertificateRefused`] says it, keeping
//! rustls' own name for the case at the end for searches and scripts;
//! [`ExplainingVerifier`] adds the one cause rustls cannot see from its error
//! alone, a self-signed certificate.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::provider;
use crate::{Error, ErrorKind, Result};

/// Why a TLS handshake refused the peer's certificate, in plain words: the
/// [`source`](std::error::Error::source) of an [`ErrorKind::Tls`] error when
/// certificate verification failed.
///
/// Its text names the cause, such as "its certificate is self-signed and
/// not trusted here (UnknownIssuer)", "its certificate is for localhost, not
/// for 127.0.0.2 (wrong host name)" or "its certificate expired on
/// 2024-01-31 23:59:59 UTC (...)"; "its" is the peer's. A program can tell
/// a refused certificate from other handshake failures by finding this type
/// in the error's source chain (to suggest trusting the certificate, say),
/// and reach rustls' own error through [`rustls_error`](Self::rustls_error).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
/// use aleph::tls::{CertificateRefused, ClientTls, ServerTls};
///
/// let server = tcp::start_server(
///     |_conn, _info| {},
///     TcpServerOptions {
///         tls: Some(ServerTls::self_signed(&["localhost"])?),
///         ..Default::default()
///     },
/// )
/// .await?;
/// let err = tcp::client(TcpClientOptions {
///     tls: Some(ClientTls::default()), // the public web's roots
///     ..TcpClientOptions::new("localhost", server.port())
/// })
/// .await
/// .unwrap_err();
/// let refused = std::error::Error::source(&err)
///     .and_then(|source| source.downcast_ref::<CertificateRefused>())
///     .expect("the certificate was refused");
/// assert!(refused.to_string().contains("self-signed"));
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CertificateRefused {
    error: rustls::Error,
}

impl CertificateRefused {
    /// rustls' own error, for programs that match on it.
    pub fn rustls_error(&self) -> &rustls::Error {
        &self.error
    }

    /// True when nothing trusted vouches for the certificate: it is
    /// self-signed, its issuer is unknown, or a trusted authority of its
    /// issuer's name holds another key. Trusting the certificate (or its
    /// issuer's) is then the cure; for every other refusal (wrong host name,
    /// expired, an algorithm that cannot be checked) trusting it changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
    /// use aleph::tls::{CertificateRefused, ClientTls, ServerTls};
    ///
    /// let server = tcp::start_server(
    ///     |_conn, _info| {},
    ///     TcpServerOptions {
    ///         tls: Some(ServerTls::self_signed(&["localhost"])?),
    ///         ..Default::default()
    ///     },
    /// )
    /// .await?;
    /// let err = tcp::client(TcpClientOptions {
    ///     tls: Some(ClientTls::default()),
    ///     ..TcpClientOptions::new("localhost", server.port())
    /// })
    /// .await
    /// .unwrap_err();
    /// let refused = std::error::Error::source(&err)
    ///     .and_then(|source| source.downcast_ref::<CertificateRefused>())
    ///     .expect("the certificate was refused");
    /// assert!(refused.is_untrusted());
    /// server.close().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_untrusted(&self) -> bool {
        match &self.error {
            rustls::Error::InvalidCertificate(cert) => {
                matches!(
                    cert,
                    CertificateError::UnknownIssuer
                        | CertificateError::BadSignature
                        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
                ) || matches!(
                    cert,
                    CertificateError::Other(OtherError(other)) if other.is::<SelfSigned>()
                )
            }
            _ => false,
        }
    }

    /// The refusal inside a failed handshake's `io::Error`, if that is why it failed.
    pub(crate) fn from_io(err: &std::io::Error) -> Option<CertificateRefused> {
        match err.get_ref()?.downcast_ref::<rustls::Error>()? {
            error @ rustls::Error::InvalidCertificate(_) => Some(CertificateRefused {
                error: error.clone(),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for CertificateRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            rustls::Error::InvalidCertificate(cert) => f.write_str(&certificate(cert)),
            other => write!(f, "its certificate was refused: {other}"),
        }
    }
}

// No `source()`: rustls' text for the same failure is the unreadable one
// this type replaces; `rustls_error` keeps it reachable.
impl std::error::Error for CertificateRefused {}

fn certificate(err: &CertificateError) -> String {
    #[allow(deprecated)] // UnsupportedSignatureAlgorithm: older verifiers still return it
    match err {
        CertificateError::Other(OtherError(other)) => {
            if let Some(self_signed) = other.downcast_ref::<SelfSigned>() {
                self_signed.to_string()
            } else if let Some(webpki::Error::CaUsedAsEndEntity) =
                other.downcast_ref::<webpki::Error>()
            {
                // What `openssl req -x509` makes unless told otherwise.
                "its certificate is a CA certificate (basic constraints CA:TRUE), which a \
                 server cannot present as its own (CaUsedAsEndEntity)"
                    .to_owned()
            } else {
                format!("its certificate was refused: {other}")
            }
        }
        CertificateError::UnknownIssuer => "its certificate was issued by an authority that is \
            not trusted here (UnknownIssuer)"
            .to_owned(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<&str> = presented.iter().map(|name| bare_name(name)).collect();
            let made_for = if names.is_empty() {
                "no host name".to_owned()
            } else {
                names.join(", ")
            };
            format!(
                "its certificate is for {made_for}, not for {} (wrong host name)",
                expected.to_str()
            )
        }
        CertificateError::NotValidForName => {
            "its certificate is for another host name (wrong host name)".to_owned()
        }
        CertificateError::ExpiredContext { time, not_after } => format!(
            "its certificate expired on {} (it is now {}) (expired)",
            date(*not_after),
            date(*time)
        ),
        CertificateError::Expired => "its certificate has expired (expired)".to_owned(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "its certificate is not valid before {} (it is now {}) (not yet valid)",
            date(*not_before),
            date(*time)
        ),
        CertificateError::NotValidYet => "its certificate is not valid yet".to_owned(),
        CertificateError::Revoked => "its certificate has been revoked".to_owned(),
        // webpki finds the issuer by name; a bad signature means a trusted
        // certificate has that name but not the key that signed this one.
        CertificateError::BadSignature => "its certificate is signed with another key than the \
            trusted authority of that name holds (BadSignature)"
            .to_owned(),
        // The algorithm fits no key the trusted authority of that name could
        // hold: another key than the one that signed.
        CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "its certificate is signed with another kind of key than the trusted authority \
             of that name holds (unsupported signature algorithm for that key)"
                .to_owned()
        }
        // webpki reports these once it found the certificate's issuer among
        // the trusted ones: trusted, but its signature cannot be checked.
        CertificateError::UnsupportedSignatureAlgorithm
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
            "its certificate is signed with an algorithm this client does not accept, such as \
             SHA-1 (unsupported signature algorithm)"
                .to_owned()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "its certificate is not meant for this use (invalid purpose)".to_owned()
        }
        CertificateError::BadEncoding => "its certificate is malformed".to_owned(),
        other => format!("its certificate was refused: {other}"),
    }
}

/// `DnsName("localhost")` and `IpAddress(127.0.0.1)`, as webpki lists the
/// names a certificate holds, as just the name.
fn bare_name(presented: &str) -> &str {
    let inner = presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(presented);
    inner.trim_matches('"')
}

/// A certificate time as a UTC date and time, such as "2024-01-31 23:59:59 UTC".
fn date(time: UnixTime) -> String {
    let secs = time.as_secs();
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar,
    // counted in 400-year eras of 146 097 days, with years starting in March).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The verifier every verifying [`ClientTls`](super::ClientTls) uses: webpki's,
/// with a refused self-signed certificate reported as such.
#[derive(Debug)]
pub(crate) struct ExplainingVerifier {
    webpki: Arc<WebPkiServerVerifier>,
}

impl ExplainingVerifier {
    /// A verifier that trusts `roots`.
    ///
    /// # Errors
    ///
    /// Kind `Tls` when rustls refuses the roots (none at all).
    pub(crate) fn new(roots: Arc<RootCertStore>) -> Result<Arc<ExplainingVerifier>> {
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|err| {
                Error::with_source(
                    ErrorKind::Tls,
                    format!("cannot verify servers with these roots: {err}"),
                    err,
                )
            })?;
        Ok(Arc::new(ExplainingVerifier { webpki }))
    }
}

impl ServerCertVerifier for ExplainingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|err| {
                // Only refusals of the issuer's identity: a certificate that
                // is trusted but signed with an algorithm webpki refuses
                // (SHA-1) is not called untrusted.
                let no_chain = matches!(
                    err,
                    rustls::Error::InvalidCertificate(
                        CertificateError::UnknownIssuer
                            | CertificateError::BadSignature
                            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
                    )
                );
                if no_chain && intermediates.is_empty() && is_self_issued(end_entity) {
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                        Arc::new(SelfSigned),
                    )))
                } else {
                    err
                }
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.webpki.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}

/// A self-signed certificate that no trusted root vouches for.
#[derive(Debug)]
struct SelfSigned;

impl fmt::Display for SelfSigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // UnknownIssuer is rustls' name for the case: its issuer is itself.
        f.write_str("its certificate is self-signed and not trusted here (UnknownIssuer)")
    }
}

impl std::error::Error for SelfSigned {}

/// True when a certificate names itself as its issuer (RFC 5280 section
/// 6.1: "self-issued"), read from its DER without a full X.509 parser.
fn is_self_issued(cert: &[u8]) -> bool {
    fn names(cert: &[u8]) -> Option<(&[u8], &[u8])> {
        let (certificate, _) = der_sequence(cert)?;
        let (mut tbs, _) = der_sequence(certificate)?;
        // TBSCertificate: [0] version (optional), serial, signature algorithm,
        // issuer, validity, subject, ...
        if tbs.first() == Some(&0xa0) {
            tbs = der_element(tbs)?.1;
        }
        let (_serial, rest) = der_element(tbs)?;
        let (_algorithm, rest) = der_element(rest)?;
        let (issuer, rest) = der_element(rest)?;
        let (_validity, rest) = der_element(rest)?;
        let (subject, _) = der_element(rest)?;
        Some((issuer, subject))
    }
    names(cert).is_some_and(|(issuer, subject)| issuer == subject)
}

/// The contents of the DER SEQUENCE at the start of `input`, and what follows it.
fn der_sequence(input: &[u8]) -> Option<(&[u8], &[u8])> {
    if input.first() != Some(&0x30) {
        return None;
    }
    der_element(input)
}

/// The contents of the DER element at the start of `input` (one tag byte,
/// a definite length), and what follows it.
fn der_element(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = input.get(2..2 + count)?;
        let len = bytes
            .iter()
            .fold(0usize, |len, &byte| (len << 8) | usize::from(byte));
        (len, 2 + count)
    };
    let end = header.checked_add(len)?;
    Some((input.get(header..end)?, input.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(error: &rustls::Error) -> String {
        CertificateRefused {
            error: error.clone(),
        }
        .to_string()
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(
            date(UnixTime::since_unix_epoch(std::time::Duration::ZERO)),
            "1970-01-01 00:00:00 UTC"
        );
        // 2000-02-29 is a leap day; 2038-01-19 03:14:07 is the 32-bit limit.
        assert_eq!(
            date(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                951_782_400
            ))),
            "2000-02-29 00:00:00 UTC"
        );
        assert_eq!(
            date(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                2_147_483_647
            ))),
            "2038-01-19 03:14:07 UTC"
        );
    }

    #[test]
    fn a_self_signed_certificate_is_self_issued_and_a_ca_issued_one_is_not() {
        let own = rcgen::KeyPair::generate().expect("key");
        let own_cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .expect("params")
            .self_signed(&own)
            .expect("certificate");
        assert!(is_self_issued(own_cert.der()));

        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let mut leaf_params = rcgen::CertificateParams::new(vec!["leaf.test".into()]).expect("p");
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "leaf.test");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf");
        assert!(!is_self_issued(leaf.der()));
    }

    #[test]
    fn garbage_is_not_self_issued() {
        assert!(!is_self_issued(b""));
        assert!(!is_self_issued(&[0x30, 0x85, 1, 2, 3, 4, 5]));
        assert!(!is_self_issued(&[0x30, 0x03, 0x30, 0x01]));
    }

    #[test]
    fn only_refusals_of_the_issuer_call_for_trusting_the_certificate() {
        let refused = |cert: CertificateError| CertificateRefused {
            error: rustls::Error::InvalidCertificate(cert),
        };
        let self_signed = CertificateError::Other(OtherError(Arc::new(SelfSigned)));
        let for_key = CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
            signature_algorithm_id: Vec::new(),
            public_key_algorithm_id: Vec::new(),
        };
        for untrusted in [
            self_signed,
            CertificateError::UnknownIssuer,
            CertificateError::BadSignature,
            for_key,
        ] {
            assert!(refused(untrusted.clone()).is_untrusted(), "{untrusted:?}");
        }
        let algorithm = CertificateError::UnsupportedSignatureAlgorithmContext {
            signature_algorithm_id: Vec::new(),
            supported_algorithms: Vec::new(),
        };
        let ca = CertificateError::Other(OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)));
        for trusted_or_not in [
            algorithm.clone(),
            ca.clone(),
            CertificateError::NotValidForName,
            CertificateError::Expired,
            CertificateError::BadEncoding,
        ] {
            assert!(
                !refused(trusted_or_not.clone()).is_untrusted(),
                "{trusted_or_not:?}"
            );
        }
        assert!(!CertificateRefused {
            error: rustls::Error::NoCertificatesPresented
        }
        .is_untrusted());
        assert!(refused(algorithm).to_string().contains("such as SHA-1"));
        assert!(refused(ca).to_string().contains("a CA certificate"));
    }

    #[test]
    fn reasons_are_plain_words_naming_the_cause() {
        let name = reason(&rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("127.0.0.2").expect("name"),
                presented: vec![
                    "DnsName(\"localhost\")".into(),
                    "IpAddress(127.0.0.1)".into(),
                ],
            },
        ));
        assert_eq!(
            name,
            "its certificate is for localhost, 127.0.0.1, not for 127.0.0.2 (wrong host name)"
        );
        let expired = reason(&rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(951_782_400)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::ZERO),
            },
        ));
        assert!(expired.contains("expired on 1970-01-01"), "{expired}");
        let early = reason(&rustls::Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::ZERO),
                not_before: UnixTime::since_unix_epoch(std::time::Duration::from_secs(951_782_400)),
            },
        ));
        assert_eq!(
            early,
            "its certificate is not valid before 2000-02-29 00:00:00 UTC (it is now \
             1970-01-01 00:00:00 UTC) (not yet valid)"
        );
        let unknown = reason(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(
            unknown.contains("not trusted here (UnknownIssuer)"),
            "{unknown}"
        );
        let self_signed = reason(&rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(SelfSigned)),
        )));
        assert!(reason(&rustls::Error::NoCertificatesPresented).contains("refused"));
        assert!(self_signed.contains("self-signed"), "{self_signed}");
    }
}
