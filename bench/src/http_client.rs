//! The `http-client` benchmark: GET requests/s against one local server (raw
//! hyper, hyper-util's auto connection: HTTP/1.1 and h2c on one port,
//! answering "hello!", or 64 MiB at `/big`), made by aleph's client, by
//! reqwest and by hyper-util's legacy client, in one run.
//!
//! Cases, each over HTTP/1.1 and over h2c with prior knowledge:
//! - `seq`: one request at a time;
//! - `c64`: 64 requests in flight (HTTP/1.1 then needs 64 connections: every
//!   client is allowed as many, aleph by `connections_per_host: 64`; HTTP/2
//!   multiplexes them on one);
//! - `download-64MiB`: one 64 MiB body, read chunk by chunk as it comes.
//!
//! The server runs in a process of its own (this binary, re-executed as
//! `aleph-bench __serve-http-client`); where the machine has two cores or
//! more and `taskset` exists, it is pinned to core 0 and this process (the
//! clients, on one current-thread runtime) to core 1. Each client is made
//! once per case with its defaults for plain HTTP (and its h2c switch), and
//! warmed up before the rounds, so that connections are already open.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http_body_util::BodyExt;

use crate::measure::{interleaved, Contender, Settings};
use crate::report::{Report, ALEPH};

/// The large body's size.
const BIG: usize = 64 << 20;

/// Runs the benchmark and returns its report.
pub fn run(settings: &Settings) -> Result<Report, String> {
    let pinned = pin_to_core(1);
    let server = Server::start(pinned)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    let seq = settings.scaled(5_000);
    let c64 = settings.scaled(20_000);
    let downloads = settings.scaled(4);
    let mut report = Report::new(
        "http-client",
        format!(
            "http-client: GETs against one raw hyper server; seq = {seq} requests one at a \
             time, c64 = {c64} requests 64 in flight, download = {downloads} x 64 MiB; \
             median of {} rounds; {}",
            settings.rounds,
            if pinned {
                "server pinned to core 0, clients (one current-thread runtime) to core 1"
            } else {
                "not pinned (one core, or no taskset)"
            }
        ),
        "req",
    );
    let hello = format!("http://127.0.0.1:{}/", server.port);
    let big = format!("http://127.0.0.1:{}/big", server.port);
    for h2 in [false, true] {
        let version = if h2 { "h2c" } else { "http1" };
        let shapes = [
            ("seq", hello.as_str(), seq, 1),
            ("c64", hello.as_str(), c64, 64),
            ("download-64MiB", big.as_str(), downloads, 1),
        ];
        for (shape, url, requests, in_flight) in shapes {
            let case = format!("{version}-{shape}");
            if !settings.selects(&case) {
                continue;
            }
            let reqwest = Reqwest::new(h2)?;
            let legacy = Legacy::new(h2);
            let aleph = Aleph::new(h2);
            let mut contenders = [
                contender(&runtime, ALEPH, &aleph, url, requests, in_flight),
                contender(&runtime, "reqwest", &reqwest, url, requests, in_flight),
                contender(&runtime, "hyper-util", &legacy, url, requests, in_flight),
            ];
            for (name, time) in interleaved(settings.rounds, &mut contenders)? {
                report.add(&case, name, requests as f64 / time.as_secs_f64());
            }
        }
    }
    if pinned {
        unpin();
    }
    Ok(report)
}

/// A contender that makes `requests` GETs of `url` with `client`, at most
/// `in_flight` at once, each body read to its end.
fn contender<'a, C: Fetch>(
    runtime: &'a tokio::runtime::Runtime,
    name: &'static str,
    client: &'a C,
    url: &'a str,
    requests: u64,
    in_flight: usize,
) -> Contender<'a> {
    Contender {
        name,
        run: Box::new(move || {
            runtime.block_on(async {
                let start = Instant::now();
                let bytes = futures::stream::iter(0..requests)
                    .map(|_| client.fetch(url))
                    .buffer_unordered(in_flight)
                    .try_fold(0u64, |total, n| async move { Ok(total + n) })
                    .await?;
                let elapsed = start.elapsed();
                if bytes == 0 {
                    return Err(format!("{name}: every body was empty"));
                }
                Ok(elapsed)
            })
        }),
    }
}

/// One GET, its body read to the end; the body's length.
trait Fetch {
    fn fetch(&self, url: &str) -> impl Future<Output = Result<u64, String>>;
}

/// aleph's client, allowed as many connections per host as requests in
/// flight (its default is 8; the peers have no limit).
struct Aleph(aleph::http::Client);

impl Aleph {
    fn new(h2: bool) -> Aleph {
        Aleph(aleph::http::Client::new(aleph::http::ClientOptions {
            connections_per_host: 64,
            http2_prior_knowledge: h2,
            ..Default::default()
        }))
    }
}

impl Fetch for Aleph {
    async fn fetch(&self, url: &str) -> Result<u64, String> {
        let res = self.0.get(url).send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("aleph: status {}", res.status()));
        }
        let mut body = res.into_body();
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                n += data.len() as u64;
            }
        }
        Ok(n)
    }
}

/// reqwest, built as its documentation shows for plain HTTP.
struct Reqwest(reqwest::Client);

impl Reqwest {
    fn new(h2: bool) -> Result<Reqwest, String> {
        let builder = reqwest::Client::builder();
        let builder = if h2 {
            builder.http2_prior_knowledge()
        } else {
            builder.http1_only()
        };
        builder.build().map(Reqwest).map_err(|e| e.to_string())
    }
}

impl Fetch for Reqwest {
    async fn fetch(&self, url: &str) -> Result<u64, String> {
        let mut res = self.0.get(url).send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("reqwest: status {}", res.status()));
        }
        let mut n = 0;
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            n += chunk.len() as u64;
        }
        Ok(n)
    }
}

/// hyper-util's legacy client (the pooled client of hyper 0.14, carried over).
struct Legacy(
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<Bytes>,
    >,
);

impl Legacy {
    fn new(h2: bool) -> Legacy {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .http2_only(h2)
                .build_http();
        Legacy(client)
    }
}

impl Fetch for Legacy {
    async fn fetch(&self, url: &str) -> Result<u64, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let res = self.0.get(uri).await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("hyper-util: status {}", res.status()));
        }
        let mut body = res.into_body();
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                n += data.len() as u64;
            }
        }
        Ok(n)
    }
}

/// The server process, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(pinned: bool) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
        let mut command = if pinned {
            let mut command = Command::new("taskset");
            command.args(["-c", "0"]).arg(exe);
            command
        } else {
            Command::new(exe)
        };
        let mut child = command
            .arg("__serve-http-client")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the server's stdout is not piped")?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = read.ok().and_then(|_| line.trim().parse().ok());
        match port {
            Some(port) => Ok(Server { child, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the server printed {line:?}, not its port"))
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pins this process's main thread (and so every thread it starts after) to
/// `core`, if the machine has two cores or more and `taskset` exists.
fn pin_to_core(core: usize) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2
        && Command::new("taskset")
            .args([
                "-p",
                "-c",
                &core.to_string(),
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
}

/// Lets this process's main thread run on every core again.
fn unpin() {
    let _ = Command::new("taskset")
        .args(["-p", "-a", "0xffffffff", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The child's side: the raw hyper server on a free port; prints the port,
/// serves until killed.
pub fn serve() -> Result<(), String> {
    use std::convert::Infallible;

    use http_body_util::Full;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        println!("{port}");
        let big = Bytes::from(vec![b'x'; BIG]);
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            let big = big.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let body = if req.uri().path() == "/big" {
                        big.clone()
                    } else {
                        Bytes::from_static(b"hello!")
                    };
                    async move { Ok::<_, Infallible>(http::Response::new(Full::new(body))) }
                });
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
