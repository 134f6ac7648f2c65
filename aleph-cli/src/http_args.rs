//! The arguments of `aleph get`, `aleph post` and `aleph request`, with
//! curl's spelling where a user's fingers expect it. Every value is checked
//! as it is parsed, so a bad one is a usage error (exit status 2) with
//! clap's full message.

use std::path::PathBuf;
use std::time::Duration;

use aleph::http::{HeaderName, HeaderValue, Method, Uri};
use clap::Args;

use crate::args;

/// What every HTTP subcommand takes.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// The URL to fetch: http:// or https://.
    #[arg(value_name = "URL", value_parser = url)]
    pub url: Uri,
    /// Add a request header, as 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Write the body to FILE instead of stdout (with a progress bar when stderr is a
    /// terminal).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the response's status line and headers before its body.
    #[arg(short, long)]
    pub include: bool,
    /// Use HTTP/2: offered by ALPN on https, spoken at once (prior knowledge) on http.
    #[arg(long)]
    pub http2: bool,
    /// Trust the certificates in this PEM file (a private CA, or a self-signed server's own
    /// certificate) instead of the bundled roots.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub cacert: Option<PathBuf>,
    /// Accept any certificate and host name on https (for testing only).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// The longest connecting may take (resolving, connecting, the TLS handshake), in
    /// seconds; fractions allowed. Default: 10.
    #[arg(long, value_name = "SECONDS", value_parser = args::positive_seconds)]
    pub connect_timeout: Option<Duration>,
    /// The longest the server may take to send the response's head once the request is
    /// sent, in seconds. Default: 60.
    #[arg(long, value_name = "SECONDS", value_parser = args::positive_seconds)]
    pub header_timeout: Option<Duration>,
    /// The longest the server may stay silent while the body is read, in seconds.
    /// Default: no limit.
    #[arg(long, value_name = "SECONDS", value_parser = args::positive_seconds)]
    pub read_timeout: Option<Duration>,
    /// The longest the whole request may take, body included, in seconds. Default: no
    /// limit.
    #[arg(short = 'm', long, value_name = "SECONDS", value_parser = args::positive_seconds)]
    pub max_time: Option<Duration>,
    /// Redirects followed before giving up; 0 follows none.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_redirects: usize,
    /// Exit 0 even when the status is 400 or more (read it with -i).
    #[arg(long)]
    pub no_fail: bool,
}

/// The request body flags of `aleph post` and `aleph request`; at most one.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct BodyArgs {
    /// Send this body; @FILE streams the file, @- stdin. Content-Type
    /// application/x-www-form-urlencoded unless -H sets one.
    #[arg(short, long, value_name = "DATA", value_parser = data)]
    pub data: Option<Data>,
    /// Send this JSON text (checked first), with Content-Type and Accept application/json.
    #[arg(long, value_name = "JSON", value_parser = json)]
    pub json: Option<String>,
    /// Add a form field, as NAME=VALUE (repeatable; sent urlencoded).
    #[arg(long = "form", value_name = "NAME=VALUE", value_parser = form_field)]
    pub form: Vec<(String, String)>,
}

/// The body of `--data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    /// `--data TEXT`
    Text(String),
    /// `--data @FILE`
    File(PathBuf),
    /// `--data @-`
    Stdin,
}

/// Parses an http or https URL with a host.
pub fn url(text: &str) -> Result<Uri, String> {
    if !text.contains("://") {
        return Err(format!("'{text}' has no scheme: write http://{text}"));
    }
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(format!(
                "'{text}': the scheme {other}:// is not supported (use http:// or https://)"
            ))
        }
        None => return Err(format!("'{text}' has no scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("'{text}' has no host"));
    }
    Ok(uri)
}

/// Parses `Name: value`. A value holding CR or LF (which would start another
/// header or end the head) is refused, as is a name that is not a token.
pub fn header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    if text.contains(['\r', '\n']) {
        return Err(format!(
            "{text:?} holds a line break (CR or LF): one header per -H"
        ));
    }
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not a header: write 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{}' is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of {name} holds a control character"))?;
    Ok((name, value))
}

/// Parses `--data`: `@FILE`, `@-`, or the text itself.
pub fn data(text: &str) -> Result<Data, String> {
    match text.strip_prefix('@') {
        Some("-") => Ok(Data::Stdin),
        Some("") => Err("'@' names no file: write @FILE, or @- for stdin".to_owned()),
        Some(path) => Ok(Data::File(PathBuf::from(path))),
        None => Ok(Data::Text(text.to_owned())),
    }
}

/// Parses `--json`: the text, once it is valid JSON.
pub fn json(text: &str) -> Result<String, String> {
    serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("not valid JSON: {e}"))?;
    Ok(text.to_owned())
}

/// Parses `--form NAME=VALUE`.
pub fn form_field(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not a form field: write NAME=VALUE"))?;
    if name.is_empty() {
        return Err(format!("'{text}' has no field name before '='"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Parses `-X METHOD`: a method token, upper-cased as curl users write it.
pub fn method(text: &str) -> Result<Method, String> {
    Method::from_bytes(text.as_bytes()).map_err(|_| format!("'{text}' is not an HTTP method"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_an_http_scheme_and_a_host() {
        assert_eq!(url("http://127.0.0.1:8080/x?y=1").unwrap().path(), "/x");
        assert!(url("https://localhost/").is_ok());
        assert!(url("ftp://h/").unwrap_err().contains("not supported"));
        assert!(url("example.com/").unwrap_err().contains("no scheme"));
        assert!(url("http://").is_err());
        assert!(url("http://exa mple/").unwrap_err().contains("not a URL"));
    }

    #[test]
    fn headers_split_at_the_first_colon_and_refuse_line_breaks() {
        let (name, value) = header("X-Thing:  a: b ").unwrap();
        assert_eq!(name, "x-thing");
        assert_eq!(value, "a: b");
        assert_eq!(header("Empty:").unwrap().1, "");
        assert!(header("X: a\r\nEvil: yes")
            .unwrap_err()
            .contains("line break"));
        assert!(header("X: a\nb").unwrap_err().contains("line break"));
        assert!(header("X: a\rb").unwrap_err().contains("line break"));
        assert!(header("no colon").unwrap_err().contains("'Name: value'"));
        assert!(header("bad name: v")
            .unwrap_err()
            .contains("not a header name"));
        assert!(header(": v").unwrap_err().contains("not a header name"));
        assert!(header("X: a\0b").unwrap_err().contains("control character"));
    }

    #[test]
    fn data_names_a_file_stdin_or_itself() {
        assert_eq!(data("a=1"), Ok(Data::Text("a=1".into())));
        assert_eq!(data("@body.bin"), Ok(Data::File("body.bin".into())));
        assert_eq!(data("@-"), Ok(Data::Stdin));
        assert!(data("@").is_err());
    }

    #[test]
    fn json_must_parse_and_stays_as_written() {
        assert_eq!(json(r#"{"a": [1, 2]}"#).unwrap(), r#"{"a": [1, 2]}"#);
        assert!(json("{a: 1}").unwrap_err().starts_with("not valid JSON"));
        assert!(json("").is_err());
        assert!(json("[1] trailing").is_err());
    }

    #[test]
    fn form_fields_and_methods() {
        assert_eq!(form_field("k=v=w"), Ok(("k".into(), "v=w".into())));
        assert_eq!(form_field("k="), Ok(("k".into(), String::new())));
        assert!(form_field("=v").is_err());
        assert!(form_field("kv").is_err());
        assert_eq!(method("PURGE").unwrap().as_str(), "PURGE");
        assert!(method("BAD METHOD").is_err());
    }
}
