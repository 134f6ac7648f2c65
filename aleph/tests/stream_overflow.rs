//! Sliding and dropping channels: sends never wait, a full channel drops the
//! oldest or the newest value, and every drop is counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::stream::{Channel, TrySendError};
use futures::{FutureExt, SinkExt};

// Nothing here waits, but the shared helpers are declared as in every test file.
mod support;

/// A ring-backed capacity and one above the ring's limit (a locked store).
const CAPACITIES: [usize; 2] = [4, 70_000];

#[test]
fn a_sliding_channel_keeps_the_newest_values_and_counts_the_rest() {
    for capacity in CAPACITIES {
        let ch = Channel::sliding(capacity);
        let sent = capacity + 10;
        for i in 0..sent {
            ch.try_send(i).unwrap();
        }
        assert_eq!(ch.description().dropped, 10, "capacity {capacity}");
        assert_eq!(ch.description().buffered, capacity);
        for i in 10..sent {
            assert_eq!(ch.try_recv(), Ok(i), "capacity {capacity}");
        }
        assert!(ch.try_recv().is_err());
    }
}

#[test]
fn a_dropping_channel_keeps_the_oldest_values_and_counts_the_rest() {
    for capacity in CAPACITIES {
        let ch = Channel::dropping(capacity);
        let sent = capacity + 10;
        for i in 0..sent {
            ch.try_send(i).unwrap();
        }
        assert_eq!(ch.description().dropped, 10, "capacity {capacity}");
        for i in 0..capacity {
            assert_eq!(ch.try_recv(), Ok(i), "capacity {capacity}");
        }
        assert!(ch.try_recv().is_err());
    }
}

#[test]
fn sends_on_a_full_sliding_or_dropping_channel_complete_at_once() {
    for ch in [Channel::sliding(1), Channel::dropping(1)] {
        ch.try_send(0).unwrap();
        assert_eq!(
            ch.send(1).now_or_never(),
            Some(Ok(())),
            "a send never waits"
        );
        let mut sink = ch.sink();
        assert!(sink.send(2).now_or_never().is_some_and(|r| r.is_ok()));
        assert_eq!(ch.description().dropped, 2);
    }
}

#[test]
fn a_closed_sliding_or_dropping_channel_hands_the_value_back() {
    for ch in [Channel::sliding(2), Channel::dropping(2)] {
        ch.try_send(1).unwrap();
        ch.close();
        assert!(matches!(ch.try_send(2), Err(TrySendError::Closed(2))));
        assert_eq!(ch.send(3).now_or_never().map(|r| r.unwrap_err().0), Some(3));
        assert_eq!(ch.try_recv(), Ok(1), "what was buffered still drains");
        assert!(ch.is_drained());
        assert_eq!(ch.description().dropped, 0, "handing back is not dropping");
    }
}

#[test]
fn a_zero_capacity_sliding_channel_holds_one_value() {
    let ch = Channel::sliding(0);
    ch.try_send(1).unwrap();
    ch.try_send(2).unwrap();
    assert_eq!(ch.description().capacity, 1);
    assert_eq!(ch.try_recv(), Ok(2));
}

#[test]
fn dropped_values_are_really_dropped() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for capacity in CAPACITIES {
        let drops = Arc::new(AtomicUsize::new(0));
        let ch = Channel::sliding(capacity);
        for _ in 0..capacity + 3 {
            ch.try_send(Counted(drops.clone())).unwrap();
        }
        assert_eq!(drops.load(Ordering::SeqCst), 3, "capacity {capacity}");
        drop(ch);
        assert_eq!(drops.load(Ordering::SeqCst), capacity + 3);
    }
}

#[tokio::test]
async fn a_waiting_receiver_is_woken_by_a_send_on_a_sliding_channel() {
    let ch = Channel::sliding(2);
    let rx = ch.receiver();
    let waiting = tokio::spawn(async move { rx.recv().await });
    tokio::task::yield_now().await;
    ch.send(7).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), waiting).await;
    assert_eq!(got.unwrap().unwrap(), Some(7));
}

/// Fast producers, a slow consumer: every value is either received or
/// counted as dropped, never both and never neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_received_plus_dropped_equals_sent() {
    const PRODUCERS: usize = 4;
    const EACH: usize = 20_000;
    for (name, ch) in [
        ("sliding", Channel::sliding(8)),
        ("dropping", Channel::dropping(8)),
    ] {
        let consumer = {
            let rx = ch.receiver();
            tokio::spawn(async move {
                let mut received = 0usize;
                while rx.recv().await.is_some() {
                    received += 1;
                    if received % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                received
            })
        };
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|_| {
                let tx = ch.sender();
                tokio::spawn(async move {
                    for i in 0..EACH {
                        tx.send(i).await.unwrap();
                    }
                })
            })
            .collect();
        for producer in producers {
            tokio::time::timeout(Duration::from_secs(10), producer)
                .await
                .expect("a producer of a never-waiting channel finished")
                .unwrap();
        }
        let dropped = ch.description().dropped as usize;
        drop(ch);
        let received = tokio::time::timeout(Duration::from_secs(10), consumer)
            .await
            .expect("the consumer saw the end")
            .unwrap();
        assert_eq!(
            received + dropped,
            PRODUCERS * EACH,
            "{name}: {received} received, {dropped} dropped"
        );
    }
}
