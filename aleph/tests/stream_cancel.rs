//! Cancel safety of `aleph::stream`: a send whose future is dropped before it
//! completes delivers nothing, a receive whose future is dropped loses
//! nothing, and a waiter woken and then dropped passes its wake-up on, so no
//! value is stranded while another receiver waits and no room is wasted while
//! another sender waits. Ends with randomized cancellation stress on both
//! runtime flavours, with exact accounting of every value.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aleph::stream::{Channel, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use futures::{poll, SinkExt, StreamExt};
use support::{at_most, ready_after, until, within, Rng, SHORT};
use tokio::sync::Notify;

// ---- a dropped send delivers nothing -----------------------------------------------

#[tokio::test]
async fn a_send_dropped_on_a_full_channel_delivers_nothing() {
    let ch = Channel::buffered(1);
    ch.try_send(1).unwrap();
    let mut send = ch.send(2);
    assert!(poll!(&mut send).is_pending());
    drop(send);
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(
        ch.try_recv(),
        Err(TryRecvError::Empty),
        "the dropped send left nothing"
    );
    ch.close();
    assert_eq!(within(ch.recv()).await, None);
}

#[tokio::test]
async fn a_send_dropped_after_room_freed_delivers_nothing() {
    let ch = Channel::buffered(1);
    ch.try_send(1).unwrap();
    let mut send = ch.send(2);
    assert!(poll!(&mut send).is_pending());
    assert_eq!(ch.try_recv(), Ok(1), "frees room and wakes the send");
    drop(send);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    assert!(ch.try_send(3).is_ok(), "the room is still there");
}

#[tokio::test]
async fn an_unbuffered_send_dropped_after_a_receiver_parked_delivers_nothing() {
    let ch = Channel::new();
    let mut send = ch.send(1);
    assert!(poll!(&mut send).is_pending());
    let mut recv = ch.recv();
    assert!(
        poll!(&mut recv).is_pending(),
        "parks, and wakes the waiting send"
    );
    drop(send);
    assert!(
        poll!(&mut recv).is_pending(),
        "the dropped send delivered nothing"
    );
    ch.close();
    assert_eq!(within(recv).await, None);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_send_gives_its_value_back_and_delivers_nothing() {
    let ch = Channel::new();
    let err = ch
        .send_timeout(1, Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(matches!(err, SendTimeoutError::Timeout(1)));
    assert!(tokio::time::timeout(Duration::from_millis(10), ch.send(2))
        .await
        .is_err());
    let rx = ch.receiver();
    let getter = tokio::spawn(async move { rx.recv().await });
    until(|| ch.description(), |d| d.pending_recvs == 1).await;
    let mut getter = getter;
    assert!(
        at_most(SHORT, &mut getter).await.is_none(),
        "no cancelled send reached the receiver"
    );
    getter.abort();
}

// ---- a dropped receive loses nothing -----------------------------------------------

#[tokio::test]
async fn a_recv_dropped_after_being_woken_loses_no_value() {
    for capacity in [0, 1, 4] {
        let ch = Channel::buffered(capacity);
        let mut recv = ch.recv();
        assert!(poll!(&mut recv).is_pending());
        ch.try_send(7).unwrap();
        drop(recv);
        assert_eq!(
            ch.try_recv(),
            Ok(7),
            "capacity {capacity}: the value stayed"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_recv_loses_no_value() {
    let ch = Channel::buffered(1);
    for i in 0..10 {
        assert_eq!(
            ch.recv_timeout(Duration::from_millis(1)).await,
            Err(RecvTimeoutError::Timeout)
        );
        ch.try_send(i).unwrap();
        assert_eq!(ch.recv_timeout(Duration::from_millis(1)).await, Ok(i));
    }
    assert_eq!(ch.description().pending_recvs, 0);
}

#[tokio::test]
async fn a_value_handed_to_a_parked_unbuffered_receiver_that_then_drops_stays_for_the_next() {
    let ch = Channel::new();
    let mut recv = ch.recv();
    assert!(poll!(&mut recv).is_pending());
    let tx = ch.sender();
    let mut send = tx.send(1);
    assert!(poll!(&mut send).is_ready(), "a receiver was parked");
    drop(recv);
    assert_eq!(
        within(ch.recv()).await,
        Some(1),
        "the value is held for the next receiver"
    );
}

#[tokio::test]
async fn a_stream_next_dropped_after_being_woken_loses_no_value() {
    let mut ch = Channel::buffered(1);
    {
        let mut next = ch.next();
        assert!(poll!(&mut next).is_pending());
    }
    ch.try_send(1).unwrap();
    assert_eq!(within(ch.next()).await, Some(1));
}

// ---- woken-then-dropped waiters pass their wake-up on ------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woken_then_dropped_receiver_passes_the_value_to_another_waiting_receiver() {
    for capacity in [0, 1, 8] {
        let ch = Channel::buffered(capacity);
        let mut first = ch.recv();
        assert!(poll!(&mut first).is_pending(), "first in the queue");
        let rx = ch.receiver();
        let second = tokio::spawn(async move { rx.recv().await });
        until(|| ch.description(), |d| d.pending_recvs == 2).await;
        ch.try_send(1).unwrap(); // wakes `first`, which will never take it
        drop(first);
        let got = at_most(Duration::from_secs(5), second).await;
        assert_eq!(
            got.map(|r| r.unwrap()),
            Some(Some(1)),
            "capacity {capacity}: the second receiver must be woken (lost wake-up)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woken_then_dropped_sender_passes_the_room_to_another_waiting_sender() {
    for capacity in [1, 4] {
        let ch = Channel::buffered(capacity);
        for i in 0..capacity {
            ch.try_send(100 + i).unwrap();
        }
        let mut first = ch.send(1);
        assert!(poll!(&mut first).is_pending(), "first in the queue");
        let tx = ch.sender();
        let second = tokio::spawn(async move { tx.send(2).await });
        until(|| ch.description(), |d| d.pending_sends == 2).await;
        assert_eq!(ch.try_recv(), Ok(100), "frees room and wakes `first`");
        drop(first);
        let done = at_most(Duration::from_secs(5), second).await;
        assert!(
            matches!(done, Some(Ok(Ok(())))),
            "capacity {capacity}: the second sender must be woken (lost wake-up)"
        );
        let mut rest = Vec::new();
        while let Ok(v) = ch.try_recv() {
            rest.push(v);
        }
        assert_eq!(
            *rest.last().unwrap(),
            2,
            "the dropped send delivered nothing"
        );
        assert!(!rest.contains(&1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbuffered_woken_then_dropped_sender_passes_the_receiver_to_another_sender() {
    let ch = Channel::new();
    let mut first = ch.send(1);
    assert!(poll!(&mut first).is_pending());
    let tx = ch.sender();
    let second = tokio::spawn(async move { tx.send(2).await });
    until(|| ch.description(), |d| d.pending_sends == 2).await;
    let rx = ch.receiver();
    let receiver = tokio::spawn(async move { rx.recv().await }); // wakes `first`
    until(
        || ch.description(),
        |d| d.pending_recvs == 1 || d.buffered == 1,
    )
    .await;
    drop(first);
    assert_eq!(within(receiver).await.unwrap(), Some(2));
    within(second).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woken_then_dropped_sink_delivers_its_value_or_fails_the_channel_and_the_other_sender_goes(
) {
    let ch = Channel::buffered(1);
    ch.try_send(0).unwrap();
    let mut sink = ch.sink();
    {
        let mut send = sink.send(1);
        assert!(poll!(&mut send).is_pending(), "the sink holds 1 and parks");
    }
    let tx = ch.sender();
    let second = tokio::spawn(async move { tx.send(2).await });
    until(|| ch.description(), |d| d.pending_sends == 2).await;
    assert_eq!(ch.try_recv(), Ok(0), "frees room and wakes the sink");
    // The sink puts the value it held into the room, unless the other sender
    // took it first: then it closes the channel with an error (never a loss
    // that looks clean).
    drop(sink);
    if ch.error().is_none() {
        assert_eq!(
            ch.try_recv(),
            Ok(1),
            "a dropped sink loses nothing it can deliver"
        );
    }
    assert!(matches!(
        at_most(Duration::from_secs(5), second).await,
        Some(Ok(Ok(())))
    ));
    assert_eq!(ch.try_recv(), Ok(2));
}

/// A `Stream::next()` future is dropped, but the handle that made it lives on,
/// and so does its place among the waiting receivers (nothing tells the channel
/// the `next()` is gone). That abandoned place must not absorb the wake-up of
/// a value while a receiver that really waits sleeps on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_stream_next_does_not_strand_a_value_while_another_receiver_waits() {
    let ch = Channel::buffered(1);
    let mut idle = ch.receiver();
    {
        // A select! / timeout around next() that lost.
        let mut next = idle.next();
        assert!(poll!(&mut next).is_pending());
    }
    let rx = ch.receiver();
    let waiting = tokio::spawn(async move { rx.recv().await });
    until(|| ch.description(), |d| d.pending_recvs == 2).await;
    ch.try_send(1).unwrap();
    let got = at_most(Duration::from_secs(2), waiting).await;
    assert_eq!(
        got.map(|r| r.unwrap()),
        Some(Some(1)),
        "the waiting receiver was never woken; description: {}",
        ch.description()
    );
    drop(idle);
}

/// The sharpest form of the rule above: the only receiver. A `next()` under a
/// timeout gives up, and the handle moves to a task that waits in `recv()`;
/// the first value sent must wake the task that waits, not only the one that
/// gave up.
#[tokio::test(start_paused = true)]
async fn the_only_receiver_is_woken_after_a_timed_out_next() {
    let ch = Channel::buffered(4);
    let mut rx = ch.receiver();
    assert!(tokio::time::timeout(Duration::from_millis(10), rx.next())
        .await
        .is_err());
    let waiting = tokio::spawn(async move { rx.recv().await });
    until(|| ch.description(), |d| d.pending_recvs == 2).await;
    ch.try_send(1).unwrap();
    let got = at_most(Duration::from_secs(2), waiting).await;
    assert_eq!(
        got.map(|r| r.unwrap()),
        Some(Some(1)),
        "the only receiver was never woken; description: {}",
        ch.description()
    );
}

/// On an unbuffered channel the abandoned place still counts as a receiver
/// waiting (documented on `Channel::new`): the value sent into it is held for
/// whoever receives next, never lost while a receiving handle exists. (Not
/// counting it would deadlock every `Stream` consumer of a rendezvous channel:
/// under the permit model the value stays in the sender's future until there
/// is room for it.)
#[tokio::test]
async fn an_abandoned_stream_next_still_counts_as_a_waiting_receiver_on_an_unbuffered_channel() {
    let ch = Channel::new();
    let mut rx = ch.receiver();
    {
        let mut next = rx.next();
        assert!(poll!(&mut next).is_pending());
    }
    ch.try_send(1)
        .expect("the handle's place counts as a waiting receiver");
    assert_eq!(rx.try_recv(), Ok(1), "the value is held, not lost");
    assert!(
        ch.try_send(2).unwrap_err().is_full(),
        "and only that one place: {}",
        ch.description()
    );
}

/// Same for a sink whose `SinkExt::send` was abandoned (the sink keeps its
/// value and its place among waiting senders).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_sink_send_does_not_waste_room_while_another_sender_waits() {
    let ch = Channel::buffered(1);
    ch.try_send(0).unwrap();
    let mut sink = ch.sink();
    {
        let mut send = sink.send(1);
        assert!(poll!(&mut send).is_pending());
    }
    let tx = ch.sender();
    let waiting = tokio::spawn(async move { tx.send(2).await });
    until(|| ch.description(), |d| d.pending_sends == 2).await;
    assert_eq!(ch.try_recv(), Ok(0));
    let done = at_most(Duration::from_secs(2), waiting).await;
    assert!(
        matches!(done, Some(Ok(Ok(())))),
        "the waiting sender was never woken; description: {}",
        ch.description()
    );
    drop(sink);
}

// ---- no lost wake-ups under repeated cancellation ----------------------------------

/// Flaky receivers poll a receive and cancel it after a few polls, over and
/// over, while one steady receiver waits in `recv()`. When the flaky ones
/// stop, the channel stays open (a sender is kept), so only correct wake-up
/// passing lets the steady receiver get what is left.
async fn flaky_receivers_never_strand_a_value(capacity: usize) {
    const VALUES: u64 = 2_000;
    let ch = Channel::buffered(capacity);
    let got = Arc::new(Mutex::new(Vec::new()));
    let all_received = Arc::new(Notify::new());
    let record = {
        let got = got.clone();
        let all_received = all_received.clone();
        move |v: u64| {
            let mut got = got.lock().unwrap();
            got.push(v);
            if got.len() as u64 == VALUES {
                all_received.notify_one();
            }
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut flaky = Vec::new();
    for seed in 0..3u64 {
        let rx = ch.receiver();
        let record = record.clone();
        let stop = stop.clone();
        flaky.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed + 1);
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                support::pace(n).await;
                let polls = rng.below(3) as u32;
                tokio::select! {
                    biased;
                    v = rx.recv() => match v {
                        Some(v) => record(v),
                        None => return,
                    },
                    _ = ready_after(polls) => {}
                }
            }
        }));
    }
    let steady = {
        let rx = ch.receiver();
        tokio::spawn(async move {
            while let Some(v) = rx.recv().await {
                record(v);
            }
        })
    };
    let tx = ch.sender();
    drop(ch);
    let producer = tokio::spawn(async move {
        for i in 0..VALUES {
            tx.send(i).await.unwrap();
            if i == VALUES / 2 {
                stop.store(true, Ordering::Relaxed);
            }
        }
        tx // kept open: the end of the test must not rely on a close
    });
    let tx = within(producer).await.unwrap();
    for f in flaky {
        within(f).await.unwrap();
    }
    if at_most(Duration::from_secs(5), all_received.notified())
        .await
        .is_none()
    {
        panic!(
            "capacity {capacity}: the steady receiver waits while values are left: {}",
            tx.description()
        );
    }
    drop(tx);
    within(steady).await.unwrap();
    let mut got = got.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, (0..VALUES).collect::<Vec<_>>(), "capacity {capacity}");
}

/// Flaky senders poll a send and cancel it after a few polls while one
/// steady sender waits in `send()`; a consumer takes values. When the flaky
/// senders stop, the steady sender must still get in.
async fn flaky_senders_never_waste_room(capacity: usize) {
    const STEADY: u64 = 500;
    let ch = Channel::buffered(capacity);
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let mut flaky = Vec::new();
    for seed in 0..3u64 {
        let tx = ch.sender();
        let delivered = delivered.clone();
        flaky.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed + 10);
            for n in 0..1_000u64 {
                support::pace(n).await;
                let id = 1_000_000 * (seed + 1) + n;
                let polls = rng.below(3) as u32;
                tokio::select! {
                    biased;
                    r = tx.send(id) => {
                        r.unwrap();
                        delivered.lock().unwrap().push(id);
                    }
                    _ = ready_after(polls) => {}
                }
            }
        }));
    }
    let tx = ch.sender();
    let steady = {
        let delivered = delivered.clone();
        tokio::spawn(async move {
            for id in 0..STEADY {
                tx.send(id).await.unwrap();
                delivered.lock().unwrap().push(id);
            }
            tx
        })
    };
    let rx = ch.receiver();
    let _keep_open = ch.sender();
    drop(ch);
    let consumer = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut steady_seen = 0;
        while steady_seen < STEADY {
            let v = rx.recv().await.unwrap();
            if v < STEADY {
                steady_seen += 1;
            }
            got.push(v);
        }
        (rx, got)
    });
    for f in flaky {
        within(f).await.unwrap();
    }
    let Some(steady) = at_most(Duration::from_secs(5), steady).await else {
        panic!("capacity {capacity}: the steady sender waits while there is room");
    };
    let _tx = steady.unwrap();
    let (rx, mut got) = within(consumer).await.unwrap();
    while let Ok(v) = rx.try_recv() {
        got.push(v);
    }
    got.sort_unstable();
    let mut delivered = delivered.lock().unwrap().clone();
    delivered.sort_unstable();
    assert_eq!(
        got, delivered,
        "capacity {capacity}: received == sends that completed"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn flaky_receivers_never_strand_a_value_current_thread() {
    for capacity in [0, 1, 4] {
        flaky_receivers_never_strand_a_value(capacity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flaky_receivers_never_strand_a_value_multi_thread() {
    for capacity in [0, 1, 4] {
        flaky_receivers_never_strand_a_value(capacity).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn flaky_senders_never_waste_room_current_thread() {
    for capacity in [0, 1, 4] {
        flaky_senders_never_waste_room(capacity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flaky_senders_never_waste_room_multi_thread() {
    for capacity in [0, 1, 4] {
        flaky_senders_never_waste_room(capacity).await;
    }
}

// ---- lock-step rounds: a lost wake-up cannot hide behind later traffic ------------

/// Each round parks a few receive futures in this task and one steady
/// receiver in another task (in a random order), sends one value, then polls
/// some of the futures and drops them all in a random order, racing the steady
/// receiver on another thread. Nothing else happens until the value is taken:
/// if a dropped future swallowed its wake-up, the round stalls.
async fn lockstep_dropped_receives(capacity: usize, rounds: u64, seed: u64) {
    let ch = Channel::buffered(capacity);
    let mut rng = Rng::new(seed);
    for round in 0..rounds {
        let k = 1 + rng.below(3) as usize;
        let steady_first = rng.below(2) == 0;
        let spawn_steady = || {
            let rx = ch.receiver();
            tokio::spawn(async move { rx.recv().await })
        };
        let mut steady = None;
        if steady_first {
            steady = Some(spawn_steady());
            until(|| ch.description(), |d| d.pending_recvs == 1).await;
        }
        let mut flaky: Vec<_> = (0..k).map(|_| ch.recv()).collect();
        for f in &mut flaky {
            assert!(poll!(f).is_pending(), "round {round}: nothing to take yet");
        }
        let steady = match steady {
            Some(steady) => steady,
            None => {
                let steady = spawn_steady();
                until(|| ch.description(), |d| d.pending_recvs == k + 1).await;
                steady
            }
        };
        if rng.below(2) == 0 {
            ch.try_send(round).unwrap();
        } else {
            within(ch.send(round)).await.unwrap();
        }
        let mut taken_here = None;
        while !flaky.is_empty() {
            let mut f = flaky.swap_remove(rng.below(flaky.len() as u64) as usize);
            if rng.below(3) == 0 {
                if let std::task::Poll::Ready(v) = poll!(&mut f) {
                    assert_eq!(v, Some(round));
                    assert!(taken_here.is_none(), "round {round}: one value taken twice");
                    taken_here = v;
                }
            }
            drop(f);
            if rng.below(2) == 0 {
                tokio::task::yield_now().await;
            }
        }
        if taken_here.is_some() {
            steady.abort();
            // The steady receiver may not have taken anything.
            if let Ok(Some(v)) = steady.await {
                panic!("round {round}: value {v} received twice");
            }
        } else {
            let got = at_most(Duration::from_secs(5), steady).await;
            assert_eq!(
                got.map(|r| r.unwrap()),
                Some(Some(round)),
                "capacity {capacity}, round {round}: the steady receiver was never woken: {}",
                ch.description()
            );
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "round {round}");
    }
}

/// Each round fills the channel, parks a few send futures here and one steady
/// sender in another task (in a random order), makes room for one value, then
/// polls some of the futures and drops them all in a random order. If a
/// dropped send swallowed the wake-up, the room stays empty and the round
/// stalls. Every value that got in is one whose send completed.
async fn lockstep_dropped_sends(capacity: usize, rounds: u64, seed: u64) {
    const FILL: u64 = 1 << 40;
    const STEADY: u64 = 1 << 41;
    let ch = Channel::buffered(capacity);
    let mut rng = Rng::new(seed);
    for round in 0..rounds {
        for i in 0..capacity as u64 {
            ch.try_send(FILL + i).unwrap();
        }
        let k = 1 + rng.below(3);
        let steady_first = rng.below(2) == 0;
        let spawn_steady = || {
            let tx = ch.sender();
            tokio::spawn(async move { tx.send(STEADY + round).await })
        };
        let mut steady = None;
        if steady_first {
            steady = Some(spawn_steady());
            until(|| ch.description(), |d| d.pending_sends == 1).await;
        }
        let mut flaky: Vec<_> = (0..k).map(|i| ch.send(round * 10 + i)).collect();
        for f in &mut flaky {
            assert!(poll!(f).is_pending(), "round {round}: no room yet");
        }
        let steady = match steady {
            Some(steady) => steady,
            None => {
                let steady = spawn_steady();
                until(|| ch.description(), |d| d.pending_sends == k as usize + 1).await;
                steady
            }
        };
        // Make room for one value: take one (buffered) or park a receiver (unbuffered).
        let mut taker = ch.recv();
        let first = poll!(&mut taker);
        if capacity > 0 {
            assert_eq!(first, std::task::Poll::Ready(Some(FILL)));
        } else {
            assert!(first.is_pending());
        }
        let mut completed = Vec::new();
        while !flaky.is_empty() {
            let i = rng.below(flaky.len() as u64) as usize;
            let mut f = flaky.swap_remove(i);
            if rng.below(3) == 0 && poll!(&mut f).is_ready() {
                completed.push(());
            }
            drop(f);
            if rng.below(2) == 0 {
                tokio::task::yield_now().await;
            }
        }
        assert!(
            completed.len() <= 1,
            "round {round}: room for one, {} got in",
            completed.len()
        );
        if completed.is_empty() {
            let done = at_most(Duration::from_secs(5), steady).await;
            assert!(
                matches!(done, Some(Ok(Ok(())))),
                "capacity {capacity}, round {round}: the steady sender was never woken: {}",
                ch.description()
            );
        } else {
            steady.abort();
            let _ = steady.await;
        }
        if capacity == 0 {
            let v = within(taker).await.expect("the parked receiver was served");
            assert!(
                v == STEADY + round || v / 10 == round,
                "round {round}: got {v}"
            );
        } else {
            drop(taker);
        }
        // Whatever is buffered now came from completed sends only.
        let mut steady_seen = 0;
        while let Ok(v) = ch.try_recv() {
            assert!(
                (FILL..FILL + capacity as u64).contains(&v)
                    || v == STEADY + round
                    || v / 10 == round,
                "round {round}: unexpected {v}"
            );
            steady_seen += u64::from(v == STEADY + round);
        }
        assert!(steady_seen <= 1, "round {round}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn lockstep_dropped_receives_never_strand_a_value_current_thread() {
    for capacity in [0, 1, 4, 65_537] {
        lockstep_dropped_receives(capacity, 150, capacity as u64 + 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockstep_dropped_receives_never_strand_a_value_multi_thread() {
    for capacity in [0, 1, 4, 65_537] {
        lockstep_dropped_receives(capacity, 150, capacity as u64 + 7).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn lockstep_dropped_sends_never_waste_room_current_thread() {
    for capacity in [0, 1, 4, 65_537] {
        // A huge channel is refilled each round: fewer rounds.
        let rounds = if capacity > 1_000 { 5 } else { 60 };
        lockstep_dropped_sends(capacity, rounds, capacity as u64 + 3).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockstep_dropped_sends_never_waste_room_multi_thread() {
    for capacity in [0, 1, 4, 65_537] {
        // A huge channel is refilled each round: fewer rounds.
        let rounds = if capacity > 1_000 { 5 } else { 60 };
        lockstep_dropped_sends(capacity, rounds, capacity as u64 + 9).await;
    }
}

// ---- randomized cancellation stress ------------------------------------------------

/// What became of every value a producer tried to send.
#[derive(Default)]
struct Outcome {
    /// The send completed: the value must be received exactly once.
    sent: Vec<u64>,
    /// The value came back (`Timeout(v)`, `Full(v)`) or its future was
    /// dropped: it must never be received.
    not_sent: Vec<u64>,
}

/// One attempt to send `id`, by a method picked at random, most of them
/// cancellable. Returns whether the value was sent.
async fn attempt_send(tx: &aleph::stream::Sender<u64>, id: u64, rng: &mut Rng) -> bool {
    match rng.below(6) {
        0 => tx.send(id).await.is_ok(),
        1 => match tx
            .send_timeout(id, Duration::from_micros(rng.below(300)))
            .await
        {
            Ok(()) => true,
            Err(SendTimeoutError::Timeout(v)) => {
                assert_eq!(v, id, "send_timeout gives the same value back");
                false
            }
            Err(SendTimeoutError::Closed(_)) => panic!("closed while producers live"),
        },
        2 => tokio::time::timeout(Duration::from_micros(rng.below(300)), tx.send(id))
            .await
            .is_ok_and(|r| r.is_ok()),
        3 => match tx.try_send(id) {
            Ok(()) => true,
            Err(TrySendError::Full(v)) => {
                assert_eq!(v, id);
                tokio::task::yield_now().await;
                false
            }
            Err(TrySendError::Closed(_)) => panic!("closed while producers live"),
        },
        _ => {
            let polls = rng.below(4) as u32;
            tokio::select! {
                biased;
                r = tx.send(id) => r.is_ok(),
                _ = ready_after(polls) => false,
            }
        }
    }
}

/// One attempt to receive, by a method picked at random, most of them
/// cancellable. `Err(())` once the channel is drained.
async fn attempt_recv(
    rx: &mut aleph::stream::Receiver<u64>,
    rng: &mut Rng,
) -> Result<Option<u64>, ()> {
    let got = match rng.below(6) {
        0 => return rx.recv().await.map(Some).ok_or(()),
        1 => match rx.recv_timeout(Duration::from_micros(rng.below(300))).await {
            Ok(v) => Some(v),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Drained) => return Err(()),
        },
        2 => match tokio::time::timeout(Duration::from_micros(rng.below(300)), rx.recv()).await {
            Ok(Some(v)) => Some(v),
            Ok(None) => return Err(()),
            Err(_) => None,
        },
        3 => match rx.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Empty) => {
                tokio::task::yield_now().await;
                None
            }
            Err(TryRecvError::Drained) => return Err(()),
        },
        4 => {
            // Through the Stream impl; the loop polls this handle again, so
            // its place in the queue is never left behind.
            let polls = rng.below(4) as u32;
            tokio::select! {
                biased;
                v = rx.next() => return v.map(Some).ok_or(()),
                _ = ready_after(polls) => None,
            }
        }
        _ => {
            let polls = rng.below(4) as u32;
            tokio::select! {
                biased;
                v = rx.recv() => return v.map(Some).ok_or(()),
                _ = ready_after(polls) => None,
            }
        }
    };
    Ok(got)
}

async fn random_cancellation_accounts_for_every_value(capacity: usize, seed: u64) {
    const PRODUCERS: u64 = 4;
    const CONSUMERS: u64 = 4;
    const PER_PRODUCER: u64 = 1_500;
    let ch = Channel::buffered(capacity);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = ch.sender();
            tokio::spawn(async move {
                let mut rng = Rng::new(seed * 100 + p);
                let mut outcome = Outcome::default();
                for n in 0..PER_PRODUCER {
                    support::pace(n).await;
                    let id = p * PER_PRODUCER + n;
                    if attempt_send(&tx, id, &mut rng).await {
                        outcome.sent.push(id);
                    } else {
                        outcome.not_sent.push(id);
                    }
                }
                outcome
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let mut rx = ch.receiver();
            tokio::spawn(async move {
                let mut rng = Rng::new(seed * 100 + 50 + c);
                let mut got = Vec::new();
                for n in 0.. {
                    support::pace(n).await;
                    match attempt_recv(&mut rx, &mut rng).await {
                        Ok(v) => got.extend(v),
                        Err(()) => break,
                    }
                }
                got
            })
        })
        .collect();
    drop(ch); // the producers' handles end the stream
    let mut sent = Vec::new();
    let mut not_sent = HashSet::new();
    for p in producers {
        let outcome = within(p).await.unwrap();
        sent.extend(outcome.sent);
        not_sent.extend(outcome.not_sent);
    }
    let mut received = Vec::new();
    for c in consumers {
        received.extend(within(c).await.unwrap());
    }
    let total = (PRODUCERS * PER_PRODUCER) as usize;
    assert_eq!(sent.len() + not_sent.len(), total);
    for v in &received {
        assert!(
            !not_sent.contains(v),
            "capacity {capacity}, seed {seed}: value {v} was received though its send did not complete"
        );
    }
    received.sort_unstable();
    let before = received.len();
    received.dedup();
    assert_eq!(
        before,
        received.len(),
        "capacity {capacity}, seed {seed}: a value was received twice"
    );
    sent.sort_unstable();
    assert_eq!(
        received.len(),
        sent.len(),
        "capacity {capacity}, seed {seed}: every completed send is received"
    );
    assert_eq!(received, sent, "capacity {capacity}, seed {seed}");
    assert!(
        !sent.is_empty() && !not_sent.is_empty(),
        "both outcomes were exercised"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn random_cancellation_loses_and_duplicates_nothing_current_thread() {
    for capacity in [0, 1] {
        for seed in 0..2 {
            random_cancellation_accounts_for_every_value(capacity, seed).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_cancellation_loses_and_duplicates_nothing_multi_thread() {
    for capacity in [0, 1] {
        for seed in 0..2 {
            random_cancellation_accounts_for_every_value(capacity, seed).await;
        }
    }
}

/// Cancelled receives race a close in the middle: values that were sent are
/// all received (a close keeps the buffer), sends after it get theirs back.
async fn cancellation_racing_close(capacity: usize) {
    let ch = Channel::buffered(capacity);
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let tx = ch.sender();
            tokio::spawn(async move {
                let mut rng = Rng::new(p + 77);
                let (mut sent, mut back) = (Vec::new(), Vec::new());
                for n in 0.. {
                    support::pace(n).await;
                    let id = p * 1_000_000 + n;
                    let polls = rng.below(3) as u32;
                    tokio::select! {
                        biased;
                        r = tx.send(id) => match r {
                            Ok(()) => sent.push(id),
                            Err(e) => {
                                assert_eq!(e.0, id);
                                back.push(id);
                                break;
                            }
                        },
                        _ = ready_after(polls) => {}
                    }
                }
                (sent, back)
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4u64)
        .map(|c| {
            let rx = ch.receiver();
            tokio::spawn(async move {
                let mut rng = Rng::new(c + 99);
                let mut got = Vec::new();
                for n in 0.. {
                    support::pace(n).await;
                    let polls = rng.below(3) as u32;
                    tokio::select! {
                        biased;
                        v = rx.recv() => match v {
                            Some(v) => got.push(v),
                            None => break,
                        },
                        _ = ready_after(polls) => {}
                    }
                }
                got
            })
        })
        .collect();
    let closer = ch.receiver();
    drop(ch);
    // Close once a few hundred values went through.
    let mut received: Vec<u64> = Vec::new();
    while received.len() < 300 {
        received.push(within(closer.recv()).await.expect("open until closed here"));
    }
    closer.close();
    while let Ok(v) = closer.try_recv() {
        received.push(v);
    }
    let mut sent = Vec::new();
    let mut returned = 0;
    for p in producers {
        let (s, b) = within(p).await.unwrap();
        sent.extend(s);
        returned += b.len();
    }
    assert_eq!(returned, 4, "every producer got its last value back");
    for c in consumers {
        received.extend(within(c).await.unwrap());
    }
    // A close keeps the buffer: every completed send is received, once.
    received.sort_unstable();
    sent.sort_unstable();
    assert_eq!(received, sent, "capacity {capacity}");
}

#[tokio::test(flavor = "current_thread")]
async fn cancellation_racing_close_accounts_for_every_value_current_thread() {
    for capacity in [0, 1, 8] {
        cancellation_racing_close(capacity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancellation_racing_close_accounts_for_every_value_multi_thread() {
    for capacity in [0, 1, 8] {
        cancellation_racing_close(capacity).await;
    }
}
