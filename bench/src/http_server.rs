//! The `http-server` benchmark: the hello handler (200, `text/plain`,
//! "hello!") served by aleph, by raw hyper (hyper-util's auto connection and
//! a `service_fn`), by axum and by actix-web, under `wrk` (HTTP/1.1,
//! keep-alive, 64 connections) and `h2load` (h2c, 64 connections, 10
//! streams each; aleph vs raw hyper) in one run.
//!
//! Each server runs in a process of its own (this binary, re-executed as
//! `aleph-bench __serve-http <name>`), so that its resident memory can be
//! read from `/proc/<pid>/status` after the load. Where the machine has two
//! cores or more and `taskset` exists, the server is pinned to core 0 and the
//! load generator to core 1, so that they do not take turns on one core;
//! each server's runtime then sizes itself to its one core.
//!
//! Reported per server and load: requests/s, p99 latency and resident
//! memory, with RATIO lines of the requests/s. `wrk` and `h2load` come from
//! `scripts/install-test-peers.sh`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::measure::Settings;
use crate::report::{Report, ALEPH};

/// The servers, by the name they run under.
const SERVERS: [&str; 4] = [ALEPH, "hyper", "axum", "actix-web"];
/// The servers measured over h2c (axum and actix-web are HTTP/1 here).
const H2_SERVERS: [&str; 2] = [ALEPH, "hyper"];

/// Runs the benchmark and returns its report.
pub fn run(settings: &Settings) -> Result<Report, String> {
    for program in ["wrk", "h2load"] {
        if Command::new(program).arg("--version").output().is_err() {
            return Err(format!(
                "`{program}` is not installed: run scripts/install-test-peers.sh"
            ));
        }
    }
    let pin = Pinning::detect();
    let seconds = settings.scaled(5).max(1);
    let h2_requests = settings.scaled(200_000);
    let mut report = Report::new(
        "http-server",
        format!(
            "http-server: hello handler; wrk -c64 keep-alive for {seconds}s (HTTP/1.1) and \
             h2load -c64 -m10 for {h2_requests} requests (h2c); median of {} rounds; {}",
            settings.rounds,
            pin.describe()
        ),
        "req",
    );

    if settings.selects("http1") {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); SERVERS.len()];
        for round in 0..=settings.rounds {
            let mut order: Vec<usize> = (0..SERVERS.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for index in order {
                let sample = measure(SERVERS[index], &pin, |port| wrk(&pin, port, seconds))?;
                // Round 0 warms up (caches, allocator, the kernel's sockets).
                if round > 0 {
                    samples[index].push(sample);
                }
            }
        }
        for (name, samples) in SERVERS.iter().zip(samples) {
            let median = Sample::median(samples);
            report.add("http1-wrk-c64", name, median.per_second);
            report.note(format!(
                "http1-wrk-c64 {name}: p99 {:.2} ms, server RSS {} MiB",
                median.p99_ms,
                median.rss_kib / 1024
            ));
        }
    }

    if settings.selects("h2c") {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); H2_SERVERS.len()];
        for round in 0..=settings.rounds {
            let mut order: Vec<usize> = (0..H2_SERVERS.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for index in order {
                let sample = measure(H2_SERVERS[index], &pin, |port| {
                    h2load(&pin, port, h2_requests)
                })?;
                if round > 0 {
                    samples[index].push(sample);
                }
            }
        }
        for (name, samples) in H2_SERVERS.iter().zip(samples) {
            let median = Sample::median(samples);
            report.add("h2c-h2load-c64-m10", name, median.per_second);
            report.note(format!(
                "h2c-h2load-c64-m10 {name}: p99 {:.2} ms, server RSS {} MiB",
                median.p99_ms,
                median.rss_kib / 1024
            ));
        }
    }
    Ok(report)
}

/// One load run against one server.
#[derive(Clone, Copy, Debug)]
struct Sample {
    per_second: f64,
    p99_ms: f64,
    rss_kib: u64,
}

impl Sample {
    /// The sample with the median throughput (its latency and memory with it).
    fn median(mut samples: Vec<Sample>) -> Sample {
        samples.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        samples[samples.len() / 2]
    }
}

/// Where the server and the load generator run.
struct Pinning {
    taskset: bool,
}

impl Pinning {
    fn detect() -> Pinning {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = cores >= 2 && Command::new("taskset").arg("-V").output().is_ok();
        Pinning { taskset }
    }

    fn describe(&self) -> &'static str {
        if self.taskset {
            "server pinned to core 0, load generator to core 1"
        } else {
            "not pinned (one core, or no taskset)"
        }
    }

    fn command(&self, core: usize, program: &str) -> Command {
        if self.taskset {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// Starts `server` in its own process, runs `load` against its port, and
/// reads the server's resident memory before stopping it.
fn measure(
    server: &str,
    pin: &Pinning,
    load: impl FnOnce(u16) -> Result<(f64, f64), String>,
) -> Result<Sample, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let exe = exe.to_string_lossy().into_owned();
    let mut child = pin
        .command(0, &exe)
        .args(["__serve-http", server])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the {server} server: {e}"))?;
    let result = (|| {
        let port = read_port(&mut child, server)?;
        let (per_second, p99_ms) = load(port)?;
        let rss_kib = rss_kib(child.id())?;
        Ok(Sample {
            per_second,
            p99_ms,
            rss_kib,
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The port the child prints on its first line once it listens.
fn read_port(child: &mut Child, server: &str) -> Result<u16, String> {
    let stdout = child
        .stdout
        .take()
        .ok_or("the server's stdout is not piped")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("reading the {server} server's port: {e}"))?;
    line.trim()
        .parse()
        .map_err(|_| format!("the {server} server printed {line:?}, not its port"))
}

fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading the server's memory: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/<pid>/status".to_owned())
}

/// `wrk` for `seconds` with 64 keep-alive connections: requests/s and p99 (ms).
fn wrk(pin: &Pinning, port: u16, seconds: u64) -> Result<(f64, f64), String> {
    let output = pin
        .command(1, "wrk")
        .args([
            "-t",
            "1",
            "-c",
            "64",
            "-d",
            &format!("{seconds}s"),
            "--latency",
        ])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("wrk reported failures:\n{text}"));
    }
    let per_second = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rest| rest.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99 = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("99%"))
        .and_then(|rest| duration_ms(rest.trim()))
        .ok_or_else(|| format!("no 99% latency in wrk's output:\n{text}"))?;
    Ok((per_second, p99))
}

/// A wrk duration such as "1.23ms", "850.00us" or "1.02s", in ms.
fn duration_ms(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// `h2load` over h2c: requests/s and p99 (ms) from its per-request log.
fn h2load(pin: &Pinning, port: u16, requests: u64) -> Result<(f64, f64), String> {
    let log = std::env::temp_dir().join(format!("aleph-bench-h2load-{}.log", std::process::id()));
    let output = pin
        .command(1, "h2load")
        .args([
            "-n",
            &requests.to_string(),
            "-c",
            "64",
            "-m",
            "10",
            "--log-file",
        ])
        .arg(&log)
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .map_err(|e| format!("cannot run h2load: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let all_ok = format!("{requests} succeeded, 0 failed, 0 errored");
    if !output.status.success() || !text.contains(&all_ok) {
        return Err(format!("h2load reported failures:\n{text}"));
    }
    // "finished in 1.23s, 81234.56 req/s, 4.56MB/s"
    let per_second = text
        .lines()
        .find_map(|line| line.strip_prefix("finished in "))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|rate| rate.strip_suffix(" req/s"))
        .and_then(|rate| rate.parse().ok())
        .ok_or_else(|| format!("no req/s in h2load's output:\n{text}"))?;
    // Each line: start time (µs since epoch), status, duration (µs).
    let durations = std::fs::read_to_string(&log).map_err(|e| format!("h2load's log: {e}"))?;
    let _ = std::fs::remove_file(&log);
    let mut micros: Vec<u64> = durations
        .lines()
        .filter_map(|line| line.split('\t').nth(2)?.trim().parse().ok())
        .collect();
    if micros.is_empty() {
        return Err("h2load's log has no requests".to_owned());
    }
    micros.sort_unstable();
    let p99 = micros[(micros.len() * 99 / 100).min(micros.len() - 1)] as f64 / 1000.0;
    Ok((per_second, p99))
}

/// The child's side: serves `name`'s hello server on a free port, prints the
/// port, and serves until killed.
pub fn serve(name: &str) -> Result<(), String> {
    match name {
        "actix-web" => peers::actix(),
        _ => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
            runtime.block_on(async {
                let port = match name {
                    ALEPH => peers::aleph().await?,
                    "hyper" => peers::hyper().await?,
                    "axum" => peers::axum().await?,
                    other => return Err(format!("no server named {other}")),
                };
                println!("{port}");
                std::future::pending::<()>().await;
                Ok(())
            })
        }
    }
}

/// The hello server of each contender, as its own documentation writes it.
mod peers {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    const HELLO: &str = "hello!";

    pub(super) async fn aleph() -> Result<u16, String> {
        use aleph::http::{self, Request, ServerOptions};

        fn hello(_req: Request) -> &'static str {
            HELLO
        }
        let server = http::start_server(
            hello,
            ServerOptions {
                backlog: 4096,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let port = server.port();
        std::mem::forget(server);
        Ok(port)
    }

    pub(super) async fn hyper() -> Result<u16, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let builder = builder.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_req| async {
                        let mut res =
                            http::Response::new(Full::new(Bytes::from_static(HELLO.as_bytes())));
                        res.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("text/plain; charset=utf-8"),
                        );
                        Ok::<_, Infallible>(res)
                    });
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(port)
    }

    pub(super) async fn axum() -> Result<u16, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { HELLO }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(port)
    }

    pub(super) fn actix() -> Result<(), String> {
        actix_web::rt::System::new().block_on(async {
            let server = actix_web::HttpServer::new(|| {
                actix_web::App::new().route(
                    "/",
                    actix_web::web::get().to(|| async {
                        actix_web::HttpResponse::Ok()
                            .content_type("text/plain; charset=utf-8")
                            .body(HELLO)
                    }),
                )
            })
            .bind(("127.0.0.1", 0))
            .map_err(|e| e.to_string())?;
            let port = server.addrs()[0].port();
            println!("{port}");
            server.run().await.map_err(|e| e.to_string())
        })
    }
}
