//! The demo's HTTP service, in the spirit of httpbin: endpoints any HTTP
//! client can be tried against (listed in `aleph demo --help`).

use std::fmt::Write as _;
use std::time::Duration;

use aleph::bytes::{self, Bytes};
use aleph::http::{header, sse, Body, HeaderValue, IntoResponse, Request, Response, StatusCode};
use aleph::stream::Channel;

const MAX_DELAY_MS: u64 = 60_000;
const MAX_BYTES: u64 = 100 * 1024 * 1024;

/// Answers one request of the demo's HTTP service.
pub async fn handle(req: Request) -> Response {
    let path = req.uri().path().to_owned();
    match path.as_str() {
        "/" => "hello!".into_response(),
        "/stream" => stream(&req),
        "/events" => events(&req),
        "/upload" => upload(req).await,
        "/echo" => echo(req),
        "/request" => request_json(&req),
        _ => {
            if let Some(code) = path.strip_prefix("/status/") {
                status(code)
            } else if let Some(ms) = path.strip_prefix("/delay/") {
                delay(ms).await
            } else if let Some(n) = path.strip_prefix("/bytes/") {
                random_bytes(n)
            } else {
                (
                    StatusCode::NOT_FOUND,
                    "no such endpoint; see `aleph demo --help`\n",
                )
                    .into_response()
            }
        }
    }
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, message + "\n").into_response()
}

/// A query parameter as a number, or its default when absent.
fn number(req: &Request, name: &str, default: u64) -> Result<u64, String> {
    match req.query_params().get(name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("{name} must be a whole number, got {text:?}")),
    }
}

fn stream(req: &Request) -> Response {
    let (n, ms) = match (number(req, "n", 10), number(req, "ms", 0)) {
        (Ok(n), Ok(ms)) if ms <= MAX_DELAY_MS => (n, ms),
        (Err(message), _) | (_, Err(message)) => return bad_request(message),
        _ => return bad_request(format!("ms must be at most {MAX_DELAY_MS}")),
    };
    let chunks = Channel::buffered(1);
    let producer = chunks.clone();
    tokio::spawn(async move {
        for i in 0..n {
            if i > 0 && ms > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if producer.send(format!("chunk {i}\n")).await.is_err() {
                return; // the client went away
            }
        }
        producer.close();
    });
    let mut res = Response::new(Body::from(chunks));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn events(req: &Request) -> Response {
    let ms = match number(req, "ms", 1000) {
        Ok(ms) if (1..=MAX_DELAY_MS).contains(&ms) => ms,
        Ok(_) => return bad_request(format!("ms must be 1 to {MAX_DELAY_MS}")),
        Err(message) => return bad_request(message),
    };
    let events = Channel::buffered(1);
    let producer = events.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(ms));
        for i in 0u64.. {
            ticks.tick().await;
            let event = sse::Event::data(format!("tick {i}")).with_id(i.to_string());
            if producer.send(event).await.is_err() {
                return; // the client went away
            }
        }
    });
    sse::response(events)
}

async fn upload(req: Request) -> Response {
    use tokio::io::AsyncReadExt;

    let mut body = bytes::into_async_read(req.into_body());
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match body.read(&mut buffer).await {
            Ok(0) => return format!("{total}\n").into_response(),
            Ok(n) => total += n as u64,
            Err(error) => return bad_request(format!("the upload broke off: {error}")),
        }
    }
}

fn echo(req: Request) -> Response {
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let mut res = Response::new(req.into_body());
    if let Some(content_type) = content_type {
        res.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    res
}

fn request_json(req: &Request) -> Response {
    let mut json = String::from("{");
    let method = req.request_method().as_str().to_ascii_lowercase();
    let _ = write!(json, "\"request_method\":{},", quote(&method));
    let _ = write!(json, "\"uri\":{},", quote(req.uri().path()));
    match req.query_string() {
        Some(query) => {
            let _ = write!(json, "\"query_string\":{},", quote(query));
        }
        None => json.push_str("\"query_string\":null,"),
    }
    json.push_str("\"headers\":{");
    let mut first = true;
    for name in req.headers().keys() {
        if !first {
            json.push(',');
        }
        first = false;
        let values: Vec<String> = req
            .headers()
            .get_all(name)
            .iter()
            .map(|value| quote(&String::from_utf8_lossy(value.as_bytes())))
            .collect();
        let _ = write!(json, "{}:[{}]", quote(name.as_str()), values.join(","));
    }
    json.push_str("},");
    let remote = req.remote_addr().map(|addr| addr.ip().to_string());
    let _ = write!(
        json,
        "\"remote_addr\":{},",
        remote.as_deref().map_or("null".to_owned(), quote)
    );
    let _ = write!(json, "\"server_name\":{},", quote(&req.server_name()));
    let _ = write!(json, "\"server_port\":{},", req.server_port());
    let _ = write!(json, "\"scheme\":{},", quote(req.scheme().as_str()));
    let version = match req.version() {
        aleph::http::Version::HTTP_10 => "HTTP/1.0",
        aleph::http::Version::HTTP_2 => "HTTP/2",
        aleph::http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    };
    let _ = write!(json, "\"version\":{},", quote(version));
    let _ = write!(json, "\"tls\":{}", req.is_tls());
    json.push_str("}\n");
    let mut res = json.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// A JSON string literal (RFC 8259 §7).
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn status(code: &str) -> Response {
    match code.parse::<u16>() {
        Ok(code @ 200..=599) => match StatusCode::from_u16(code) {
            Ok(status) => status.into_response(),
            Err(_) => bad_request(format!("{code} is not a status code")),
        },
        _ => bad_request(format!("the status must be 200 to 599, got {code:?}")),
    }
}

async fn delay(ms: &str) -> Response {
    match ms.parse::<u64>() {
        Ok(ms) if ms <= MAX_DELAY_MS => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            "hello!".into_response()
        }
        _ => bad_request(format!(
            "the delay must be 0 to {MAX_DELAY_MS} ms, got {ms:?}"
        )),
    }
}

fn random_bytes(n: &str) -> Response {
    let len = match n.parse::<u64>() {
        Ok(len) if len <= MAX_BYTES => len,
        _ => {
            return bad_request(format!(
                "the size must be 0 to {MAX_BYTES} bytes, got {n:?}"
            ))
        }
    };
    // Streamed in 64 KiB chunks under a declared length: the whole never sits
    // in memory. xorshift64*, seeded from the length: the same N, the same bytes.
    let mut state = len.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = len;
    let chunks = std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let size = left.min(64 * 1024) as usize;
        left -= size as u64;
        let mut chunk = Vec::with_capacity(size + 8);
        while chunk.len() < size {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            chunk.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        chunk.truncate(size);
        Some(Bytes::from(chunk))
    });
    let mut res = Response::new(Body::from_iterator(chunks));
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    res
}
