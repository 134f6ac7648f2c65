//! `aleph::stream` under concurrent use, on both runtime flavours: many
//! producers and many consumers over every kind of capacity, with every API
//! (send, sink, try_send, send_timeout; recv, Stream, try_recv, recv_timeout).
//! Every value must arrive exactly once, values of one producer in order at
//! each consumer, with no deadlock; the end comes from dropped handles or a
//! close in the middle, and every value is accounted for either way.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aleph::stream::{
    Channel, Receiver, RecvTimeoutError, SendTimeoutError, Sender, TryRecvError, TrySendError,
};
use futures::{SinkExt, StreamExt};
use support::within;

/// How a producer sends.
#[derive(Clone, Copy, Debug)]
enum SendApi {
    Send,
    Sink,
    SinkAll,
    TrySend,
    SendTimeout,
}

/// How a consumer receives.
#[derive(Clone, Copy, Debug)]
enum RecvApi {
    Recv,
    Next,
    TryRecv,
    RecvTimeout,
}

const ALL_SENDS: [SendApi; 5] = [
    SendApi::Send,
    SendApi::Sink,
    SendApi::SinkAll,
    SendApi::TrySend,
    SendApi::SendTimeout,
];
const ALL_RECVS: [RecvApi; 4] = [
    RecvApi::Recv,
    RecvApi::Next,
    RecvApi::TryRecv,
    RecvApi::RecvTimeout,
];

/// Sends `p * per + 0 .. p * per + per`, in order, then drops its handle.
async fn produce(tx: Sender<u64>, how: SendApi, p: u64, per: u64) {
    let values = p * per..(p + 1) * per;
    match how {
        SendApi::Send => {
            for v in values {
                tx.send(v).await.expect("open while producers live");
            }
        }
        SendApi::Sink => {
            let mut sink = tx.sink();
            for v in values {
                sink.send(v).await.expect("open while producers live");
            }
        }
        SendApi::SinkAll => {
            let mut sink = tx.sink();
            sink.send_all(&mut futures::stream::iter(values).map(Ok))
                .await
                .expect("open while producers live");
        }
        SendApi::TrySend => {
            for v in values {
                let mut v = v;
                loop {
                    match tx.try_send(v) {
                        Ok(()) => break,
                        Err(TrySendError::Full(back)) => {
                            v = back;
                            tokio::task::yield_now().await;
                        }
                        Err(TrySendError::Closed(_)) => panic!("closed while producers live"),
                    }
                }
            }
        }
        SendApi::SendTimeout => {
            for v in values {
                let mut v = v;
                loop {
                    match tx.send_timeout(v, Duration::from_millis(1)).await {
                        Ok(()) => break,
                        Err(SendTimeoutError::Timeout(back)) => v = back,
                        Err(SendTimeoutError::Closed(_)) => panic!("closed while producers live"),
                    }
                }
            }
        }
    }
}

/// Receives until the end; returns what it got, in arrival order. Checks
/// now and then that the buffer holds no more than `bound` values (capacity
/// plus one value per consumer handed over while it was parked).
async fn consume(mut rx: Receiver<u64>, how: RecvApi, bound: usize) -> Vec<u64> {
    let mut got = Vec::new();
    let check = |rx: &Receiver<u64>, n: usize| {
        if n % 64 == 0 {
            let d = rx.description();
            assert!(
                d.buffered <= bound,
                "more buffered than capacity allows: {d}"
            );
        }
    };
    match how {
        RecvApi::Recv => {
            while let Some(v) = rx.recv().await {
                got.push(v);
                check(&rx, got.len());
            }
        }
        RecvApi::Next => {
            while let Some(v) = rx.next().await {
                got.push(v);
                check(&rx, got.len());
            }
        }
        RecvApi::TryRecv => loop {
            match rx.try_recv() {
                Ok(v) => {
                    got.push(v);
                    check(&rx, got.len());
                }
                Err(TryRecvError::Empty) => tokio::task::yield_now().await,
                Err(TryRecvError::Drained) => break,
            }
        },
        RecvApi::RecvTimeout => loop {
            match rx.recv_timeout(Duration::from_millis(1)).await {
                Ok(v) => {
                    got.push(v);
                    check(&rx, got.len());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Drained) => break,
            }
        },
    }
    got
}

/// Receives exactly `n` values, without waiting for the end.
async fn take_n(mut rx: Receiver<u64>, how: RecvApi, n: u64) -> Vec<u64> {
    let mut got = Vec::new();
    while (got.len() as u64) < n {
        let v = match how {
            RecvApi::Recv => rx.recv().await,
            RecvApi::Next => rx.next().await,
            RecvApi::TryRecv => match rx.try_recv() {
                Ok(v) => Some(v),
                Err(TryRecvError::Empty) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(TryRecvError::Drained) => None,
            },
            RecvApi::RecvTimeout => rx.recv_timeout(Duration::from_millis(1)).await.ok(),
        };
        got.push(v.expect("the channel stays open"));
    }
    got
}

/// Checks that every value `0..producers * per` was received exactly once and
/// that each consumer saw each producer's values in increasing order.
fn check_exactly_once_in_order(what: &str, per_consumer: &[Vec<u64>], producers: u64, per: u64) {
    let mut seen = vec![0u8; (producers * per) as usize];
    for (c, got) in per_consumer.iter().enumerate() {
        let mut last: Vec<Option<u64>> = vec![None; producers as usize];
        for &v in got {
            let p = (v / per) as usize;
            assert!(p < producers as usize, "{what}: value {v} was never sent");
            if let Some(prev) = last[p] {
                assert!(
                    v > prev,
                    "{what}: consumer {c} got {v} after {prev}, both from producer {p}: order broken"
                );
            }
            last[p] = Some(v);
            seen[v as usize] += 1;
        }
    }
    let lost: Vec<usize> = (0..seen.len()).filter(|&v| seen[v] == 0).take(10).collect();
    let doubled: Vec<usize> = (0..seen.len()).filter(|&v| seen[v] > 1).take(10).collect();
    assert!(lost.is_empty(), "{what}: values lost, first ones: {lost:?}");
    assert!(
        doubled.is_empty(),
        "{what}: values received twice, first ones: {doubled:?}"
    );
}

/// Runs `producers` × `consumers` over a channel of `capacity`, the end
/// coming only from the producers dropping their handles.
async fn many_to_many(capacity: usize, producers: u64, consumers: usize, total: u64, mixed: bool) {
    let per = total / producers;
    let ch = Channel::buffered(capacity);
    let consumer_tasks: Vec<_> = (0..consumers)
        .map(|c| {
            let how = if mixed {
                ALL_RECVS[c % ALL_RECVS.len()]
            } else {
                RecvApi::Recv
            };
            tokio::spawn(consume(ch.receiver(), how, capacity + consumers))
        })
        .collect();
    let producer_tasks: Vec<_> = (0..producers)
        .map(|p| {
            let how = if mixed {
                ALL_SENDS[p as usize % ALL_SENDS.len()]
            } else {
                SendApi::Send
            };
            tokio::spawn(produce(ch.sender(), how, p, per))
        })
        .collect();
    drop(ch);
    let what = format!("capacity {capacity}, {producers}x{consumers}, mixed {mixed}");
    for task in producer_tasks {
        within(task).await.unwrap();
    }
    let mut per_consumer = Vec::new();
    for task in consumer_tasks {
        per_consumer.push(within(task).await.unwrap());
    }
    check_exactly_once_in_order(&what, &per_consumer, producers, per);
}

macro_rules! on_both_flavours {
    ($($current:ident, $multi:ident => $body:expr;)*) => {$(
        #[tokio::test(flavor = "current_thread")]
        async fn $current() {
            $body.await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $multi() {
            $body.await
        }
    )*};
}

on_both_flavours! {
    unbuffered_8x8_every_value_arrives_once_in_producer_order_current_thread,
    unbuffered_8x8_every_value_arrives_once_in_producer_order_multi_thread
        => many_to_many(0, 8, 8, 50_000, false);
    capacity_1_8x8_every_value_arrives_once_in_producer_order_current_thread,
    capacity_1_8x8_every_value_arrives_once_in_producer_order_multi_thread
        => many_to_many(1, 8, 8, 50_000, false);
    capacity_16_8x8_every_value_arrives_once_in_producer_order_current_thread,
    capacity_16_8x8_every_value_arrives_once_in_producer_order_multi_thread
        => many_to_many(16, 8, 8, 50_000, false);
    capacity_1024_8x8_every_value_arrives_once_in_producer_order_current_thread,
    capacity_1024_8x8_every_value_arrives_once_in_producer_order_multi_thread
        => many_to_many(1024, 8, 8, 50_000, false);
    every_api_mixed_every_value_arrives_once_in_producer_order_current_thread,
    every_api_mixed_every_value_arrives_once_in_producer_order_multi_thread
        => mixed_apis();
    close_in_the_middle_every_value_is_received_or_returned_current_thread,
    close_in_the_middle_every_value_is_received_or_returned_multi_thread
        => close_in_the_middle();
    dropping_every_receiver_mid_stream_accounts_for_every_value_current_thread,
    dropping_every_receiver_mid_stream_accounts_for_every_value_multi_thread
        => receivers_drop_mid_stream();
    one_producer_many_consumers_each_see_it_in_order_current_thread,
    one_producer_many_consumers_each_see_it_in_order_multi_thread
        => fan_out();
    many_producers_one_consumer_sees_each_in_order_current_thread,
    many_producers_one_consumer_sees_each_in_order_multi_thread
        => fan_in();
    one_producer_one_consumer_on_tiny_buffers_never_stall_current_thread,
    one_producer_one_consumer_on_tiny_buffers_never_stall_multi_thread
        => ping_pong();
    a_full_huge_buffer_under_backpressure_delivers_every_value_once_current_thread,
    a_full_huge_buffer_under_backpressure_delivers_every_value_once_multi_thread
        => huge_buffer_under_backpressure();
}

/// One producer and one consumer on a tiny buffer, on two threads: nearly
/// every send finds the buffer full and every receive finds it empty, so
/// each value crosses the park-then-retry handshake between the lock-free
/// path and the wait queues. With nobody else around to wake them, a single
/// lost wake-up stalls both sides for good.
async fn ping_pong() {
    const VALUES: u64 = 10_000;
    for capacity in [0, 1, 2] {
        for (send, recv) in [
            (SendApi::Send, RecvApi::Recv),
            (SendApi::Sink, RecvApi::Next),
            (SendApi::TrySend, RecvApi::Recv),
            (SendApi::Send, RecvApi::TryRecv),
        ] {
            if capacity == 0 && matches!(recv, RecvApi::TryRecv) {
                // By design an unbuffered try_recv never takes from a waiting
                // send (only a parked receiver is handed a value).
                continue;
            }
            let ch = Channel::buffered(capacity);
            let consumer = tokio::spawn(take_n(ch.receiver(), recv, VALUES));
            let producer = tokio::spawn(produce(ch.sender(), send, 0, VALUES));
            let what = format!("capacity {capacity}, {send:?} to {recv:?}");
            // Kept open to the end: a close would wake a stalled consumer.
            let probe = ch.sender();
            drop(ch);
            if support::at_most(Duration::from_secs(10), producer)
                .await
                .is_none()
            {
                panic!("{what}: the producer stalled: {}", probe.description());
            }
            let Some(got) = support::at_most(Duration::from_secs(10), consumer).await else {
                panic!("{what}: the consumer stalled: {}", probe.description());
            };
            check_exactly_once_in_order(&what, &[got.unwrap()], 1, VALUES);
            drop(probe);
        }
    }
}

/// The largest lock-free ring (65_536) and the smallest locked buffer above
/// it (65_537): producers fill it until they wait, then consumers start.
async fn huge_buffer_under_backpressure() {
    const PRODUCERS: u64 = 8;
    for capacity in [65_536usize, 65_537] {
        let per = (capacity as u64 + 20_000) / PRODUCERS;
        let ch = Channel::buffered(capacity);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| tokio::spawn(produce(ch.sender(), SendApi::Send, p, per)))
            .collect();
        support::until(
            || ch.description(),
            |d| d.buffered == capacity && d.pending_sends > 0,
        )
        .await;
        let consumers: Vec<_> = (0..4)
            .map(|c| tokio::spawn(consume(ch.receiver(), ALL_RECVS[c], capacity + 4)))
            .collect();
        drop(ch);
        for task in producers {
            within(task).await.unwrap();
        }
        let mut per_consumer = Vec::new();
        for task in consumers {
            per_consumer.push(within(task).await.unwrap());
        }
        check_exactly_once_in_order(
            &format!("capacity {capacity}"),
            &per_consumer,
            PRODUCERS,
            per,
        );
    }
}

/// Every send API against every receive API, over every kind of capacity.
async fn mixed_apis() {
    for capacity in [0, 1, 16, 1024] {
        // 10 producers: each send API twice; 8 consumers: each receive API twice.
        many_to_many(capacity, 10, 8, 20_000, true).await;
    }
}

async fn fan_out() {
    for capacity in [0, 1, 16] {
        many_to_many(capacity, 1, 8, 10_000, true).await;
    }
}

async fn fan_in() {
    for capacity in [0, 1, 16] {
        many_to_many(capacity, 8, 1, 10_000, false).await;
    }
}

/// Producers send until the channel refuses; a consumer closes it in the
/// middle. Every value sent is received (a close keeps the buffer), every
/// producer gets its refused value back, and the two add up to what was tried.
async fn close_in_the_middle() {
    const PRODUCERS: u64 = 8;
    const STRIDE: u64 = 1 << 32;
    const CLOSE_AFTER: usize = 5_000;
    for capacity in [0, 1, 16, 1024] {
        let ch = Channel::buffered(capacity);
        let received_so_far = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = ch.sender();
                tokio::spawn(async move {
                    let mut sent = 0u64;
                    loop {
                        support::pace(sent).await;
                        let v = p * STRIDE + sent;
                        match tx.send(v).await {
                            Ok(()) => sent += 1,
                            Err(e) => {
                                assert_eq!(e.0, v, "the refused value comes back");
                                assert!(tx.is_closed());
                                return (sent, e.0);
                            }
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..8)
            .map(|c| {
                let rx = ch.receiver();
                let so_far = received_so_far.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut next = |v| {
                        got.push(v);
                        if so_far.fetch_add(1, Ordering::SeqCst) + 1 == CLOSE_AFTER {
                            rx.close();
                        }
                    };
                    if c % 2 == 0 {
                        while let Some(v) = rx.recv().await {
                            next(v);
                        }
                    } else {
                        let mut stream = rx.clone();
                        while let Some(v) = stream.next().await {
                            next(v);
                        }
                    }
                    got
                })
            })
            .collect();
        drop(ch);
        let mut attempted = 0;
        let mut returned = Vec::new();
        let mut sent_per_producer = Vec::new();
        for task in producers {
            let (sent, back) = within(task).await.unwrap();
            attempted += sent + 1;
            sent_per_producer.push(sent);
            returned.push(back);
        }
        let mut received = Vec::new();
        for task in consumers {
            received.extend(within(task).await.unwrap());
        }
        assert!(received.len() >= CLOSE_AFTER, "capacity {capacity}");
        assert_eq!(
            received.len() as u64 + returned.len() as u64,
            attempted,
            "capacity {capacity}: received + returned == tried"
        );
        // Exactly the values sent: 0..sent of each producer, each once.
        received.sort_unstable();
        let expected: Vec<u64> = (0..PRODUCERS)
            .flat_map(|p| (0..sent_per_producer[p as usize]).map(move |n| p * STRIDE + n))
            .collect();
        assert_eq!(received, expected, "capacity {capacity}");
        for (p, back) in returned.iter().enumerate() {
            assert_eq!(
                *back,
                p as u64 * STRIDE + sent_per_producer[p],
                "the first refused value"
            );
        }
    }
}

/// A value that notes whether it was dropped by the channel (never received
/// nor handed back), and counts every drop.
struct Token {
    id: u64,
    accounted: bool,
    dropped_unaccounted: Arc<Mutex<Vec<u64>>>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if !self.accounted {
            self.dropped_unaccounted.lock().unwrap().push(self.id);
        }
    }
}

/// Consumers stop after a while and drop their receivers without closing:
/// the last one closes the channel and drops what it buffered. Every value
/// is received, handed back, or dropped by the channel, exactly once.
async fn receivers_drop_mid_stream() {
    const PRODUCERS: u64 = 6;
    const STRIDE: u64 = 1 << 32;
    for capacity in [0, 1, 16, 256] {
        let ch = Channel::buffered(capacity);
        let dropped_by_channel = Arc::new(Mutex::new(Vec::new()));
        let drops = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = ch.sender();
                let dropped_by_channel = dropped_by_channel.clone();
                let drops = drops.clone();
                tokio::spawn(async move {
                    let mut sent = Vec::new();
                    for n in 0.. {
                        support::pace(n).await;
                        let token = Token {
                            id: p * STRIDE + n,
                            accounted: false,
                            dropped_unaccounted: dropped_by_channel.clone(),
                            drops: drops.clone(),
                        };
                        let id = token.id;
                        match tx.send(token).await {
                            Ok(()) => sent.push(id),
                            Err(mut e) => {
                                assert_eq!(e.0.id, id);
                                e.0.accounted = true;
                                return (sent, id);
                            }
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        let consumers: Vec<_> = (0..4usize)
            .map(|c| {
                let rx = ch.receiver();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..1_000 * (c + 1) {
                        match rx.recv().await {
                            Some(mut token) => {
                                token.accounted = true;
                                got.push(token.id);
                            }
                            None => break,
                        }
                    }
                    got // and the receiver drops here, without a close
                })
            })
            .collect();
        drop(ch);
        let mut received = Vec::new();
        for task in consumers {
            received.extend(within(task).await.unwrap());
        }
        let mut sent = Vec::new();
        let mut returned = Vec::new();
        for task in producers {
            let (s, back) = within(task).await.unwrap();
            sent.extend(s);
            returned.push(back);
        }
        let dropped = dropped_by_channel.lock().unwrap().clone();
        let mut accounted: Vec<u64> = received.iter().chain(&dropped).copied().collect();
        accounted.sort_unstable();
        sent.sort_unstable();
        assert_eq!(
            accounted, sent,
            "capacity {capacity}: every sent value is received or dropped by the channel, once"
        );
        assert!(
            dropped.len() <= capacity.max(1) + 4,
            "capacity {capacity}: only the buffer is dropped"
        );
        let tried = sent.len() + returned.len();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            tried,
            "capacity {capacity}: every value dropped once"
        );
    }
}

/// Burns a little time without yielding, to shift the two sides' timing.
fn jitter(rng: &mut support::Rng) {
    for _ in 0..rng.below(64) {
        std::hint::spin_loop();
    }
}

/// One producer and one consumer on two worker threads, each pausing a random
/// few cycles between operations, so that a send finding the buffer full and
/// a receive emptying it (and the reverse) keep landing in the same instant:
/// the window between a failed lock-free attempt and the parked waiter being
/// published. A wake-up lost there leaves both sides asleep. (Multi-thread
/// only: on one thread the two never run at the same time.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_racing_producer_and_consumer_never_lose_a_wake_up_while_parking() {
    const VALUES: u64 = 40_000;
    for capacity in [1, 2] {
        let ch = Channel::buffered(capacity);
        let rx = ch.receiver();
        let tx = ch.sender();
        let consumer = tokio::spawn(async move {
            let mut rng = support::Rng::new(7);
            for i in 0..VALUES {
                assert_eq!(rx.recv().await, Some(i));
                jitter(&mut rng);
            }
        });
        let producer = tokio::spawn(async move {
            let mut rng = support::Rng::new(11);
            for i in 0..VALUES {
                tx.send(i).await.unwrap();
                jitter(&mut rng);
            }
        });
        // `ch` stays open: only a correct wake-up can end each wait.
        let Some(done) = support::at_most(Duration::from_secs(10), producer).await else {
            panic!(
                "capacity {capacity}: the producer stalled: {}",
                ch.description()
            );
        };
        done.unwrap();
        let Some(done) = support::at_most(Duration::from_secs(10), consumer).await else {
            panic!(
                "capacity {capacity}: the consumer stalled: {}",
                ch.description()
            );
        };
        done.unwrap();
    }
}
