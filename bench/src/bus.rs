//! `bus`: messages per second published on one topic of aleph's `stream::Bus` to 1, 16
//! and 256 subscribers, against `tokio::sync::broadcast`, on the same multi-thread
//! runtime. A message counts once it has reached every subscriber.
//!
//! The two do not promise the same thing: aleph's publish waits for every subscriber
//! (backpressure), tokio's broadcast never waits and makes a slow receiver lose
//! messages. To compare like with like, both hold the same number of messages per
//! subscriber, and the broadcast publisher holds back (yielding) while its channel is
//! nearly full, so no receiver lags; a run in which any receiver lagged is an error.

use std::future::Future;
use std::time::{Duration, Instant};

use aleph::stream::Bus;
use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::sync::broadcast;

use crate::measure::{interleaved, Contender, Settings};
use crate::report::{Report, ALEPH};

/// Messages each aleph subscription buffers before a publish waits for it.
const CAPACITY: usize = 1024;

/// Deliveries per run at scale 1.0 (messages × subscribers).
const DELIVERIES: u64 = 2_000_000;

/// Length of the `Bytes` payload, a clone of one shared buffer.
const CHUNK: usize = 64;

const SUBSCRIBERS: [u64; 3] = [1, 16, 256];

/// Runs the `bus` benchmark.
pub fn run(settings: &Settings) -> Result<Report, String> {
    let (runtime, workers) = crate::measure::runtime()?;
    let deliveries = settings.scaled(DELIVERIES);
    let mut report = Report::new(
        "bus",
        format!(
            "bus: 1 publisher on one topic, {deliveries} deliveries per run (messages x \
             subscribers); aleph subscriptions and the tokio broadcast channel hold \
             {CAPACITY}; tokio multi-thread runtime, {workers} workers; median of {} rounds",
            settings.rounds
        ),
        "msg",
    );
    let chunk = Bytes::from(vec![0xa5; CHUNK]);
    for subscribers in SUBSCRIBERS {
        let messages = (deliveries / subscribers).max(1);
        case(
            &runtime,
            settings,
            &mut report,
            subscribers,
            "u64",
            messages,
            7u64,
        )?;
        case(
            &runtime,
            settings,
            &mut report,
            subscribers,
            "bytes",
            messages,
            chunk.clone(),
        )?;
    }
    Ok(report)
}

/// Measures one subscriber count with one payload, for aleph and tokio.
fn case<T: Clone + Send + Sync + 'static>(
    runtime: &Runtime,
    settings: &Settings,
    report: &mut Report,
    subscribers: u64,
    payload: &str,
    messages: u64,
    message: T,
) -> Result<(), String> {
    let name = format!("1to{subscribers}/{payload}");
    if !settings.selects(&name) {
        return Ok(());
    }
    let mut contenders = vec![
        Contender {
            name: ALEPH,
            run: Box::new(|| aleph_run(runtime, subscribers, messages, &message)),
        },
        Contender {
            name: "tokio-broadcast",
            run: Box::new(|| broadcast_run(runtime, subscribers, messages, &message)),
        },
    ];
    for (implementation, time) in interleaved(settings.rounds, &mut contenders)? {
        report.add(&name, implementation, messages as f64 / time.as_secs_f64());
    }
    eprintln!("measured {name}");
    Ok(())
}

fn aleph_run<T: Clone + Send + Sync + 'static>(
    runtime: &Runtime,
    subscribers: u64,
    messages: u64,
    message: &T,
) -> Result<Duration, String> {
    runtime.block_on(async {
        let bus: Bus<&'static str, T> = Bus::with_capacity(CAPACITY);
        let consumers: Vec<_> = (0..subscribers)
            .map(|_| {
                let rx = bus.subscribe("topic");
                async move {
                    let mut received = 0u64;
                    while rx.recv().await.is_some() {
                        received += 1;
                    }
                    received
                }
            })
            .collect();
        let message = message.clone();
        let publisher = async move {
            for _ in 0..messages {
                bus.publish("topic", message.clone()).await;
            }
            // Dropping the bus ends every subscription once it is drained.
        };
        drive(subscribers * messages, publisher, consumers).await
    })
}

fn broadcast_run<T: Clone + Send + Sync + 'static>(
    runtime: &Runtime,
    subscribers: u64,
    messages: u64,
    message: &T,
) -> Result<Duration, String> {
    runtime.block_on(async {
        let capacity = CAPACITY;
        let (tx, _) = broadcast::channel::<T>(capacity);
        let consumers: Vec<_> = (0..subscribers)
            .map(|_| {
                let mut rx = tx.subscribe();
                async move {
                    let mut received = 0u64;
                    loop {
                        match rx.recv().await {
                            Ok(_) => received += 1,
                            Err(broadcast::error::RecvError::Closed) => break,
                            // Counted as missing below, which fails the run.
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                        }
                    }
                    received
                }
            })
            .collect();
        let message = message.clone();
        // The broadcast sender never waits: when the channel could be near
        // full, hold back until the oldest messages reached every receiver, so
        // none lags. `len()` takes a lock, so it is looked at once per `CHECK`
        // messages, and only when the run does not fit the channel.
        const CHECK: u64 = 64;
        let must_check = messages > capacity as u64;
        let room = capacity.saturating_sub(CHECK as usize);
        let publisher = async move {
            for i in 0..messages {
                if must_check && i % CHECK == 0 {
                    while tx.len() > room {
                        tokio::task::yield_now().await;
                    }
                }
                if tx.send(message.clone()).is_err() {
                    break;
                }
            }
        };
        drive(subscribers * messages, publisher, consumers).await
    })
}

/// Spawns the consumers, then the publisher, and times them all to completion;
/// checks that every delivery arrived.
async fn drive<P, C>(deliveries: u64, publisher: P, consumers: Vec<C>) -> Result<Duration, String>
where
    P: Future<Output = ()> + Send + 'static,
    C: Future<Output = u64> + Send + 'static,
{
    let start = Instant::now();
    let consumers: Vec<_> = consumers.into_iter().map(tokio::spawn).collect();
    tokio::spawn(publisher)
        .await
        .map_err(|e| format!("the publisher failed: {e}"))?;
    let mut received = 0;
    for consumer in consumers {
        received += consumer
            .await
            .map_err(|e| format!("a subscriber failed: {e}"))?;
    }
    let elapsed = start.elapsed();
    if received != deliveries {
        return Err(format!(
            "expected {deliveries} deliveries but {received} arrived"
        ));
    }
    Ok(elapsed)
}
