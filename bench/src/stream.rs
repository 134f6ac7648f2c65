//! `stream`: messages per second through a bounded channel, aleph's `Channel` against
//! `tokio::sync::mpsc`, `async-channel`, `kanal` (async API) and `flume` (async API),
//! all with the same capacity on the same multi-thread runtime; and `pingpong`, round
//! trips per second between two tasks over two channels of capacity 1 (latency: each
//! message waits for the one before it).

use std::future::Future;
use std::time::{Duration, Instant};

use aleph::stream::Channel;
use bytes::Bytes;
use tokio::runtime::Runtime;

use crate::measure::{interleaved, Contender, Settings};
use crate::report::{Report, ALEPH};

/// Every channel in this benchmark holds this many messages before a send waits.
const CAPACITY: usize = 1024;

/// Messages per run at scale 1.0: enough for a run of a few hundred milliseconds.
const MESSAGES: u64 = 2_000_000;

/// Length of the `Bytes` payload; every message is a clone of one shared buffer, so a
/// send costs a reference count, not an allocation.
const CHUNK: usize = 64;

/// Round trips per ping-pong run at scale 1.0.
const ROUND_TRIPS: u64 = 100_000;

/// The channels aleph is measured against.
#[derive(Clone, Copy)]
enum Peer {
    TokioMpsc,
    AsyncChannel,
    Kanal,
    Flume,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::TokioMpsc => "tokio-mpsc",
            Peer::AsyncChannel => "async-channel",
            Peer::Kanal => "kanal",
            Peer::Flume => "flume",
        }
    }
}

/// Every peer: all take one consumer (tokio's mpsc takes only one).
const ALL_PEERS: [Peer; 4] = [
    Peer::TokioMpsc,
    Peer::AsyncChannel,
    Peer::Kanal,
    Peer::Flume,
];

/// The peers with several consumers.
const MPMC_PEERS: [Peer; 3] = [Peer::AsyncChannel, Peer::Kanal, Peer::Flume];

/// How many tasks send and how many receive.
#[derive(Clone, Copy)]
struct Shape {
    producers: u64,
    consumers: u64,
}

impl Shape {
    fn name(self) -> String {
        format!("{}to{}", self.producers, self.consumers)
    }

    /// The peers that support this shape: tokio's mpsc has a single consumer.
    fn peers(self) -> &'static [Peer] {
        if self.consumers == 1 {
            &ALL_PEERS
        } else {
            &MPMC_PEERS
        }
    }
}

const SHAPES: [Shape; 3] = [
    Shape {
        producers: 1,
        consumers: 1,
    },
    Shape {
        producers: 4,
        consumers: 1,
    },
    Shape {
        producers: 4,
        consumers: 4,
    },
];

/// Runs the `stream` benchmark.
pub fn run(settings: &Settings) -> Result<Report, String> {
    let (runtime, workers) = crate::measure::runtime()?;
    let messages = settings.scaled(MESSAGES);
    let trips = settings.scaled(ROUND_TRIPS);
    let mut report = Report::new(
        "stream",
        format!(
            "stream: {messages} messages per run through a bounded channel of capacity \
             {CAPACITY} (pingpong: {trips} round trips over two channels of capacity 1, \
             counted as messages); tokio multi-thread runtime, {workers} workers; median of \
             {} rounds",
            settings.rounds
        ),
        "msg",
    );

    let chunk = Bytes::from(vec![0xa5; CHUNK]);
    for shape in SHAPES {
        case(
            &runtime,
            settings,
            &mut report,
            shape,
            "u64",
            messages,
            7u64,
        )?;
        case(
            &runtime,
            settings,
            &mut report,
            shape,
            "bytes",
            messages,
            chunk.clone(),
        )?;
    }
    pingpong(&runtime, settings, &mut report, trips)?;
    Ok(report)
}

/// Measures one shape with one payload for aleph and each of the shape's peers.
fn case<T: Clone + Send + Sync + 'static>(
    runtime: &Runtime,
    settings: &Settings,
    report: &mut Report,
    shape: Shape,
    payload: &str,
    messages: u64,
    message: T,
) -> Result<(), String> {
    let name = format!("{}/{payload}", shape.name());
    if !settings.selects(&name) {
        return Ok(());
    }
    let mut contenders = vec![Contender {
        name: ALEPH,
        run: Box::new(|| aleph_run(runtime, shape, messages, &message)),
    }];
    for &peer in shape.peers() {
        let run: Box<dyn FnMut() -> Result<Duration, String> + '_> = match peer {
            Peer::TokioMpsc => Box::new(|| tokio_run(runtime, shape, messages, &message)),
            Peer::AsyncChannel => {
                Box::new(|| async_channel_run(runtime, shape, messages, &message))
            }
            Peer::Kanal => Box::new(|| kanal_run(runtime, shape, messages, &message)),
            Peer::Flume => Box::new(|| flume_run(runtime, shape, messages, &message)),
        };
        contenders.push(Contender {
            name: peer.name(),
            run,
        });
    }
    for (implementation, time) in interleaved(settings.rounds, &mut contenders)? {
        report.add(&name, implementation, messages as f64 / time.as_secs_f64());
    }
    eprintln!("measured {name}");
    Ok(())
}

/// How many of `messages` producer `index` of `producers` sends; the first takes the
/// remainder.
fn share(messages: u64, producers: u64, index: u64) -> u64 {
    messages / producers + if index == 0 { messages % producers } else { 0 }
}

fn aleph_run<T: Clone + Send + Sync + 'static>(
    runtime: &Runtime,
    shape: Shape,
    messages: u64,
    message: &T,
) -> Result<Duration, String> {
    let channel = Channel::<T>::buffered(CAPACITY);
    let producers = (0..shape.producers).map(|i| {
        let tx = channel.sender();
        let message = message.clone();
        let count = share(messages, shape.producers, i);
        async move {
            for _ in 0..count {
                if tx.send(message.clone()).await.is_err() {
                    break;
                }
            }
        }
    });
    let consumers = (0..shape.consumers).map(|_| {
        let rx = channel.receiver();
        async move {
            let mut received = 0u64;
            while rx.recv().await.is_some() {
                received += 1;
            }
            received
        }
    });
    let (producers, consumers): (Vec<_>, Vec<_>) = (producers.collect(), consumers.collect());
    // Only the handles moved into the tasks may keep the channel open.
    drop(channel);
    drive(runtime, messages, producers, consumers)
}

fn tokio_run<T: Clone + Send + Sync + 'static>(
    runtime: &Runtime,
    shape: Shape,
    messages: u64,
    message: &T,
) -> Result<Duration, String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<T>(CAPACITY);
    let producers: Vec<_> = (0..shape.producers)
        .map(|i| {
            let tx = tx.clone();
            let message = message.clone();
            let count = share(messages, shape.producers, i);
            async move {
                for _ in 0..count {
                    if tx.send(message.clone()).await.is_err() {
                        break;
                    }
                }
            }
        })
        .collect();
    drop(tx);
    let consumer = async move {
        let mut received = 0u64;
        while rx.recv().await.is_some() {
            received += 1;
        }
        received
    };
    drive(runtime, messages, producers, vec![consumer])
}

/// Defines `$name`, the throughput run of a multi-consumer peer: `$pair` makes a
/// sender and a receiver of capacity [`CAPACITY`], `$send` sends `$v` on `$tx` and
/// says whether it was accepted, `$recv` says whether a value came from `$rx`.
macro_rules! mpmc_run {
    ($name:ident, $pair:expr, |$tx:ident, $v:ident| $send:expr, |$rx:ident| $recv:expr) => {
        fn $name<T: Clone + Send + Sync + 'static>(
            runtime: &Runtime,
            shape: Shape,
            messages: u64,
            message: &T,
        ) -> Result<Duration, String> {
            let (tx, rx) = $pair(CAPACITY);
            let producers: Vec<_> = (0..shape.producers)
                .map(|i| {
                    let $tx = tx.clone();
                    let message = message.clone();
                    let count = share(messages, shape.producers, i);
                    async move {
                        for _ in 0..count {
                            let $v: T = message.clone();
                            if !$send {
                                break;
                            }
                        }
                    }
                })
                .collect();
            let consumers: Vec<_> = (0..shape.consumers)
                .map(|_| {
                    let $rx = rx.clone();
                    async move {
                        let mut received = 0u64;
                        while $recv {
                            received += 1;
                        }
                        received
                    }
                })
                .collect();
            drop((tx, rx));
            drive(runtime, messages, producers, consumers)
        }
    };
}

mpmc_run!(
    async_channel_run,
    async_channel::bounded,
    |tx, v| tx.send(v).await.is_ok(),
    |rx| rx.recv().await.is_ok()
);
mpmc_run!(
    kanal_run,
    kanal::bounded_async,
    |tx, v| tx.send(v).await.is_ok(),
    |rx| rx.recv().await.is_ok()
);
mpmc_run!(
    flume_run,
    flume::bounded,
    |tx, v| tx.send_async(v).await.is_ok(),
    |rx| rx.recv_async().await.is_ok()
);

/// Measures ping-pong round trips for aleph and every peer.
fn pingpong(
    runtime: &Runtime,
    settings: &Settings,
    report: &mut Report,
    trips: u64,
) -> Result<(), String> {
    let name = "pingpong/u64";
    if !settings.selects(name) {
        return Ok(());
    }
    let mut contenders = vec![Contender {
        name: ALEPH,
        run: Box::new(|| aleph_pingpong(runtime, trips)),
    }];
    for peer in ALL_PEERS {
        let run: Box<dyn FnMut() -> Result<Duration, String> + '_> = match peer {
            Peer::TokioMpsc => Box::new(|| tokio_pingpong(runtime, trips)),
            Peer::AsyncChannel => Box::new(|| async_channel_pingpong(runtime, trips)),
            Peer::Kanal => Box::new(|| kanal_pingpong(runtime, trips)),
            Peer::Flume => Box::new(|| flume_pingpong(runtime, trips)),
        };
        contenders.push(Contender {
            name: peer.name(),
            run,
        });
    }
    for (implementation, time) in interleaved(settings.rounds, &mut contenders)? {
        report.add(name, implementation, trips as f64 / time.as_secs_f64());
    }
    eprintln!("measured {name}");
    Ok(())
}

/// Defines `$name`, a ping-pong run: `$pair` makes a sender and a receiver of
/// capacity 1; `$send` sends `$v` on `$tx` and says whether it was accepted; `$recv`
/// takes the next value from `$rx` as an `Option`.
macro_rules! pingpong_run {
    ($name:ident, $pair:expr, |$tx:ident, $v:ident| $send:expr, |$rx:ident| $recv:expr) => {
        fn $name(runtime: &Runtime, trips: u64) -> Result<Duration, String> {
            let (ping_tx, ping_rx) = $pair(1);
            let (pong_tx, pong_rx) = $pair(1);
            runtime.block_on(async move {
                let start = Instant::now();
                let ponger = tokio::spawn(async move {
                    #[allow(unused_mut)]
                    let mut $rx = ping_rx;
                    let $tx = pong_tx;
                    while let Some($v) = $recv {
                        let $v: u64 = $v;
                        if !$send {
                            break;
                        }
                    }
                });
                let pinger = tokio::spawn(async move {
                    let $tx = ping_tx;
                    #[allow(unused_mut)]
                    let mut $rx = pong_rx;
                    let mut back = 0u64;
                    for $v in 0..trips {
                        if !$send {
                            break;
                        }
                        match $recv {
                            Some(v) if v == $v => back += 1,
                            _ => break,
                        }
                    }
                    back
                });
                let back = pinger
                    .await
                    .map_err(|e| format!("the pinger failed: {e}"))?;
                ponger
                    .await
                    .map_err(|e| format!("the ponger failed: {e}"))?;
                let elapsed = start.elapsed();
                if back != trips {
                    return Err(format!("{trips} pings but {back} pongs"));
                }
                Ok(elapsed)
            })
        }
    };
}

/// A channel of `capacity`, as its sending and receiving halves.
fn aleph_pair(capacity: usize) -> (aleph::stream::Sender<u64>, aleph::stream::Receiver<u64>) {
    Channel::buffered(capacity).split()
}

pingpong_run!(
    aleph_pingpong,
    aleph_pair,
    |tx, v| tx.send(v).await.is_ok(),
    |rx| rx.recv().await
);
pingpong_run!(
    tokio_pingpong,
    tokio::sync::mpsc::channel::<u64>,
    |tx, v| tx.send(v).await.is_ok(),
    |rx| rx.recv().await
);
pingpong_run!(
    async_channel_pingpong,
    async_channel::bounded::<u64>,
    |tx, v| tx.send(v).await.is_ok(),
    |rx| rx.recv().await.ok()
);
pingpong_run!(
    kanal_pingpong,
    kanal::bounded_async::<u64>,
    |tx, v| tx.send(v).await.is_ok(),
    |rx| rx.recv().await.ok()
);
pingpong_run!(
    flume_pingpong,
    flume::bounded::<u64>,
    |tx, v| tx.send_async(v).await.is_ok(),
    |rx| rx.recv_async().await.ok()
);

/// Spawns the consumers, then the producers, on `runtime`'s workers and times them all
/// to completion; checks that the consumers together received every message.
fn drive<P, C>(
    runtime: &Runtime,
    messages: u64,
    producers: Vec<P>,
    consumers: Vec<C>,
) -> Result<Duration, String>
where
    P: Future<Output = ()> + Send + 'static,
    C: Future<Output = u64> + Send + 'static,
{
    runtime.block_on(async move {
        let start = Instant::now();
        let consumers: Vec<_> = consumers.into_iter().map(tokio::spawn).collect();
        let producers: Vec<_> = producers.into_iter().map(tokio::spawn).collect();
        for producer in producers {
            producer
                .await
                .map_err(|e| format!("a producer failed: {e}"))?;
        }
        let mut received = 0;
        for consumer in consumers {
            received += consumer
                .await
                .map_err(|e| format!("a consumer failed: {e}"))?;
        }
        let elapsed = start.elapsed();
        if received != messages {
            return Err(format!("sent {messages} messages but {received} arrived"));
        }
        Ok(elapsed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_every_message() {
        for producers in 1..=5 {
            let total: u64 = (0..producers).map(|i| share(1003, producers, i)).sum();
            assert_eq!(total, 1003);
        }
    }
}
