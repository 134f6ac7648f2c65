//! `stream`: messages per second through a bounded channel, aleph's `Channel` against
//! `tokio::sync::mpsc` and `async-channel`, all with the same capacity on the same
//! multi-thread runtime.

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

/// The channels aleph is measured against.
#[derive(Clone, Copy)]
enum Peer {
    TokioMpsc,
    AsyncChannel,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::TokioMpsc => "tokio-mpsc",
            Peer::AsyncChannel => "async-channel",
        }
    }
}

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
            &[Peer::TokioMpsc, Peer::AsyncChannel]
        } else {
            &[Peer::AsyncChannel]
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
    let mut report = Report::new(
        "stream",
        format!(
            "stream: {messages} messages per run through a bounded channel of capacity \
             {CAPACITY}; tokio multi-thread runtime, {workers} workers; median of {} rounds",
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

fn async_channel_run<T: Clone + Send + Sync + 'static>(
    runtime: &Runtime,
    shape: Shape,
    messages: u64,
    message: &T,
) -> Result<Duration, String> {
    let (tx, rx) = async_channel::bounded::<T>(CAPACITY);
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
    let consumers: Vec<_> = (0..shape.consumers)
        .map(|_| {
            let rx = rx.clone();
            async move {
                let mut received = 0u64;
                while rx.recv().await.is_ok() {
                    received += 1;
                }
                received
            }
        })
        .collect();
    drop((tx, rx));
    drive(runtime, messages, producers, consumers)
}

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
