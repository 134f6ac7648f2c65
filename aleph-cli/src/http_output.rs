//! What `aleph get` prints: heads as curl shows them (`-i` on stdout, `-v`
//! on stderr with `> ` and `< ` prefixes), and the body, streamed to stdout
//! or to a file with a progress bar when stderr is a terminal.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use aleph::http::{HeaderMap, Method, StatusCode, Uri, Version};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A version as a status line spells it: `HTTP/1.1`, `HTTP/2`.
pub fn version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// The response's head as `-i` prints it: the status line, one line per
/// header, and a blank line, each ending in CRLF (as curl does).
pub fn response_head(version: Version, status: StatusCode, headers: &HeaderMap) -> String {
    let mut head = match status.canonical_reason() {
        // HTTP/2 carries no reason phrase.
        Some(reason) if version != Version::HTTP_2 => {
            format!(
                "{} {} {reason}\r\n",
                self::version(version),
                status.as_u16()
            )
        }
        _ => format!("{} {}\r\n", self::version(version), status.as_u16()),
    };
    write_headers(&mut head, headers);
    head.push_str("\r\n");
    head
}

/// The request's head as `-v` shows it: the request line with the path
/// and query, then the headers that were sent.
pub fn request_head(method: &Method, url: &Uri, version: Version, headers: &HeaderMap) -> String {
    let target = url.path_and_query().map_or("/", |pq| pq.as_str());
    let mut head = format!("{method} {target} {}\r\n", self::version(version));
    if version != Version::HTTP_2 && !headers.contains_key("host") {
        if let Some(authority) = url.authority() {
            let _ = write!(head, "host: {authority}\r\n");
        }
    }
    write_headers(&mut head, headers);
    head.push_str("\r\n");
    head
}

fn write_headers(head: &mut String, headers: &HeaderMap) {
    for (name, value) in headers {
        let _ = write!(
            head,
            "{name}: {}\r\n",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
}

/// Every line of `head` with `prefix` before it and LF after it: `-v`'s
/// form on stderr.
pub fn prefixed(head: &str, prefix: &str) -> String {
    head.split_terminator("\r\n")
        .map(|line| format!("{prefix}{line}\n"))
        .collect()
}

/// The progress bar of a download to a file: only when stderr is a
/// terminal (`terminal`), never in a pipe or a log. Sized by the body's
/// length when the server said it.
pub fn progress_bar(terminal: bool, length: Option<u64>) -> Option<ProgressBar> {
    if !terminal {
        return None;
    }
    let bar = match length {
        Some(length) => ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// True if stderr is a terminal (a person watches it).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aleph::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|&(name, value)| (name.parse().unwrap(), HeaderValue::from_static(value)))
            .collect()
    }

    #[test]
    fn response_heads_read_as_curl_prints_them() {
        let h = headers(&[("content-type", "text/plain"), ("x-two", "a")]);
        assert_eq!(
            response_head(Version::HTTP_11, StatusCode::NOT_FOUND, &h),
            "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nx-two: a\r\n\r\n"
        );
        assert_eq!(
            response_head(Version::HTTP_2, StatusCode::OK, &HeaderMap::new()),
            "HTTP/2 200\r\n\r\n"
        );
        assert_eq!(
            response_head(
                Version::HTTP_11,
                StatusCode::from_u16(599).unwrap(),
                &HeaderMap::new()
            ),
            "HTTP/1.1 599\r\n\r\n"
        );
    }

    #[test]
    fn request_heads_show_the_target_and_the_host() {
        let url: Uri = "http://127.0.0.1:8080/a/b?c=d".parse().unwrap();
        let h = headers(&[("user-agent", "aleph/0.1.0")]);
        assert_eq!(
            request_head(&Method::GET, &url, Version::HTTP_11, &h),
            "GET /a/b?c=d HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nuser-agent: aleph/0.1.0\r\n\r\n"
        );
        let url: Uri = "https://localhost".parse().unwrap();
        assert_eq!(
            request_head(&Method::POST, &url, Version::HTTP_2, &HeaderMap::new()),
            "POST / HTTP/2\r\n\r\n"
        );
    }

    #[test]
    fn verbose_lines_are_prefixed_one_by_one() {
        assert_eq!(
            prefixed("HTTP/1.1 200 OK\r\na: b\r\n\r\n", "< "),
            "< HTTP/1.1 200 OK\n< a: b\n< \n"
        );
    }

    #[test]
    fn no_progress_bar_unless_stderr_is_a_terminal() {
        assert!(progress_bar(false, Some(10)).is_none());
        assert!(progress_bar(false, None).is_none());
        let bar = progress_bar(true, Some(10)).expect("a bar on a terminal");
        assert_eq!(bar.length(), Some(10));
        bar.finish_and_clear();
    }
}
