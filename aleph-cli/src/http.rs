//! `aleph get URL`, `aleph post URL` and `aleph request -X METHOD URL`: an
//! HTTP client on aleph's, with curl's conventions.

use std::error::Error;
use std::process::ExitCode;

use aleph::bytes::{self, Bytes};
use aleph::http::{header, Body, Client, ClientOptions, ClientResponse, HeaderMap, HeaderValue};
use aleph::http::{Method, Uri};
use aleph::tls::{ClientTls, ClientTlsOptions, TrustRoots};
use clap::Args;
use futures::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::http_args::{self, BodyArgs, Data, HttpArgs};
use crate::http_output;
use crate::output;

pub const GET_EXAMPLES: &str = "\
Examples:
  aleph get http://127.0.0.1:8080/                  the demo's hello (aleph demo)
  aleph get -i https://example.com/                  status line and headers first
  aleph get -v --http2 https://example.com/          both heads on stderr, over HTTP/2
  aleph get -o big.bin http://127.0.0.1:8080/bytes/1000000
  aleph get -H 'Accept: text/plain' --max-time 5 http://127.0.0.1:8080/delay/100";

pub const POST_EXAMPLES: &str = "\
Examples:
  aleph post --data 'a=1&b=2' http://127.0.0.1:8080/echo
  aleph post --data @body.bin -H 'Content-Type: application/octet-stream' http://127.0.0.1:8080/echo
  aleph post --json '{\"name\": \"aleph\"}' http://127.0.0.1:8080/echo
  aleph post --form name=aleph --form lang=rust http://127.0.0.1:8080/echo";

pub const REQUEST_EXAMPLES: &str = "\
Examples:
  aleph request -X DELETE http://127.0.0.1:8080/request
  aleph request -X PUT --data @file.txt http://127.0.0.1:8080/echo
  aleph request -X HEAD -i http://127.0.0.1:8080/";

/// `aleph get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `aleph post`.
#[derive(Debug, Args)]
pub struct PostArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub body: BodyArgs,
}

/// `aleph request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The method: GET, POST, PUT, DELETE, HEAD, OPTIONS, PATCH or any other token.
    #[arg(short = 'X', long = "request", value_name = "METHOD", value_parser = http_args::method)]
    pub method: Method,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub body: BodyArgs,
}

/// Makes the request, writes what came back, and says how it went.
pub async fn run(
    method: Method,
    args: HttpArgs,
    body: Option<BodyArgs>,
    verbose: bool,
) -> Result<ExitCode, Box<dyn Error>> {
    let client = Client::new(client_options(&args)?);
    let url = args.url.to_string();
    let mut headers = HeaderMap::new();
    for (name, value) in &args.headers {
        headers.append(name.clone(), value.clone());
    }
    let mut request = client
        .request(method.clone(), &url)
        .throw_exceptions(false)
        .save_request(verbose);
    if let Some(body) = body {
        request = with_body(request, body, &mut headers).await?;
    }
    let request = request.headers(headers);
    let mut response = request.send().await?;
    if verbose {
        tell_heads(&method, &args.url, &response);
    }
    let status = response.status();
    let head = http_output::response_head(response.version(), status, response.headers());
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = std::mem::take(response.body());
    let written = match &args.output {
        None => {
            let mut stdout = tokio::io::stdout();
            match args.include {
                true => match write_all(&mut stdout, head.as_bytes()).await {
                    Ok(()) => copy(body, &mut stdout, None, "stdout").await,
                    Err(err) => Err(err),
                },
                false => copy(body, &mut stdout, None, "stdout").await,
            }
        }
        Some(path) => {
            let mut file = tokio::fs::File::create(path)
                .await
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let dest = path.display().to_string();
            if args.include {
                // As curl: the head goes where the body goes.
                if let Err(err) = file.write_all(head.as_bytes()).await {
                    return Err(format!("cannot write to {dest}: {err}").into());
                }
            }
            let bar = http_output::progress_bar(http_output::stderr_is_terminal(), length);
            let written = copy(body, &mut file, bar.as_ref(), &dest).await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            written
        }
    };
    match written {
        Ok(()) => {}
        Err(Copy::ReaderGone) => return Ok(ExitCode::SUCCESS),
        Err(Copy::Failed(err)) => return Err(err),
    }
    if status.as_u16() >= 400 {
        output::note(&format!(
            "status {} {} from {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            response.url()
        ));
        return Ok(if args.no_fail {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// The client the flags ask for.
fn client_options(args: &HttpArgs) -> Result<ClientOptions, Box<dyn Error>> {
    let defaults = ClientOptions::default();
    let tls = match &args.cacert {
        Some(path) => {
            let pem = crate::tcp::read_cacert(path)?;
            let tls = ClientTls::new(ClientTlsOptions {
                roots: TrustRoots::Pem(pem),
                ..ClientTlsOptions::default()
            })
            .map_err(|err| format!("--cacert {}: {err}", path.display()))?;
            Some(tls)
        }
        None => None,
    };
    Ok(ClientOptions {
        http2: args.http2,
        http2_prior_knowledge: args.http2,
        tls,
        insecure: args.insecure,
        connect_timeout: args.connect_timeout.or(defaults.connect_timeout),
        response_header_timeout: args.header_timeout.or(defaults.response_header_timeout),
        read_timeout: args.read_timeout.or(defaults.read_timeout),
        request_timeout: args.max_time.or(defaults.request_timeout),
        follow_redirects: args.max_redirects > 0,
        max_redirects: args.max_redirects,
        throw_exceptions: false,
        ..defaults
    })
}

/// Sets the body of `--data`, `--json` or `--form`, and the content type
/// it implies unless a `-H` already set one.
async fn with_body(
    request: aleph::http::RequestBuilder,
    body: BodyArgs,
    headers: &mut HeaderMap,
) -> Result<aleph::http::RequestBuilder, Box<dyn Error>> {
    let mut default = |name, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    if let Some(data) = body.data {
        default(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        let body = match data {
            Data::Text(text) => Body::from(text),
            Data::Stdin => Body::from_reader(tokio::io::stdin()),
            Data::File(path) => {
                // Told now, in the flag's words, rather than once connected.
                tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| format!("cannot read --data @{}: {e}", path.display()))?;
                // Streamed with its length, and read again for a 307 or 308.
                return Ok(request.file(path));
            }
        };
        return Ok(request.body(body));
    }
    if let Some(json) = body.json {
        default(header::CONTENT_TYPE, "application/json");
        default(header::ACCEPT, "application/json");
        return Ok(request.body(json));
    }
    if !body.form.is_empty() {
        default(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        return Ok(request.form(&body.form));
    }
    Ok(request)
}

/// `-v`: the request as it was sent (`> `) and the response's head (`< `),
/// on stderr.
fn tell_heads(method: &Method, url: &Uri, response: &ClientResponse) {
    use std::io::Write;

    let mut text = String::new();
    if let Some(sent) = response.request() {
        let sent_url: Uri = sent.url.parse().unwrap_or_else(|_| url.clone());
        text.push_str(&http_output::prefixed(
            &http_output::request_head(&sent.method, &sent_url, sent.version, &sent.headers),
            "> ",
        ));
    } else {
        text.push_str(&format!("> {method} {url}\n"));
    }
    text.push_str(&http_output::prefixed(
        &http_output::response_head(response.version(), response.status(), response.headers()),
        "< ",
    ));
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.flush());
}

/// Why a copy of the body stopped early.
enum Copy {
    /// The reader of stdout went away (`| head`): a quiet end, as curl's.
    ReaderGone,
    Failed(Box<dyn Error>),
}

/// Writes the body to `out` (named `dest` in errors) chunk by chunk,
/// reading the next chunk only once the last one is written.
async fn copy(
    body: Body,
    out: &mut (impl AsyncWrite + Unpin),
    bar: Option<&indicatif::ProgressBar>,
    dest: &str,
) -> Result<(), Copy> {
    let mut chunks = bytes::into_stream(body);
    while let Some(chunk) = chunks.next().await {
        let chunk: Bytes = chunk.map_err(|e| Copy::Failed(e.into()))?;
        out.write_all(&chunk)
            .await
            .map_err(|e| write_error(e, dest))?;
        if let Some(bar) = bar {
            bar.inc(chunk.len() as u64);
        }
    }
    out.flush().await.map_err(|e| write_error(e, dest))?;
    Ok(())
}

async fn write_all(out: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> Result<(), Copy> {
    match out.write_all(bytes).await {
        Ok(()) => out.flush().await.map_err(|e| write_error(e, "stdout")),
        Err(err) => Err(write_error(err, "stdout")),
    }
}

fn write_error(err: std::io::Error, dest: &str) -> Copy {
    if output::reader_gone(&err) {
        Copy::ReaderGone
    } else {
        Copy::Failed(format!("cannot write to {dest}: {err}").into())
    }
}
