//! The stream rules of `aleph::stream`, one behaviour per test: close and
//! drain, the end of a channel when its last sending or receiving handle
//! drops, the waiting and non-waiting forms of send and receive, the
//! unbuffered rendezvous, capacity, order, descriptions, and the
//! `futures::Stream` / `futures::Sink` faces.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::stream::{
    Channel, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use futures::{poll, SinkExt, StreamExt};
use support::{count, counter, until, within, Counted};

// ---- close and drain ---------------------------------------------------------------

#[tokio::test]
async fn closed_channel_still_yields_buffered_values_then_none() {
    let ch = Channel::buffered(4);
    for i in 0..3 {
        ch.try_send(i).unwrap();
    }
    ch.close();
    assert_eq!(within(ch.recv()).await, Some(0));
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(within(ch.recv()).await, Some(2));
    assert_eq!(within(ch.recv()).await, None);
    assert_eq!(within(ch.recv()).await, None, "the end is sticky");
    assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
}

#[tokio::test]
async fn is_closed_is_set_at_close_and_is_drained_once_the_last_value_is_taken() {
    let ch = Channel::buffered(2);
    let rx = ch.receiver();
    assert!(!ch.is_closed() && !ch.is_drained());
    ch.try_send(1).unwrap();
    ch.try_send(2).unwrap();
    ch.close();
    assert!(ch.is_closed() && rx.is_closed());
    assert!(
        !ch.is_drained() && !rx.is_drained(),
        "values are still buffered"
    );
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(!rx.is_drained());
    assert_eq!(within(rx.recv()).await, Some(2));
    assert!(ch.is_drained() && rx.is_drained());
}

#[tokio::test]
async fn closing_an_empty_channel_drains_it_at_once() {
    let ch = Channel::<u8>::buffered(2);
    ch.close();
    assert!(ch.is_closed());
    assert!(ch.is_drained());
    let un = Channel::<u8>::new();
    un.close();
    assert!(un.is_drained());
}

#[tokio::test]
async fn close_is_idempotent() {
    let ch = Channel::buffered(2);
    let closes = counter();
    let drains = counter();
    let (c, d) = (closes.clone(), drains.clone());
    ch.on_closed(move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    ch.on_drained(move || {
        d.fetch_add(1, Ordering::SeqCst);
    });
    ch.try_send(7).unwrap();
    ch.close();
    ch.close();
    ch.sender().close();
    ch.receiver().close();
    assert!(ch.is_closed());
    assert!(ch.error().is_none());
    assert_eq!(count(&closes), 1);
    assert_eq!(count(&drains), 0, "a value is still buffered");
    assert_eq!(ch.try_recv(), Ok(7), "a second close drops nothing");
    ch.close();
    assert_eq!(count(&drains), 1);
    assert_eq!(count(&closes), 1);
}

#[tokio::test]
async fn close_with_error_is_reported_by_error_on_every_handle() {
    let ch = Channel::<u8>::buffered(1);
    let tx = ch.sender();
    let rx = ch.receiver();
    tx.close_with_error(aleph::Error::other("reset mid-body"));
    assert!(ch.is_closed());
    for err in [ch.error(), tx.error(), rx.error()] {
        let err = err.expect("the error is reported");
        assert!(err.is_other());
        assert_eq!(err.to_string(), "reset mid-body");
    }
    assert_eq!(
        ch.description().error.as_deref(),
        Some("reset mid-body"),
        "the description says why"
    );
}

#[tokio::test]
async fn the_first_close_wins_over_later_closes_with_or_without_error() {
    let first = Channel::<u8>::buffered(1);
    first.close_with_error(aleph::Error::other("first"));
    first.close_with_error(aleph::Error::other("second"));
    first.close();
    assert_eq!(first.error().unwrap().to_string(), "first");

    let clean = Channel::<u8>::buffered(1);
    clean.close();
    clean.close_with_error(aleph::Error::other("too late"));
    assert!(clean.error().is_none(), "a clean close stays clean");
}

#[tokio::test]
async fn receivers_still_drain_a_channel_closed_with_an_error() {
    let ch = Channel::buffered(2);
    ch.try_send(1).unwrap();
    ch.close_with_error(aleph::Error::other("broken"));
    assert_eq!(within(ch.recv()).await, Some(1));
    assert_eq!(within(ch.recv()).await, None);
    assert!(ch.is_drained());
    assert_eq!(ch.error().unwrap().to_string(), "broken");
}

// ---- callbacks and event futures ---------------------------------------------------

#[tokio::test]
async fn on_closed_runs_once_when_the_channel_closes() {
    let ch = Channel::<u8>::buffered(1);
    let n = counter();
    for _ in 0..3 {
        let n = n.clone();
        ch.on_closed(move || {
            n.fetch_add(1, Ordering::SeqCst);
        });
    }
    assert_eq!(count(&n), 0);
    ch.close();
    assert_eq!(count(&n), 3, "every callback ran");
    ch.close();
    ch.close_with_error(aleph::Error::other("again"));
    assert_eq!(count(&n), 3, "and none ran twice");
}

#[tokio::test]
async fn on_closed_runs_at_once_when_already_closed() {
    let ch = Channel::<u8>::buffered(1);
    ch.try_send(1).unwrap();
    ch.close();
    let n = counter();
    let m = n.clone();
    ch.sender().on_closed(move || {
        m.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(count(&n), 1);
}

#[tokio::test]
async fn on_drained_runs_once_when_the_last_buffered_value_is_taken() {
    let ch = Channel::buffered(2);
    let n = counter();
    let m = n.clone();
    ch.on_drained(move || {
        m.fetch_add(1, Ordering::SeqCst);
    });
    ch.try_send(1).unwrap();
    ch.try_send(2).unwrap();
    ch.close();
    assert_eq!(count(&n), 0);
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(count(&n), 0);
    assert_eq!(within(ch.recv()).await, Some(2));
    assert_eq!(count(&n), 1);
    assert_eq!(within(ch.recv()).await, None);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
    assert_eq!(count(&n), 1, "it ran once");
}

#[tokio::test]
async fn on_drained_runs_at_close_when_nothing_is_buffered() {
    let ch = Channel::<u8>::new();
    let n = counter();
    let m = n.clone();
    ch.receiver().on_drained(move || {
        m.fetch_add(1, Ordering::SeqCst);
    });
    ch.close();
    assert_eq!(count(&n), 1);
}

#[tokio::test]
async fn on_drained_runs_at_once_when_already_drained() {
    let ch = Channel::<u8>::buffered(1);
    ch.close();
    let n = counter();
    let m = n.clone();
    ch.on_drained(move || {
        m.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(count(&n), 1);
}

#[tokio::test]
async fn on_drained_runs_when_the_last_receiver_drops_a_closed_channel_with_values() {
    let ch = Channel::buffered(2);
    let tx = ch.sender();
    let rx = ch.receiver();
    drop(ch);
    tx.try_send(1).unwrap();
    tx.close();
    let n = counter();
    let m = n.clone();
    tx.on_closed(|| {});
    rx.on_drained(move || {
        m.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(count(&n), 0);
    drop(rx);
    assert_eq!(count(&n), 1, "nobody can take the value any more: drained");
}

#[tokio::test]
async fn closed_hooks_run_before_drained_hooks() {
    for buffered in [false, true] {
        let ch = Channel::buffered(1);
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = order.clone();
        ch.on_drained(move || log.lock().unwrap().push("drained"));
        let log = order.clone();
        ch.on_closed(move || log.lock().unwrap().push("closed"));
        if buffered {
            ch.try_send(1).unwrap();
        }
        ch.close();
        if buffered {
            assert_eq!(*order.lock().unwrap(), ["closed"]);
            assert_eq!(ch.try_recv(), Ok(1));
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["closed", "drained"],
            "buffered {buffered}"
        );
    }
}

#[tokio::test]
async fn a_panicking_hook_does_not_keep_the_other_hooks_from_running() {
    let ch = Channel::<u8>::buffered(1);
    let ran = counter();
    for i in 0..3 {
        let ran = ran.clone();
        ch.on_closed(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            assert!(i != 1, "hook {i} fails");
        });
    }
    let drained = counter();
    let d = drained.clone();
    ch.on_drained(move || {
        d.fetch_add(1, Ordering::SeqCst);
    });
    let closing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ch.close()));
    assert!(closing.is_err(), "the hook's panic reaches the caller");
    assert_eq!(count(&ran), 3, "every closed hook ran");
    assert_eq!(count(&drained), 1, "and the drained hook too");
    assert!(ch.is_closed() && ch.is_drained());
    ch.close();
    assert_eq!(count(&ran), 3);
}

#[tokio::test]
async fn callbacks_may_use_the_channel() {
    let ch = Channel::buffered(1);
    let inner = ch.clone();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    ch.on_closed(move || {
        // Runs outside the channel's lock: a call back in must not deadlock.
        let d = inner.description();
        log.lock()
            .unwrap()
            .push((d.closed, inner.try_send(9).is_err()));
        drop(inner);
    });
    let log = seen.clone();
    let inner = ch.clone();
    ch.on_drained(move || {
        log.lock()
            .unwrap()
            .push((inner.is_drained(), inner.try_recv().is_err()));
    });
    ch.close();
    assert_eq!(*seen.lock().unwrap(), [(true, true), (true, true)]);
}

#[tokio::test]
async fn closed_and_drained_futures_complete_at_their_events() {
    let ch = Channel::buffered(2);
    ch.try_send(1).unwrap();
    let rx = ch.receiver();
    let waiting_close = tokio::spawn({
        let rx = rx.clone();
        async move { rx.closed().await }
    });
    let waiting_drain = tokio::spawn({
        let rx = rx.clone();
        async move { rx.drained().await }
    });
    support::settle().await;
    assert!(!waiting_close.is_finished());
    ch.close();
    within(waiting_close).await.unwrap();

    let mut drained = rx.drained();
    assert!(
        poll!(&mut drained).is_pending(),
        "one value is still buffered"
    );
    assert!(!waiting_drain.is_finished());
    assert_eq!(rx.try_recv(), Ok(1));
    within(drained).await;
    within(waiting_drain).await.unwrap();
}

#[tokio::test]
async fn closed_and_drained_futures_are_ready_when_already_so() {
    let ch = Channel::<u8>::buffered(1);
    ch.close();
    within(ch.closed()).await;
    within(ch.drained()).await;
    within(ch.sender().closed()).await;
    within(ch.receiver().drained()).await;
}

#[tokio::test]
async fn a_dropped_closed_future_does_not_disturb_the_others() {
    let ch = Channel::<u8>::buffered(1);
    let mut futures: Vec<_> = (0..5).map(|_| Box::pin(ch.closed())).collect();
    for f in &mut futures {
        assert!(poll!(f.as_mut()).is_pending());
    }
    // Drop every other one; slab keys of the rest must stay valid.
    let mut kept = Vec::new();
    for (i, f) in futures.into_iter().enumerate() {
        if i % 2 == 0 {
            kept.push(f);
        }
    }
    let mut late = Box::pin(ch.closed());
    assert!(poll!(late.as_mut()).is_pending());
    ch.close();
    for f in kept {
        within(f).await;
    }
    within(late).await;
}

// ---- the end of a channel when handles drop ----------------------------------------

#[tokio::test]
async fn the_channel_closes_when_its_last_sending_handle_drops() {
    let ch = Channel::buffered(8);
    let rx = ch.receiver();
    let tx = ch.sender();
    let sink = ch.sink();
    let clone = ch.clone();
    drop(ch);
    clone.try_send(1).unwrap();
    drop(clone);
    assert!(!rx.is_closed(), "a Sender and a sink can still send");
    tx.try_send(2).unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "the sink can still send");
    let mut sink = sink;
    within(sink.send(3)).await.unwrap();
    drop(sink);
    assert!(rx.is_closed(), "no handle can send any more");
    assert!(rx.error().is_none(), "dropping is a clean end");
    let got: Vec<i32> = within(rx.collect()).await;
    assert_eq!(got, [1, 2, 3]);
}

#[tokio::test]
async fn dropping_the_last_sender_wakes_waiting_receivers_with_none() {
    let ch = Channel::<u8>::new();
    let tx = ch.sender();
    let rx = ch.receiver();
    drop(ch);
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move { rx.recv().await })
        })
        .collect();
    until(|| tx.description(), |d| d.pending_recvs == 3).await;
    drop(tx);
    for w in waiters {
        assert_eq!(within(w).await.unwrap(), None);
    }
}

#[tokio::test]
async fn dropping_a_receiver_clone_or_a_channel_clone_keeps_the_channel_open() {
    let ch = Channel::buffered(2);
    drop(ch.receiver());
    drop(ch.clone());
    drop(ch.sender());
    assert!(!ch.is_closed());
    ch.try_send(1).unwrap();
    assert_eq!(ch.try_recv(), Ok(1));
}

#[tokio::test]
async fn the_channel_closes_and_drops_buffered_values_when_its_last_receiving_handle_drops() {
    let drops = counter();
    let ch = Channel::buffered(4);
    let tx = ch.sender();
    let rx = ch.receiver();
    drop(ch);
    for i in 0..3 {
        tx.try_send(Counted::new(i, &drops)).unwrap();
    }
    let rx2 = rx.clone();
    drop(rx);
    assert!(!tx.is_closed(), "a receiver is left");
    assert_eq!(count(&drops), 0);
    drop(rx2);
    assert!(tx.is_closed());
    assert_eq!(
        count(&drops),
        3,
        "nobody can take the buffered values: dropped"
    );
    assert_eq!(tx.description().buffered, 0);
    let SendError(back) = within(tx.send(Counted::new(9, &drops))).await.unwrap_err();
    assert_eq!(back.id, 9, "a later send gets its value back");
    assert!(
        matches!(tx.try_send(Counted::new(10, &drops)), Err(TrySendError::Closed(v)) if v.id == 10)
    );
}

#[tokio::test]
async fn a_send_waiting_when_the_last_receiver_drops_gets_its_value_back() {
    for capacity in [0, 1] {
        let ch = Channel::buffered(capacity);
        let tx = ch.sender();
        let rx = ch.receiver();
        drop(ch);
        if capacity == 1 {
            tx.try_send(0).unwrap();
        }
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(1).await }
        });
        until(|| tx.description(), |d| d.pending_sends == 1).await;
        drop(rx);
        let err = within(waiting).await.unwrap().unwrap_err();
        assert_eq!(err.0, 1, "capacity {capacity}");
        assert!(tx.is_closed());
    }
}

#[tokio::test]
async fn split_gives_a_sender_and_a_receiver_that_end_the_channel_as_handles() {
    let (tx, rx) = Channel::buffered(2).split();
    tx.try_send(1).unwrap();
    assert!(
        !rx.is_closed(),
        "the Channel given to split no longer counts"
    );
    drop(tx);
    assert!(rx.is_closed());
    assert_eq!(within(rx.recv()).await, Some(1));
    assert_eq!(within(rx.recv()).await, None);
}

#[test]
fn dropping_buffered_values_that_hold_handles_to_the_same_channel_does_not_deadlock() {
    struct Msg(#[allow(dead_code)] Option<aleph::stream::Sender<Msg>>);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ch = Channel::buffered(4);
        let rx = ch.receiver();
        let tx = ch.sender();
        drop(ch);
        tx.try_send(Msg(Some(tx.clone()))).unwrap();
        tx.try_send(Msg(Some(tx.clone()))).unwrap();
        drop(tx);
        // The last receiver drops values whose drop drops the last senders.
        drop(rx);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(support::LIMIT)
        .expect("dropping the buffered values deadlocked");
}

// ---- waiting operations released by close ------------------------------------------

#[tokio::test]
async fn close_releases_waiting_sends_with_their_values() {
    for capacity in [0, 2] {
        let ch = Channel::buffered(capacity);
        for i in 0..capacity {
            ch.try_send(100 + i).unwrap();
        }
        let waiting: Vec<_> = (0..3)
            .map(|i| {
                let tx = ch.sender();
                tokio::spawn(async move { tx.send(i).await })
            })
            .collect();
        until(|| ch.description(), |d| d.pending_sends == 3).await;
        ch.close();
        for (i, w) in waiting.into_iter().enumerate() {
            let SendError(back) = within(w).await.unwrap().unwrap_err();
            assert_eq!(
                back, i,
                "capacity {capacity}: each send gets its own value back"
            );
        }
        for i in 0..capacity {
            assert_eq!(
                ch.try_recv(),
                Ok(100 + i),
                "buffered values survive the close"
            );
        }
        assert_eq!(within(ch.recv()).await, None);
    }
}

#[tokio::test]
async fn close_releases_waiting_receivers_with_none_once_drained() {
    let ch = Channel::<u32>::buffered(2);
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let rx = ch.receiver();
            tokio::spawn(async move { rx.recv().await })
        })
        .collect();
    until(|| ch.description(), |d| d.pending_recvs == 3).await;
    ch.close();
    for w in waiting {
        assert_eq!(within(w).await.unwrap(), None);
    }
}

#[tokio::test]
async fn send_on_closed_stream_gives_the_value_back() {
    let ch = Channel::buffered(1);
    ch.close();
    let err = within(ch.send(String::from("kept"))).await.unwrap_err();
    assert_eq!(err.to_string(), "send on a closed stream");
    assert_eq!(err.into_inner(), "kept");
    let SendError(v) = within(ch.sender().send(String::from("also")))
        .await
        .unwrap_err();
    assert_eq!(v, "also");
    let as_error: aleph::Error = within(ch.send(String::new())).await.unwrap_err().into();
    assert!(as_error.is_closed());
}

// ---- non-waiting and timed operations ----------------------------------------------

#[tokio::test]
async fn try_send_gives_the_value_back_when_full_or_closed() {
    let ch = Channel::buffered(1);
    assert!(ch.try_send(1).is_ok());
    let full = ch.try_send(2).unwrap_err();
    assert!(full.is_full() && !full.is_closed());
    assert_eq!(full.to_string(), "stream is full");
    assert!(matches!(full, TrySendError::Full(2)));
    ch.close();
    let closed = ch.try_send(3).unwrap_err();
    assert!(closed.is_closed() && !closed.is_full());
    assert_eq!(closed.to_string(), "send on a closed stream");
    assert_eq!(closed.into_inner(), 3);
    assert_eq!(
        ch.try_recv(),
        Ok(1),
        "the failed sends left the buffer alone"
    );
    assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
}

#[tokio::test]
async fn try_recv_says_empty_while_open_and_drained_once_closed_and_empty() {
    let ch = Channel::buffered(1);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(TryRecvError::Empty.to_string(), "stream is empty");
    ch.try_send(5).unwrap();
    ch.close();
    assert_eq!(ch.receiver().try_recv(), Ok(5));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
    assert_eq!(
        TryRecvError::Drained.to_string(),
        "stream is closed and drained"
    );
}

#[tokio::test(start_paused = true)]
async fn send_timeout_gives_the_value_back_after_the_time_limit() {
    let ch = Channel::buffered(1);
    ch.send_timeout(1, Duration::from_secs(1)).await.unwrap();
    let start = tokio::time::Instant::now();
    let err = ch
        .send_timeout(2, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(err.is_timeout() && !err.is_closed());
    assert!(matches!(err, SendTimeoutError::Timeout(2)));
    assert_eq!(
        ch.description().pending_sends,
        0,
        "the timed-out send left the queue"
    );
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(
        ch.try_recv(),
        Err(TryRecvError::Empty),
        "nothing of the timed-out send arrived"
    );
}

#[tokio::test(start_paused = true)]
async fn send_timeout_gives_the_value_back_when_closed_while_waiting() {
    let ch = Channel::new();
    let tx = ch.sender();
    let waiting = tokio::spawn(async move { tx.send_timeout("v", Duration::from_secs(60)).await });
    until(|| ch.description(), |d| d.pending_sends == 1).await;
    let start = tokio::time::Instant::now();
    ch.close();
    let err = waiting.await.unwrap().unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(60));
    assert!(matches!(err, SendTimeoutError::Closed("v")));
    assert!(err.is_closed());
    assert_eq!(err.into_inner(), "v");
    let err = ch
        .send_timeout("w", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendTimeoutError::Closed("w")),
        "already closed"
    );
}

#[tokio::test(start_paused = true)]
async fn send_timeout_succeeds_when_room_frees_before_the_time_limit() {
    let ch = Channel::buffered(1);
    ch.try_send(1).unwrap();
    let rx = ch.receiver();
    let taker = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        rx.recv().await
    });
    let start = tokio::time::Instant::now();
    ch.send_timeout(2, Duration::from_secs(3)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(taker.await.unwrap(), Some(1));
    assert_eq!(ch.try_recv(), Ok(2));
}

#[tokio::test(start_paused = true)]
async fn recv_timeout_says_timeout_while_open_and_drained_once_closed() {
    let ch = Channel::<u8>::buffered(1);
    let start = tokio::time::Instant::now();
    assert_eq!(
        ch.recv_timeout(Duration::from_secs(4)).await,
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(start.elapsed(), Duration::from_secs(4));
    assert_eq!(
        ch.description().pending_recvs,
        0,
        "the timed-out receive left the queue"
    );
    ch.try_send(3).unwrap();
    assert_eq!(ch.recv_timeout(Duration::from_secs(1)).await, Ok(3));
    ch.close();
    let start = tokio::time::Instant::now();
    assert_eq!(
        ch.recv_timeout(Duration::from_secs(4)).await,
        Err(RecvTimeoutError::Drained)
    );
    assert_eq!(start.elapsed(), Duration::ZERO, "drained answers at once");
    assert_eq!(RecvTimeoutError::Timeout.to_string(), "receive timed out");
}

#[tokio::test(start_paused = true)]
async fn recv_timeout_gets_a_value_sent_before_the_time_limit() {
    let ch = Channel::new();
    let tx = ch.sender();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.send(8u8).await
    });
    let start = tokio::time::Instant::now();
    assert_eq!(ch.recv_timeout(Duration::from_secs(2)).await, Ok(8));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn recv_timeout_on_a_closed_channel_returns_buffered_values_first() {
    let ch = Channel::buffered(2);
    ch.try_send(1).unwrap();
    ch.close();
    assert_eq!(ch.recv_timeout(Duration::from_secs(1)).await, Ok(1));
    assert_eq!(
        ch.recv_timeout(Duration::from_secs(1)).await,
        Err(RecvTimeoutError::Drained)
    );
}

// ---- unbuffered channels -----------------------------------------------------------

#[tokio::test]
async fn unbuffered_send_completes_only_when_a_receiver_takes() {
    let ch = Channel::new();
    let rx = ch.receiver();
    let mut send = ch.send(1);
    assert!(poll!(&mut send).is_pending(), "no receiver yet");
    assert!(poll!(&mut send).is_pending());
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "try_recv takes nothing from a waiting send"
    );
    let mut recv = rx.recv();
    assert!(poll!(&mut recv).is_pending(), "the receiver parks");
    assert!(poll!(&mut send).is_ready(), "now the send is taken");
    assert_eq!(poll!(&mut recv), std::task::Poll::Ready(Some(1)));
}

#[tokio::test]
async fn unbuffered_send_and_recv_meet_across_tasks() {
    let ch = Channel::new();
    let tx = ch.sender();
    let sender = tokio::spawn(async move {
        for i in 0..100 {
            tx.send(i).await.unwrap();
        }
    });
    for i in 0..100 {
        assert_eq!(within(ch.recv()).await, Some(i));
    }
    within(sender).await.unwrap();
    assert_eq!(ch.description().buffered, 0);
}

#[tokio::test]
async fn unbuffered_try_send_is_full_unless_a_receiver_is_parked() {
    let ch = Channel::new();
    assert!(matches!(ch.try_send(1), Err(TrySendError::Full(1))));
    let mut recv = ch.recv();
    assert!(poll!(&mut recv).is_pending());
    assert_eq!(ch.description().pending_recvs, 1);
    assert!(ch.try_send(2).is_ok(), "a parked receiver takes it");
    assert!(
        matches!(ch.try_send(3), Err(TrySendError::Full(3))),
        "one parked receiver takes one value"
    );
    assert_eq!(within(recv).await, Some(2));
    assert!(matches!(ch.try_send(4), Err(TrySendError::Full(4))));
}

#[tokio::test]
async fn unbuffered_try_send_serves_each_parked_receiver_once() {
    let ch = Channel::new();
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let rx = ch.receiver();
            tokio::spawn(async move { rx.recv().await })
        })
        .collect();
    until(|| ch.description(), |d| d.pending_recvs == 3).await;
    for i in 0..3 {
        ch.try_send(i).unwrap();
    }
    assert!(ch.try_send(3).unwrap_err().is_full());
    let mut got = Vec::new();
    for w in waiting {
        got.push(within(w).await.unwrap().unwrap());
    }
    got.sort();
    assert_eq!(got, [0, 1, 2]);
}

#[tokio::test]
async fn buffered_zero_is_the_same_as_new() {
    for ch in [Channel::buffered(0), Channel::new(), Channel::default()] {
        let d = ch.description();
        assert_eq!(d.capacity, 0);
        assert!(
            d.to_string().starts_with("channel: unbuffered (0 held)"),
            "{d}"
        );
        assert!(ch.try_send(1).unwrap_err().is_full());
        let mut send = ch.send(2);
        assert!(poll!(&mut send).is_pending());
        drop(send);
        let mut recv = ch.recv();
        assert!(
            poll!(&mut recv).is_pending(),
            "the dropped send left nothing"
        );
        ch.try_send(3).unwrap();
        assert_eq!(within(recv).await, Some(3));
    }
}

// ---- capacity and order ------------------------------------------------------------

#[tokio::test]
async fn a_buffered_channel_accepts_exactly_its_capacity_without_a_receiver() {
    // 65_536 is the largest lock-free ring; 65_537 is kept under the lock.
    for capacity in [1usize, 2, 16, 1000, 65_536, 65_537] {
        let ch = Channel::buffered(capacity);
        for i in 0..capacity {
            assert!(ch.try_send(i).is_ok(), "capacity {capacity}: send {i}");
        }
        assert!(
            ch.try_send(capacity).unwrap_err().is_full(),
            "capacity {capacity}"
        );
        let mut send = ch.send(capacity);
        assert!(
            poll!(&mut send).is_pending(),
            "capacity {capacity}: a send waits"
        );
        assert_eq!(ch.description().buffered, capacity);
        assert_eq!(ch.try_recv(), Ok(0));
        assert!(poll!(&mut send).is_ready(), "one taken, one more fits");
        assert!(ch.try_send(capacity + 1).unwrap_err().is_full());
        assert_eq!(ch.description().buffered, capacity);
    }
}

#[tokio::test]
async fn a_channel_larger_than_the_ring_still_closes_drains_and_drops_its_values() {
    let drops = counter();
    let ch = Channel::buffered(70_000);
    for i in 0..70_000 {
        ch.try_send(Counted::new(i, &drops)).unwrap();
    }
    assert!(ch.try_send(Counted::new(0, &drops)).unwrap_err().is_full());
    assert_eq!(count(&drops), 1);
    ch.close();
    assert!(!ch.is_drained());
    assert_eq!(ch.try_recv().unwrap().id, 0);
    let tx = ch.sender();
    drop(ch);
    assert_eq!(
        count(&drops),
        70_000 + 1,
        "the last receiver dropped what was left"
    );
    assert!(tx.is_closed());
}

#[tokio::test(flavor = "current_thread")]
async fn waiting_sends_get_in_in_the_order_they_arrived() {
    for capacity in [0, 1, 3, 65_537] {
        let ch = Channel::buffered(capacity);
        for i in 0..capacity {
            ch.try_send(i).unwrap();
        }
        let mut waiting = Vec::new();
        for i in 0..4 {
            let tx = ch.sender();
            waiting.push(tokio::spawn(async move { tx.send(1_000_000 + i).await }));
            until(|| ch.description(), |d| d.pending_sends == i + 1).await;
        }
        let mut got = Vec::new();
        for _ in 0..capacity + 4 {
            got.push(within(ch.recv()).await.unwrap());
        }
        let late: Vec<usize> = got.split_off(capacity);
        assert_eq!(
            late,
            [1_000_000, 1_000_001, 1_000_002, 1_000_003],
            "capacity {capacity}: FIFO by arrival"
        );
        for w in waiting {
            within(w).await.unwrap().unwrap();
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn waiting_receivers_are_served_in_the_order_they_arrived() {
    for capacity in [0, 1, 3, 65_537] {
        let ch = Channel::buffered(capacity);
        let mut waiting = Vec::new();
        for i in 0..4 {
            let rx = ch.receiver();
            waiting.push(tokio::spawn(async move { rx.recv().await }));
            until(|| ch.description(), |d| d.pending_recvs == i + 1).await;
        }
        for (i, w) in waiting.into_iter().enumerate() {
            within(ch.send(i)).await.unwrap();
            let got = support::at_most(Duration::from_secs(2), w).await;
            assert_eq!(
                got.map(|r| r.unwrap()),
                Some(Some(i)),
                "capacity {capacity}: receiver {i} arrived first among those left"
            );
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_waiting_send_that_lost_its_chance_to_a_newcomer_keeps_its_place() {
    for capacity in [1, 65_537] {
        let ch = Channel::buffered(capacity);
        for i in 0..capacity {
            ch.try_send(i).unwrap();
        }
        let mut waiting = Vec::new();
        for i in 0..2 {
            let tx = ch.sender();
            waiting.push(tokio::spawn(async move { tx.send(1_000_000 + i).await }));
            until(|| ch.description(), |d| d.pending_sends == i + 1).await;
        }
        assert_eq!(ch.try_recv(), Ok(0), "wakes the first waiting send");
        ch.try_send(999_999).unwrap(); // a newcomer takes the room first
        support::settle().await; // the first send finds no room and waits again
        assert_eq!(ch.description().pending_sends, 2);
        let mut got = Vec::new();
        for _ in 0..capacity + 2 {
            got.push(within(ch.recv()).await.unwrap());
        }
        assert_eq!(
            got.split_off(capacity - 1),
            [999_999, 1_000_000, 1_000_001],
            "capacity {capacity}: the first waiting send still goes before the second"
        );
    }
}

#[tokio::test]
async fn a_full_channel_lets_waiting_sends_in_one_per_value_taken() {
    let ch = Channel::buffered(2);
    ch.try_send(0).unwrap();
    ch.try_send(1).unwrap();
    let waiting: Vec<_> = (2..6)
        .map(|i| {
            let tx = ch.sender();
            tokio::spawn(async move { tx.send(i).await })
        })
        .collect();
    until(|| ch.description(), |d| d.pending_sends == 4).await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(within(ch.recv()).await.unwrap());
        assert!(ch.description().buffered <= 2, "capacity is respected");
    }
    for w in waiting {
        within(w).await.unwrap().unwrap();
    }
    got.sort();
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_single_producer_values_arrive_in_order() {
    for capacity in [0, 1, 4, 64] {
        let ch = Channel::buffered(capacity);
        let tx = ch.sender();
        let producer = tokio::spawn(async move {
            for i in 0..2000u32 {
                tx.send(i).await.unwrap();
            }
        });
        let rx = ch.receiver();
        drop(ch);
        let got: Vec<u32> = within(rx.collect()).await;
        assert_eq!(got, (0..2000).collect::<Vec<_>>(), "capacity {capacity}");
        within(producer).await.unwrap();
    }
}

// ---- description -------------------------------------------------------------------

#[tokio::test]
async fn description_reports_buffer_waiters_handles_and_state() {
    let ch = Channel::buffered(3);
    let d = ch.description();
    assert_eq!(d.kind, "channel");
    assert_eq!(d.label, None);
    assert_eq!((d.capacity, d.buffered), (3, 0));
    assert_eq!((d.pending_sends, d.pending_recvs), (0, 0));
    assert_eq!((d.senders, d.receivers), (1, 1));
    assert_eq!((d.closed, d.drained, d.error.clone()), (false, false, None));
    assert_eq!((d.peer_addr, d.local_addr), (None, None));
    assert_eq!(
        d.to_string(),
        "channel: 0/3 buffered, 0 sends and 0 receives waiting, 1 sending and 1 receiving handles, open"
    );

    let tx = ch.sender();
    let rx = ch.receiver();
    let sink = ch.sink();
    let d = ch.description();
    assert_eq!((d.senders, d.receivers), (3, 2));

    let mut recv = rx.recv();
    assert!(poll!(&mut recv).is_pending());
    assert_eq!(ch.description().pending_recvs, 1);
    drop(recv);
    assert_eq!(
        ch.description().pending_recvs,
        0,
        "a dropped receive leaves the queue"
    );

    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    let mut send = tx.send(3);
    assert!(poll!(&mut send).is_pending());
    let d = rx.description();
    assert_eq!((d.buffered, d.pending_sends), (3, 1));
    assert_eq!(
        d.to_string(),
        "channel: 3/3 buffered, 1 sends and 0 receives waiting, 3 sending and 2 receiving handles, open"
    );
    drop(send);
    assert_eq!(
        ch.description().pending_sends,
        0,
        "a dropped send leaves the queue"
    );

    drop(sink);
    drop(tx);
    ch.close_with_error(aleph::Error::other("peer reset"));
    let d = ch.description();
    assert!(d.closed && !d.drained);
    assert_eq!(d.error.as_deref(), Some("peer reset"));
    assert_eq!(
        d.to_string(),
        "channel: 3/3 buffered, 0 sends and 0 receives waiting, 1 sending and 2 receiving handles, closed (peer reset)"
    );
    while ch.try_recv().is_ok() {}
    let d = ch.description();
    assert!(d.closed && d.drained);
    assert!(d.to_string().ends_with("drained (peer reset)"), "{d}");
    assert_eq!(format!("{ch:?}"), format!("Channel({d})"));
    assert_eq!(format!("{rx:?}"), format!("Receiver({d})"));
}

#[tokio::test]
async fn description_of_an_unbuffered_channel_counts_the_held_value() {
    let ch = Channel::new();
    let mut recv = ch.recv();
    assert!(poll!(&mut recv).is_pending());
    ch.try_send(1).unwrap();
    let d = ch.description();
    assert_eq!((d.capacity, d.buffered, d.pending_recvs), (0, 1, 0));
    assert!(
        d.to_string().starts_with("channel: unbuffered (1 held), "),
        "{d}"
    );
    assert_eq!(within(recv).await, Some(1));
}

// ---- futures::Stream and futures::Sink ---------------------------------------------

#[tokio::test]
async fn a_channel_is_a_futures_stream_that_ends_when_drained() {
    let mut ch = Channel::buffered(4);
    for i in 0..3 {
        ch.try_send(i).unwrap();
    }
    ch.close();
    assert_eq!(within(ch.next()).await, Some(0));
    assert!(!futures::stream::FusedStream::is_terminated(&ch));
    let rest: Vec<i32> = within((&mut ch).collect()).await;
    assert_eq!(rest, [1, 2]);
    assert!(futures::stream::FusedStream::is_terminated(&ch));
    assert_eq!(within(ch.next()).await, None);
}

#[tokio::test]
async fn a_receiver_is_a_futures_stream_fed_across_tasks() {
    let ch = Channel::buffered(2);
    let mut rx = ch.receiver();
    tokio::spawn(async move {
        for i in 0..50 {
            ch.send(i).await.unwrap();
        }
        // Dropping the last sending handle ends the stream.
    });
    let mut got = Vec::new();
    while let Some(v) = within(rx.next()).await {
        got.push(v);
    }
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

#[tokio::test]
async fn receiver_poll_recv_works_from_a_hand_written_poll() {
    let ch = Channel::buffered(1);
    let mut rx = ch.receiver();
    let tx = ch.sender();
    drop(ch);
    let getter = tokio::spawn(async move { futures::future::poll_fn(|cx| rx.poll_recv(cx)).await });
    until(|| tx.description(), |d| d.pending_recvs == 1).await;
    tx.try_send(4).unwrap();
    assert_eq!(within(getter).await.unwrap(), Some(4));
}

#[tokio::test]
async fn sink_send_and_send_all_deliver_in_order() {
    let ch = Channel::buffered(1);
    let rx = ch.receiver();
    let mut sink = ch.sink();
    drop(ch);
    let consumer = tokio::spawn(rx.collect::<Vec<u32>>());
    within(sink.send(0)).await.unwrap();
    within(sink.send_all(&mut futures::stream::iter(1..100).map(Ok)))
        .await
        .unwrap();
    within(sink.close()).await.unwrap();
    assert_eq!(
        within(consumer).await.unwrap(),
        (0..100).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn sink_send_returns_once_the_value_is_in_the_channel() {
    let ch = Channel::buffered(1);
    ch.try_send(0).unwrap();
    let mut sink = ch.sink();
    {
        let mut send = sink.send(1);
        assert!(poll!(&mut send).is_pending(), "the channel is full");
        assert_eq!(ch.try_recv(), Ok(0));
        assert!(poll!(&mut send).is_ready());
    }
    assert_eq!(ch.try_recv(), Ok(1));
    let mut unbuffered = Channel::new();
    let mut sink = unbuffered.sink();
    let mut send = sink.send(5);
    assert!(poll!(&mut send).is_pending(), "no receiver waits");
    let mut recv = unbuffered.next();
    assert!(poll!(&mut recv).is_pending());
    assert!(poll!(&mut send).is_ready());
    assert_eq!(within(recv).await, Some(5));
}

#[tokio::test]
async fn sink_close_closes_the_channel_for_every_handle() {
    let ch = Channel::buffered(4);
    let mut sink = ch.sink();
    within(sink.send(1)).await.unwrap();
    within(sink.close()).await.unwrap();
    assert!(ch.is_closed());
    assert!(ch.error().is_none());
    assert_eq!(within(ch.recv()).await, Some(1));
    assert_eq!(within(ch.recv()).await, None);
}

#[tokio::test]
async fn sink_on_a_closed_channel_errors_with_is_closed() {
    let ch = Channel::buffered(4);
    let mut sink = ch.sink();
    ch.close();
    let err = within(sink.send(1)).await.unwrap_err();
    assert!(err.is_closed(), "{err}");
    let err = within(sink.feed(2)).await.unwrap_err();
    assert!(err.is_closed());
    assert_eq!(ch.try_recv(), Err(TryRecvError::Drained), "nothing got in");
}

#[tokio::test]
async fn a_sink_waiting_for_room_errors_when_the_channel_closes() {
    let ch = Channel::buffered(1);
    ch.try_send(0).unwrap();
    let mut sink = ch.sink();
    let waiting = tokio::spawn(async move { sink.send(1).await });
    until(|| ch.description(), |d| d.pending_sends == 1).await;
    ch.close();
    let err = within(waiting).await.unwrap().unwrap_err();
    assert!(err.is_closed());
    assert_eq!(ch.try_recv(), Ok(0));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
}

#[tokio::test]
async fn the_sink_sender_is_a_handle_on_the_same_channel() {
    let ch = Channel::buffered(2);
    let sink = ch.sink();
    sink.sender().try_send(1).unwrap();
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(ch.description().senders, 2);
    let counted = Arc::new(AtomicUsize::new(0));
    let c = counted.clone();
    ch.on_closed(move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    drop(ch.clone());
    drop(sink);
    assert_eq!(count(&counted), 0, "the Channel can still send");
}

/// Sends and receives spend tokio's cooperative budget, as tokio's own
/// channels do: a task whose channel operations are always ready still
/// yields, so its neighbours on the same thread are not starved.
#[tokio::test(flavor = "current_thread")]
async fn an_always_ready_send_and_recv_loop_yields_to_other_tasks() {
    let ch = Channel::buffered(4);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    let mut yielded_at = None;
    for i in 0..10_000u32 {
        ch.send(i).await.unwrap();
        assert_eq!(ch.recv().await, Some(i));
        if ran.load(Ordering::SeqCst) {
            yielded_at = Some(i);
            break;
        }
    }
    assert!(
        yielded_at.is_some(),
        "10 000 ready sends and receives never let the other task run"
    );
}
