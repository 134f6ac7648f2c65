//! Redirect rules (RFC 9110 §15.4): which status is followed, with which
//! method, and what is kept when the origin changes.

use http::header::{self, HeaderMap};
use http::{Method, StatusCode};
use url::Url;

/// How a redirect is to be followed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Redirect {
    pub(crate) url: Url,
    pub(crate) method: Method,
    /// The body is sent again (307 / 308); otherwise dropped with its
    /// headers.
    pub(crate) keep_body: bool,
}

/// The redirect `status` and `location` ask for, from `current` sent with
/// `method`; `None` when the status is not a redirect or the location is
/// missing or unusable.
pub(crate) fn follow(
    status: StatusCode,
    location: Option<&str>,
    current: &Url,
    method: &Method,
) -> Option<Redirect> {
    let (method, keep_body) = match status.as_u16() {
        // §15.4.2-3: user agents change POST to GET on 301 / 302, as every
        // browser does.
        301 | 302 if *method == Method::POST => (Method::GET, false),
        301 | 302 => (method.clone(), true),
        // §15.4.4: 303 answers with another resource, fetched by GET (a HEAD
        // stays HEAD).
        303 if *method == Method::HEAD => (Method::HEAD, false),
        303 => (Method::GET, false),
        // §15.4.8-9: 307 / 308 keep the method and the body.
        307 | 308 => (method.clone(), true),
        _ => return None,
    };
    let url = current.join(location?.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(Redirect {
        url,
        method,
        keep_body,
    })
}

/// Whether two URLs share an origin (scheme, host and port).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Removes what must not follow a request to another origin: credentials,
/// cookies, and a `Host` the caller set (it names the first origin).
pub(crate) fn strip_credentials(headers: &mut HeaderMap) {
    headers.remove(header::HOST);
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::PROXY_AUTHORIZATION);
    headers.remove(header::COOKIE);
    headers.remove(header::WWW_AUTHENTICATE);
}

/// Removes the body's headers, for a redirect that drops the body.
pub(crate) fn strip_body_headers(headers: &mut HeaderMap) {
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::CONTENT_LANGUAGE,
        header::CONTENT_LOCATION,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn post_becomes_get_on_301_302_303_and_stays_on_307_308() {
        let here = url("http://a/x");
        for code in [301, 302, 303] {
            let r = follow(
                StatusCode::from_u16(code).unwrap(),
                Some("/y"),
                &here,
                &Method::POST,
            )
            .unwrap();
            assert_eq!((r.method, r.keep_body), (Method::GET, false), "{code}");
            assert_eq!(r.url.as_str(), "http://a/y");
        }
        for code in [307, 308] {
            let r = follow(
                StatusCode::from_u16(code).unwrap(),
                Some("y"),
                &here,
                &Method::POST,
            )
            .unwrap();
            assert_eq!((r.method, r.keep_body), (Method::POST, true), "{code}");
        }
        let r = follow(StatusCode::SEE_OTHER, Some("/y"), &here, &Method::PUT).unwrap();
        assert_eq!(r.method, Method::GET);
        let r = follow(StatusCode::FOUND, Some("/y"), &here, &Method::PUT).unwrap();
        assert_eq!(r.method, Method::PUT);
    }

    #[test]
    fn no_location_or_a_non_http_scheme_is_not_followed() {
        let here = url("http://a/x");
        assert!(follow(StatusCode::FOUND, None, &here, &Method::GET).is_none());
        assert!(follow(StatusCode::FOUND, Some("ftp://b/"), &here, &Method::GET).is_none());
        assert!(follow(StatusCode::OK, Some("/y"), &here, &Method::GET).is_none());
        assert!(follow(StatusCode::NOT_MODIFIED, Some("/y"), &here, &Method::GET).is_none());
    }

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        assert!(same_origin(&url("http://a/x"), &url("http://a:80/y")));
        assert!(!same_origin(&url("http://a/"), &url("https://a/")));
        assert!(!same_origin(&url("http://a/"), &url("http://b/")));
        assert!(!same_origin(&url("http://a:1/"), &url("http://a:2/")));
    }
}
