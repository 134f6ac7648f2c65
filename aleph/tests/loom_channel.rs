//! Loom models of the channel core: every interleaving (up to a preemption
//! bound) of two or three threads using a channel, with the core's atomics,
//! its lock and `concurrent-queue`'s ring all under loom's control.
//! A lost wake-up shows as a deadlock, a lost or doubled value as a failed
//! assertion.
//!
//! Run them with (release: loom explores many thousands of schedules):
//!
//! ```sh
//! ./scripts/loom.sh               # every model
//! ./scripts/loom.sh close_racing  # the models whose name matches
//! ```
//!
//! The script gives `--cfg loom` to aleph and concurrent-queue only: a plain
//! `RUSTFLAGS="--cfg loom"` reaches tokio too, which then compiles its
//! networking out, and aleph does not build. `LOOM_MAX_PREEMPTIONS` overrides
//! the preemption bound (3 here); a normal `cargo test` compiles this file to
//! nothing.
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aleph::stream::{Channel, TryRecvError};
use loom::future::block_on;
use loom::sync::{Arc, Mutex};
use loom::thread;

/// Checks `f` under every schedule loom explores.
fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(3, f);
}

/// Checks `f` with at most `preemptions` preemptions per schedule (unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise): for models whose three threads all
/// wait, which explode beyond.
fn model_bounded(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.max_branches = 100_000;
    builder.check(f);
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// The capacities of each store: unbuffered and large (a `VecDeque` under the
/// lock), and a ring of one (lock-free).
const CAPACITIES: [usize; 3] = [0, 1, 65_537];

/// A send on one thread meets a receive on another: the value arrives once
/// and both sides complete (a lost wake-up would leave one blocked: loom
/// reports the deadlock).
#[test]
fn a_send_meets_a_receive_across_threads() {
    for capacity in CAPACITIES {
        model(move || {
            let ch = Channel::<u32>::buffered(capacity);
            let tx = ch.sender();
            let sender = thread::spawn(move || block_on(tx.send(7)).is_ok());
            assert_eq!(block_on(ch.recv()), Some(7));
            assert!(sender.join().unwrap());
        });
    }
}

/// Two values through a buffer of one: the second send waits for the room
/// the first receive frees, and the receiver waits for each value.
#[test]
fn two_values_through_one_slot_arrive_in_order() {
    model(|| {
        let ch = Channel::<u32>::buffered(1);
        let tx = ch.sender();
        let sender = thread::spawn(move || {
            block_on(tx.send(1)).unwrap();
            block_on(tx.send(2)).unwrap();
        });
        assert_eq!(block_on(ch.recv()), Some(1));
        assert_eq!(block_on(ch.recv()), Some(2));
        sender.join().unwrap();
    });
}

/// A `try_send` racing a receive that waits: the receiver either finds the
/// value at once or is woken for it (the store-buffer handshake between the
/// lock-free push and the waiter's listen-fence-look-again).
#[test]
fn a_try_send_wakes_a_waiting_receive() {
    model(|| {
        let ch = Channel::<u32>::buffered(1);
        let tx = ch.sender();
        let sender = thread::spawn(move || tx.try_send(5).is_ok());
        assert_eq!(block_on(ch.recv()), Some(5));
        assert!(sender.join().unwrap());
    });
}

/// A `try_recv` that frees room racing a send waiting on a full channel: the
/// send either finds the room or is woken for it.
#[test]
fn a_try_recv_wakes_a_waiting_send() {
    model(|| {
        let ch = Channel::<u32>::buffered(1);
        ch.try_send(0).unwrap();
        let rx = ch.receiver();
        let taker = thread::spawn(move || rx.try_recv());
        block_on(ch.send(1)).unwrap();
        assert_eq!(taker.join().unwrap(), Ok(0));
        assert_eq!(ch.try_recv(), Ok(1));
    });
}

/// A close racing a send (and a receive on a third thread): a send that
/// completed is received, a refused one is not, and the receiver then sees
/// the end.
#[test]
fn a_close_racing_a_send_loses_and_invents_nothing() {
    for capacity in CAPACITIES {
        model(move || {
            let ch = Channel::<u32>::buffered(capacity);
            let tx = ch.sender();
            let closer = ch.sender();
            let sender = thread::spawn(move || block_on(tx.send(1)).is_ok());
            let closing = thread::spawn(move || closer.close());
            let got = block_on(ch.recv());
            let sent = sender.join().unwrap();
            closing.join().unwrap();
            let mut all: Vec<u32> = got.into_iter().collect();
            while let Ok(v) = ch.try_recv() {
                all.push(v);
            }
            assert_eq!(all, if sent { vec![1] } else { vec![] });
            assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
        });
    }
}

/// A receive dropped after one poll, racing a send: the value is never lost,
/// whichever way the race goes. Unbuffered, the dropped receive may have
/// granted the permit the send used: the value is then held for the next
/// receive.
#[test]
fn a_dropped_receive_racing_a_send_loses_no_value() {
    for capacity in CAPACITIES {
        model(move || {
            let ch = Channel::<u32>::buffered(capacity);
            let tx = ch.sender();
            let sender = thread::spawn(move || block_on(tx.send(5)).is_ok());
            let first = {
                let recv = pin!(ch.recv());
                poll_once(recv)
            };
            let got = match first {
                Poll::Ready(v) => v,
                // Dropped: the value must reach the next receive.
                Poll::Pending => block_on(ch.recv()),
            };
            assert_eq!(got, Some(5));
            assert!(sender.join().unwrap());
            assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        });
    }
}

/// A send dropped after one poll never delivers, racing a receive (which may
/// free the room, or grant it, just before or after the drop).
#[test]
fn a_dropped_send_never_delivers() {
    for capacity in [0, 1] {
        model(move || {
            let ch = Channel::<u32>::buffered(capacity);
            if capacity > 0 {
                ch.try_send(0).unwrap();
            }
            let rx = ch.receiver();
            let receiver = thread::spawn(move || {
                let recv = pin!(rx.recv());
                match poll_once(recv) {
                    Poll::Ready(v) => v,
                    Poll::Pending => None,
                }
            });
            let sent = {
                let send = pin!(ch.send(1));
                matches!(poll_once(send), Poll::Ready(Ok(())))
            };
            let mut all: Vec<u32> = receiver.join().unwrap().into_iter().collect();
            while let Ok(v) = ch.try_recv() {
                all.push(v);
            }
            all.retain(|&v| v == 1);
            assert_eq!(all.len(), usize::from(sent), "sent: {sent}");
        });
    }
}

/// A close racing the receive that takes the last value: the drained hook
/// runs exactly once, after the closed hook, whichever thread fires it.
#[test]
fn a_close_racing_the_last_receive_runs_each_hook_once_in_order() {
    model(|| {
        let ch = Channel::<u32>::buffered(1);
        ch.try_send(1).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let closed = log.clone();
        ch.on_closed(move || closed.lock().unwrap().push("closed"));
        let drained = log.clone();
        ch.on_drained(move || drained.lock().unwrap().push("drained"));
        let closer = ch.sender();
        let closing = thread::spawn(move || closer.close());
        assert_eq!(ch.try_recv(), Ok(1));
        closing.join().unwrap();
        assert!(ch.is_drained());
        assert_eq!(*log.lock().unwrap(), ["closed", "drained"]);
    });
}

/// Two closes with different errors race a send: exactly one close wins (its
/// error is the channel's), the closed hook runs once, and the send either
/// got in (and is received) or got its value back.
#[test]
fn racing_closes_agree_on_one_error_and_run_the_hook_once() {
    model(|| {
        let ch = Channel::<u32>::buffered(1);
        let runs = Arc::new(Mutex::new(0));
        let hook = runs.clone();
        ch.on_closed(move || *hook.lock().unwrap() += 1);
        let (a, b) = (ch.sender(), ch.sender());
        let first = thread::spawn(move || a.close_with_error(aleph::Error::other("a")));
        let second = thread::spawn(move || b.close_with_error(aleph::Error::other("b")));
        let sent = ch.try_send(1).is_ok();
        first.join().unwrap();
        second.join().unwrap();
        let error = ch.error().expect("closed with an error").to_string();
        assert!(error == "a" || error == "b", "{error}");
        assert_eq!(*runs.lock().unwrap(), 1);
        assert_eq!(ch.try_recv().ok(), sent.then_some(1));
        assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
    });
}

/// A value that counts its drops in a loom-visible counter.
struct Counted(Arc<Mutex<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        *self.0.lock().unwrap() += 1;
    }
}

/// The last receiving handle dropped while a send races it: the send either
/// gets its value back (the channel closed first) or the value went in and
/// the channel dropped it with the last receiver. Either way it is dropped
/// exactly once, and the send never hangs.
#[test]
fn the_last_receiver_dropped_racing_a_send_drops_the_value_once() {
    for capacity in CAPACITIES {
        model(move || {
            let drops = Arc::new(Mutex::new(0));
            let ch = Channel::<Counted>::buffered(capacity);
            let tx = ch.sender();
            let rx = ch.receiver();
            drop(ch);
            let value = Counted(drops.clone());
            let sender = thread::spawn(move || {
                // Unbuffered, nobody ever waits: the send waits until the
                // close hands its value back.
                match block_on(tx.send(value)) {
                    Ok(()) => true,
                    Err(refused) => {
                        drop(refused);
                        false
                    }
                }
            });
            drop(rx);
            let sent = sender.join().unwrap();
            assert!(!sent || capacity > 0, "no receiver ever waited");
            assert_eq!(*drops.lock().unwrap(), 1, "sent: {sent}");
        });
    }
}

/// A receive through the `Stream` of a handle (the waiter kept in the
/// handle, woken with every change) meets a send on another thread.
#[test]
fn a_stream_handle_receive_meets_a_send() {
    for capacity in CAPACITIES {
        model(move || {
            let ch = Channel::<u32>::buffered(capacity);
            let tx = ch.sender();
            let mut rx = ch.receiver();
            drop(ch);
            let sender = thread::spawn(move || block_on(tx.send(3)).is_ok());
            let got = block_on(std::future::poll_fn(|cx| rx.poll_recv(cx)));
            assert_eq!(got, Some(3));
            assert!(sender.join().unwrap());
            assert_eq!(block_on(std::future::poll_fn(|cx| rx.poll_recv(cx))), None);
        });
    }
}

/// A receive polled once and dropped (perhaps just after it was woken for
/// the value) next to another receive that waits, racing a send: the wake-up
/// is passed on, so the waiting receive gets the value unless the dropped
/// one took it first. Nobody closes the channel in that case: a lost wake-up
/// would leave the waiting receive blocked, which loom reports.
#[test]
fn a_dropped_receive_passes_its_wake_up_to_a_waiting_one() {
    for capacity in CAPACITIES {
        model_bounded(2, move || {
            let ch = Channel::<u32>::buffered(capacity);
            let tx = ch.sender();
            let rx = ch.receiver();
            let sender = thread::spawn(move || block_on(tx.send(1)).is_ok());
            let waiting = thread::spawn(move || block_on(rx.recv()));
            let first = {
                let recv = pin!(ch.recv());
                poll_once(recv)
            };
            let took = matches!(first, Poll::Ready(Some(1)));
            assert!(sender.join().unwrap());
            if took {
                ch.close();
            }
            let other = waiting.join().unwrap();
            assert_eq!(other, (!took).then_some(1), "took: {took}");
        });
    }
}
