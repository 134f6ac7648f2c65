//! `aleph-bench`: side-by-side benchmarks of aleph against peer crates.
//!
//! `aleph-bench <name>` runs one benchmark, `aleph-bench all` runs every one and
//! `aleph-bench list` lists them. Each prints a table and one
//! `RATIO <bench>/<case> vs <peer>: <x.xx>` line per case and peer (aleph's throughput
//! over the peer's). `ALEPH_BENCH_SCALE` scales every workload (default 1.0).

mod bus;
mod http_client;
mod http_server;
mod measure;
mod report;
mod stream;
mod tcp_echo;
mod udp;

use std::process::ExitCode;

use measure::Settings;
use report::Report;

/// A benchmark the harness can run by name.
struct Benchmark {
    name: &'static str,
    description: &'static str,
    run: fn(&Settings) -> Result<Report, String>,
}

/// Every benchmark, in the order `all` runs them.
const BENCHMARKS: &[Benchmark] = &[
    Benchmark {
        name: "stream",
        description:
            "messages/s through a bounded channel: aleph Channel vs tokio mpsc and async-channel",
        run: stream::run,
    },
    Benchmark {
        name: "bus",
        description:
            "messages/s published on aleph's stream::Bus to 1/16/256 subscribers vs tokio broadcast",
        run: bus::run,
    },
    Benchmark {
        name: "tcp-echo",
        description: "round trips/s through aleph's TCP echo server vs a raw tokio echo server",
        run: tcp_echo::run,
    },
    Benchmark {
        name: "udp",
        description: "datagrams/s echoed by aleph's UDP echo vs a raw tokio UdpSocket echo",
        run: udp::run,
    },
    Benchmark {
        name: "http-server",
        description: "requests/s, p99 and RSS of the hello handler under wrk (HTTP/1.1) and h2load (h2c): aleph vs raw hyper, axum and actix-web",
        run: http_server::run,
    },
    Benchmark {
        name: "http-client",
        description: "GET requests/s (sequential, 64 in flight) and a 64 MiB download over HTTP/1.1 and h2c from one raw hyper server: aleph's client vs reqwest and hyper-util's legacy client",
        run: http_client::run,
    },
];

/// Measured rounds per case; each implementation runs once per round.
const ROUNDS: usize = 5;

const USAGE: &str =
    "usage: aleph-bench <name> | all | list   (ALEPH_BENCH_SCALE=<factor> scales the workload, ALEPH_BENCH_CASE=<text> keeps the cases whose name contains it, ALEPH_BENCH_ROUNDS=<n> sets the rounds)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The http-server benchmark runs each server in a child of this binary.
    if let [serve, name] = args.as_slice() {
        if serve == "__serve-http" {
            return match http_server::serve(name) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("aleph-bench: {name} server: {message}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    if let [serve] = args.as_slice() {
        if serve == "__serve-http-client" {
            return match http_client::serve() {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("aleph-bench: http-client server: {message}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    let [arg] = args.as_slice() else {
        eprintln!("aleph-bench: expected one argument; {USAGE}");
        return ExitCode::from(2);
    };
    let selected: Vec<&Benchmark> = match arg.as_str() {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "list" => {
            let width = BENCHMARKS.iter().map(|b| b.name.len()).max().unwrap_or(0);
            for bench in BENCHMARKS {
                println!("{:<width$}  {}", bench.name, bench.description);
            }
            return ExitCode::SUCCESS;
        }
        "all" => BENCHMARKS.iter().collect(),
        name => match BENCHMARKS.iter().find(|b| b.name == name) {
            Some(bench) => vec![bench],
            None => {
                eprintln!(
                    "aleph-bench: unknown benchmark '{name}' (`aleph-bench list` lists them)"
                );
                return ExitCode::from(2);
            }
        },
    };

    let settings = match settings_from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("aleph-bench: {message}");
            return ExitCode::from(2);
        }
    };

    for (i, bench) in selected.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match (bench.run)(&settings) {
            Ok(report) => report.print(),
            Err(message) => {
                eprintln!("aleph-bench: {}: {message}", bench.name);
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn settings_from_env() -> Result<Settings, String> {
    let scale = match std::env::var("ALEPH_BENCH_SCALE") {
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => scale,
            _ => {
                return Err(format!(
                    "ALEPH_BENCH_SCALE must be a positive number, got '{text}'"
                ))
            }
        },
        Err(std::env::VarError::NotPresent) => 1.0,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err("ALEPH_BENCH_SCALE is not valid UTF-8".to_owned())
        }
    };
    let rounds = match std::env::var("ALEPH_BENCH_ROUNDS") {
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(rounds) if rounds > 0 => rounds,
            _ => {
                return Err(format!(
                    "ALEPH_BENCH_ROUNDS must be a positive integer, got '{text}'"
                ))
            }
        },
        Err(_) => ROUNDS,
    };
    Ok(Settings {
        scale,
        rounds,
        only: std::env::var("ALEPH_BENCH_CASE")
            .ok()
            .filter(|only| !only.is_empty()),
    })
}
