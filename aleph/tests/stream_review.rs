//! Review of the channel core (`aleph/src/stream/core.rs`): the lock-free
//! ring's store-buffer handshake, wake-one-future with pass-on, close and
//! drain hooks, and the last receiver dropping what is buffered.
//!
//! Every wait is bounded, so a lost wake-up fails instead of hanging. Racy
//! tests loop many short rounds on real runtimes of both flavours and on plain
//! OS threads (a thread spinning on `try_send` / `try_recv` is the sharpest
//! way to hit the lock-free fast paths against a parked waiter).

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use aleph::stream::{Channel, TryRecvError, TrySendError};
use futures::{poll, FutureExt, SinkExt, StreamExt};

mod support;

use support::{counter, within, LIMIT};

/// The capacities worth testing: the locked rendezvous store, the
/// single-slot ring, small rings, the largest ring and the locked large store.
const CAPS: [usize; 6] = [0, 1, 2, 3, 65_536, 65_537];
const RING_CAPS: [usize; 4] = [1, 2, 3, 65_536];

fn bump(c: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let c = c.clone();
    move || {
        c.fetch_add(1, Ordering::SeqCst);
    }
}

fn get(c: &Arc<AtomicUsize>) -> usize {
    c.load(Ordering::SeqCst)
}

/// A value that counts its drops.
#[derive(Debug)]
struct Counted {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that only counts wake-ups.
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn count_waker() -> (Arc<CountWaker>, Waker) {
    let w = Arc::new(CountWaker(AtomicUsize::new(0)));
    (w.clone(), Waker::from(w))
}

/// A waker whose `wake` blocks the waking thread until released: it holds a
/// thread inside `Wakeups::run`, after the channel lock was released but
/// before the hooks of the same event run.
struct GateWaker {
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Wake for GateWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(tx) = self.entered.lock().unwrap().take() {
            let _ = tx.send(());
            if let Some(rx) = self.release.lock().unwrap().take() {
                let _ = rx.recv_timeout(LIMIT);
            }
        }
    }
}

/// A gate waker, the receiver that hears when it is entered, and the sender
/// that releases it.
fn gate_waker() -> (Waker, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let w = Arc::new(GateWaker {
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(Some(release_rx)),
    });
    (Waker::from(w), entered_rx, release_tx)
}

/// A waker whose first `clone` blocks until released. The channel clones a
/// waker only in `WaitQueue::park`, under its lock and before it publishes
/// the parked counts: this holds a parking waiter exactly between "parked"
/// and "published + fence + retry", the window of the store-buffer handshake.
struct CloneGate {
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Mutex<Option<mpsc::Receiver<()>>>,
    wakes: AtomicUsize,
}

impl CloneGate {
    fn block_once(&self) {
        if let Some(tx) = self.entered.lock().unwrap().take() {
            let _ = tx.send(());
            if let Some(rx) = self.release.lock().unwrap().take() {
                let _ = rx.recv_timeout(LIMIT);
            }
        }
    }
}

static CLONE_GATE_VTABLE: RawWakerVTable =
    RawWakerVTable::new(gate_clone, gate_wake, gate_wake_by_ref, gate_drop);

unsafe fn gate_clone(p: *const ()) -> RawWaker {
    // SAFETY: `p` came from `Arc::into_raw` and this reference is not dropped.
    let gate = ManuallyDrop::new(unsafe { Arc::from_raw(p as *const CloneGate) });
    gate.block_once();
    let again: Arc<CloneGate> = Arc::clone(&gate);
    RawWaker::new(Arc::into_raw(again) as *const (), &CLONE_GATE_VTABLE)
}

unsafe fn gate_wake(p: *const ()) {
    // SAFETY: consumes the reference this waker owned.
    let gate = unsafe { Arc::from_raw(p as *const CloneGate) };
    gate.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn gate_wake_by_ref(p: *const ()) {
    // SAFETY: borrows the reference this waker owns.
    let gate = ManuallyDrop::new(unsafe { Arc::from_raw(p as *const CloneGate) });
    gate.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn gate_drop(p: *const ()) {
    // SAFETY: releases the reference this waker owned.
    drop(unsafe { Arc::from_raw(p as *const CloneGate) });
}

/// A clone-gate waker, the receiver that hears when a clone is blocked, the
/// sender that releases it, and the gate (to count wake-ups).
fn clone_gate_waker() -> (Waker, mpsc::Receiver<()>, mpsc::Sender<()>, Arc<CloneGate>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let gate = Arc::new(CloneGate {
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(Some(release_rx)),
        wakes: AtomicUsize::new(0),
    });
    let raw = RawWaker::new(Arc::into_raw(gate.clone()) as *const (), &CLONE_GATE_VTABLE);
    // SAFETY: the vtable functions uphold the RawWaker contract for an Arc.
    let waker = unsafe { Waker::from_raw(raw) };
    (waker, entered_rx, release_tx, gate)
}

fn poll_once<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

fn rt(multi: bool) -> tokio::runtime::Runtime {
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

// ===========================================================================
// 1. The store-buffer handshake between the ring's fast paths and parking.
// ===========================================================================

/// A thread spins on `try_send` (the lock-free fast path followed by
/// `notify_receiver`) while a task parks in `recv()` whenever the ring is
/// empty. If the handshake were broken, the receiver would sleep with a value
/// in the ring and the bounded wait would fail.
fn spinning_try_send_wakes_a_parked_receiver(multi: bool) {
    const N: u64 = 20_000;
    for cap in RING_CAPS {
        let runtime = rt(multi);
        let ch = Channel::<u64>::buffered(cap);
        let tx = ch.sender();
        let rx = ch.receiver();
        drop(ch);
        let producer = thread::spawn(move || {
            let deadline = Instant::now() + LIMIT;
            for i in 0..N {
                let mut v = i;
                loop {
                    match tx.try_send(v) {
                        Ok(()) => break,
                        Err(TrySendError::Full(back)) => {
                            v = back;
                            assert!(Instant::now() < deadline, "cap {cap}: the receiver stopped");
                            thread::yield_now();
                        }
                        Err(TrySendError::Closed(_)) => panic!("closed"),
                    }
                }
                if i % 64 == 0 {
                    // Let the receiver empty the ring and park.
                    thread::sleep(Duration::from_micros(20));
                }
            }
        });
        runtime.block_on(async {
            for i in 0..N {
                let v = within(rx.recv()).await;
                assert_eq!(v, Some(i), "cap {cap}");
            }
            assert_eq!(within(rx.recv()).await, None);
        });
        producer.join().unwrap();
        assert!(rx.is_drained());
    }
}

#[test]
fn spinning_try_send_wakes_a_parked_receiver_current_thread() {
    spinning_try_send_wakes_a_parked_receiver(false);
}

#[test]
fn spinning_try_send_wakes_a_parked_receiver_multi_thread() {
    spinning_try_send_wakes_a_parked_receiver(true);
}

/// The mirror image: a thread spins on `try_recv` (fast pop, then
/// `after_ring_pop`) while a task parks in `send()` whenever the ring is full.
fn spinning_try_recv_wakes_a_parked_sender(multi: bool) {
    const N: u64 = 20_000;
    for cap in RING_CAPS {
        let runtime = rt(multi);
        let ch = Channel::<u64>::buffered(cap);
        let rx = ch.receiver();
        let consumer = thread::spawn(move || {
            let deadline = Instant::now() + LIMIT;
            let mut next = 0;
            while next < N {
                match rx.try_recv() {
                    Ok(v) => {
                        assert_eq!(v, next);
                        next += 1;
                        if next % 64 == 0 {
                            thread::sleep(Duration::from_micros(20));
                        }
                    }
                    Err(TryRecvError::Empty) => {
                        assert!(
                            Instant::now() < deadline,
                            "cap {cap}: the parked sender was never woken at {next}"
                        );
                        thread::yield_now();
                    }
                    Err(TryRecvError::Drained) => panic!("drained early"),
                }
            }
        });
        runtime.block_on(async {
            for i in 0..N {
                within(ch.send(i)).await.unwrap();
            }
        });
        consumer.join().unwrap();
    }
}

#[test]
fn spinning_try_recv_wakes_a_parked_sender_current_thread() {
    spinning_try_recv_wakes_a_parked_sender(false);
}

#[test]
fn spinning_try_recv_wakes_a_parked_sender_multi_thread() {
    spinning_try_recv_wakes_a_parked_sender(true);
}

/// The parker's half of the handshake, made deterministic: a receiver is
/// held inside `park` (lock held, its count not yet published) while another
/// thread sends with the lock-free `try_send`. That send sees no parked
/// receiver and skips the lock, so the receiver's retry after its fence must
/// find the value: the receive completes instead of sleeping.
#[test]
fn a_receiver_caught_between_park_and_publish_finds_the_value_sent_meanwhile() {
    for cap in RING_CAPS {
        let ch = Channel::<u64>::buffered(cap);
        let (waker, entered, release, gate) = clone_gate_waker();
        thread::scope(|s| {
            let parker = s.spawn(|| {
                let mut recv = ch.recv();
                poll_once(&mut recv, &waker)
            });
            entered.recv_timeout(LIMIT).expect("the receive parks");
            // Lock-free: must not need the lock the parker holds.
            let sender = s.spawn(|| ch.try_send(5));
            let sent = {
                let deadline = Instant::now() + Duration::from_secs(2);
                while !sender.is_finished() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(1));
                }
                sender.is_finished()
            };
            release.send(()).unwrap();
            assert!(
                sent,
                "cap {cap}: try_send waited for the lock with nobody published"
            );
            assert!(sender.join().unwrap().is_ok());
            assert_eq!(
                parker.join().unwrap(),
                Poll::Ready(Some(5)),
                "cap {cap}: the parked receiver's retry missed the value (lost wake-up)"
            );
        });
        assert_eq!(gate.wakes.load(Ordering::SeqCst), 0, "cap {cap}");
        assert_eq!(ch.description().pending_recvs, 0, "cap {cap}");
    }
}

/// The mirror image for a sender held inside `park` on a full ring while
/// another thread frees room with `try_recv`.
#[test]
fn a_sender_caught_between_park_and_publish_uses_the_room_freed_meanwhile() {
    for cap in RING_CAPS {
        let ch = Channel::<u64>::buffered(cap);
        for i in 0..cap as u64 {
            ch.try_send(i).unwrap();
        }
        let (waker, entered, release, _gate) = clone_gate_waker();
        thread::scope(|s| {
            let parker = s.spawn(|| {
                let mut send = ch.send(1_000_000);
                poll_once(&mut send, &waker).map(|r| r.is_ok())
            });
            entered.recv_timeout(LIMIT).expect("the send parks");
            let taker = s.spawn(|| ch.try_recv());
            let took = {
                let deadline = Instant::now() + Duration::from_secs(2);
                while !taker.is_finished() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(1));
                }
                taker.is_finished()
            };
            release.send(()).unwrap();
            assert!(
                took,
                "cap {cap}: try_recv waited for the lock with nobody published"
            );
            assert_eq!(taker.join().unwrap(), Ok(0));
            assert_eq!(
                parker.join().unwrap(),
                Poll::Ready(true),
                "cap {cap}: the parked sender's retry missed the room (lost wake-up)"
            );
        });
        assert_eq!(ch.description().pending_sends, 0, "cap {cap}");
        assert_eq!(ch.description().buffered, cap, "cap {cap}");
    }
}

/// Both sides park: one task per side on a two-worker runtime, so parking
/// and the other side's fast path really run at the same time. Mixes the
/// future APIs with the handle APIs (sink, stream) whose waiters are all woken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_parking_on_a_tiny_ring_lose_no_wakeup() {
    const N: u64 = 10_000;
    for cap in [1usize, 2] {
        for mode in 0..4 {
            let ch = Channel::<u64>::buffered(cap);
            let tx = ch.sender();
            let mut rx = ch.receiver();
            drop(ch);
            let producer = tokio::spawn(async move {
                if mode % 2 == 0 {
                    for i in 0..N {
                        tx.send(i).await.unwrap();
                    }
                } else {
                    let mut sink = tx.sink();
                    for i in 0..N {
                        sink.send(i).await.unwrap();
                    }
                    sink.close().await.unwrap();
                }
            });
            let consumer = tokio::spawn(async move {
                let mut expect = 0;
                loop {
                    let v = if mode < 2 {
                        rx.recv().await
                    } else {
                        rx.next().await
                    };
                    match v {
                        Some(v) => {
                            assert_eq!(v, expect);
                            expect += 1;
                        }
                        None => return expect,
                    }
                }
            });
            within(producer).await.unwrap();
            assert_eq!(within(consumer).await.unwrap(), N);
        }
    }
}

// ===========================================================================
// 2. Close racing the fast paths: hooks exactly once, drained consistent.
// ===========================================================================

/// One thread closes while two threads take the last values with
/// `try_recv`. The closed and drained hooks must each run exactly once, and
/// once every taker saw `Drained`, `is_drained()`, the `drained()` future and
/// a hook registered then must all agree.
#[test]
fn close_racing_the_last_receive_fires_each_hook_exactly_once() {
    for cap in CAPS {
        let rounds = if cap >= 65_536 { 20 } else { 120 };
        for round in 0..rounds {
            let ch = Channel::<u64>::buffered(cap);
            let closed = counter();
            let drained = counter();
            ch.on_closed(bump(&closed));
            ch.on_drained(bump(&drained));
            let values = if cap == 0 {
                0
            } else {
                (round % cap.min(3)) as u64 + 1
            };
            for i in 0..values {
                ch.try_send(i).unwrap();
            }
            let got = counter();
            let takers: Vec<_> = (0..2)
                .map(|_| {
                    let rx = ch.receiver();
                    let got = got.clone();
                    thread::spawn(move || {
                        let deadline = Instant::now() + LIMIT;
                        loop {
                            match rx.try_recv() {
                                Ok(_) => {
                                    got.fetch_add(1, Ordering::SeqCst);
                                }
                                Err(TryRecvError::Drained) => return rx,
                                Err(TryRecvError::Empty) => {
                                    assert!(Instant::now() < deadline, "never drained");
                                    thread::yield_now();
                                }
                            }
                        }
                    })
                })
                .collect();
            let closer = {
                let tx = ch.sender();
                thread::spawn(move || tx.close())
            };
            closer.join().unwrap();
            let rxs: Vec<_> = takers.into_iter().map(|t| t.join().unwrap()).collect();
            assert_eq!(get(&got), values as usize, "cap {cap}");
            assert!(ch.is_closed() && ch.is_drained(), "cap {cap}");
            assert_eq!(get(&closed), 1, "cap {cap}: closed hooks");
            assert_eq!(get(&drained), 1, "cap {cap}: drained hooks");
            // A hook registered now runs at once; the futures are ready.
            let late = counter();
            ch.on_drained(bump(&late));
            assert_eq!(get(&late), 1, "cap {cap}: late drained hook");
            let (_, waker) = count_waker();
            assert!(poll_once(&mut ch.drained(), &waker).is_ready());
            assert!(poll_once(&mut ch.closed(), &waker).is_ready());
            let d = ch.description();
            assert!(d.closed && d.drained && d.buffered == 0, "cap {cap}: {d}");
            drop(rxs);
            assert_eq!(get(&drained), 1, "cap {cap}: drained hooks ran again");
        }
    }
}

/// A receiver that sees the end (`None`) on one thread while another thread
/// took the last value: `is_drained()` is already true, and the `drained()`
/// future completes promptly (it may be woken by the other thread, but it
/// must be woken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_seeing_the_end_sees_drained_promptly() {
    for cap in CAPS {
        for _ in 0..200 {
            let ch = Channel::<u64>::buffered(cap);
            let rx = ch.receiver();
            let a = tokio::spawn(async move {
                let mut n = 0;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                assert!(rx.is_drained());
                within(rx.drained()).await;
                n
            });
            let rx2 = ch.receiver();
            let b = tokio::spawn(async move {
                let mut n = 0;
                while rx2.recv().await.is_some() {
                    n += 1;
                }
                assert!(rx2.is_drained());
                within(rx2.drained()).await;
                n
            });
            let tx = ch.sender();
            drop(ch);
            for i in 0..4 {
                within(tx.send(i)).await.unwrap();
            }
            drop(tx);
            let n = within(a).await.unwrap() + within(b).await.unwrap();
            assert_eq!(n, 4, "cap {cap}");
        }
    }
}

/// A future waiter that was woken for a value, then the channel closes, then
/// that waiter is dropped: the value still reaches the other receiver, which
/// then sees the end.
#[tokio::test]
async fn a_receiver_woken_then_closed_then_dropped_strands_nothing() {
    for cap in CAPS {
        let ch = Channel::<u64>::buffered(cap);
        let mut first = ch.recv();
        assert!(poll!(&mut first).is_pending());
        let mut second = ch.recv();
        assert!(poll!(&mut second).is_pending());
        ch.try_send(7).unwrap(); // wakes `first` only
        ch.close();
        drop(first);
        assert_eq!(within(&mut second).await, Some(7), "cap {cap}");
        assert_eq!(within(ch.recv()).await, None, "cap {cap}");
        assert!(ch.is_drained());
    }
}

/// A sender woken for room, then the channel closes, then it is dropped:
/// nothing it held is delivered, the other sender gets its value back, and
/// the channel drains with exactly what was buffered before.
#[tokio::test]
async fn a_sender_woken_then_closed_then_dropped_delivers_nothing() {
    for cap in [1usize, 2, 65_536, 65_537] {
        let ch = Channel::<u64>::buffered(cap);
        for i in 0..cap as u64 {
            ch.try_send(i).unwrap();
        }
        let mut first = ch.send(1_000);
        assert!(poll!(&mut first).is_pending());
        let mut second = ch.send(2_000);
        assert!(poll!(&mut second).is_pending());
        assert_eq!(ch.try_recv(), Ok(0)); // wakes `first`
        ch.close();
        drop(first);
        assert_eq!(within(&mut second).await.unwrap_err().0, 2_000);
        let mut n = 1;
        while let Ok(v) = ch.try_recv() {
            assert!(v < cap as u64, "cap {cap}: {v} was not sent");
            n += 1;
        }
        assert_eq!(n, cap, "cap {cap}");
        assert!(ch.is_drained());
    }
}

/// The closed hooks of a close and the drained hooks must not run in the
/// reverse order: a channel is drained only once it is closed, and code that
/// registers both (release a resource on close, report on drain) relies on
/// it. Here one thread closes a channel holding one value and is held in
/// the close's wake-ups (after the lock is released, before the closed hooks
/// run); another thread takes the last value, which drains the channel and
/// runs the drained hooks on that thread, before any closed hook has run.
#[test]
fn drained_hooks_never_run_before_the_closed_hooks() {
    let mut wrong = Vec::new();
    for cap in [1usize, 4, 65_536, 65_537] {
        let ch = Channel::<u64>::buffered(cap);
        ch.try_send(1).unwrap();
        let closed_ran = Arc::new(AtomicBool::new(false));
        {
            let closed_ran = closed_ran.clone();
            ch.on_closed(move || closed_ran.store(true, Ordering::SeqCst));
        }
        let drained_saw_closed = Arc::new(Mutex::new(None));
        {
            let closed_ran = closed_ran.clone();
            let seen = drained_saw_closed.clone();
            ch.on_drained(move || {
                *seen.lock().unwrap() = Some(closed_ran.load(Ordering::SeqCst));
            });
        }
        // A task awaiting `closed()` whose waker is slow to return.
        let (waker, entered, release) = gate_waker();
        let mut closed_fut = ch.closed();
        assert!(poll_once(&mut closed_fut, &waker).is_pending());
        let closer = {
            let tx = ch.sender();
            thread::spawn(move || tx.close())
        };
        entered
            .recv_timeout(LIMIT)
            .expect("close() wakes the closed() waiter");
        // The closing thread is inside its wake-ups; the channel is closed.
        assert!(ch.is_closed());
        assert_eq!(ch.try_recv(), Ok(1)); // the last value: drains
        release.send(()).unwrap();
        closer.join().unwrap();
        drop(closed_fut);
        assert!(closed_ran.load(Ordering::SeqCst));
        let seen = *drained_saw_closed.lock().unwrap();
        assert!(seen.is_some(), "cap {cap}: the drained hook never ran");
        if seen != Some(true) {
            wrong.push(cap);
        }
    }
    assert!(
        wrong.is_empty(),
        "capacities {wrong:?}: the drained hook ran before the closed hook of the same channel"
    );
}

// ===========================================================================
// 3. The last receiver dropped while senders run.
// ===========================================================================

/// Senders on OS threads keep sending (send, try_send) while the last
/// receiver is dropped at a random moment. Every value is accounted for:
/// each one created is dropped exactly once (taken and dropped by the test,
/// handed back to its sender, or dropped by the channel) while the channel
/// itself is still alive, nothing stays buffered once the last receiver is
/// gone, and no send hangs.
#[test]
fn dropping_the_last_receiver_under_concurrent_sends_accounts_for_every_value() {
    for cap in CAPS {
        for round in 0..60u64 {
            let runtime = rt(round % 2 == 0);
            let drops = counter();
            let created = counter();
            let ch = Channel::<Counted>::buffered(cap);
            let tx = ch.sender();
            let rx = ch.receiver();
            drop(ch);
            let senders: Vec<_> = (0..2u64)
                .map(|s| {
                    let tx = tx.clone();
                    let drops = drops.clone();
                    let created = created.clone();
                    let handle = runtime.handle().clone();
                    thread::spawn(move || {
                        let deadline = Instant::now() + LIMIT;
                        for n in 0.. {
                            assert!(Instant::now() < deadline, "a sender never saw the close");
                            created.fetch_add(1, Ordering::SeqCst);
                            let v = Counted {
                                id: s * 1_000_000 + n,
                                drops: drops.clone(),
                            };
                            let refused = if n % 2 == 0 {
                                match tx.try_send(v) {
                                    Ok(()) => false,
                                    Err(TrySendError::Full(_)) => {
                                        thread::yield_now();
                                        false
                                    }
                                    Err(TrySendError::Closed(_)) => true,
                                }
                            } else {
                                handle.block_on(async {
                                    match tokio::time::timeout(LIMIT, tx.send(v)).await {
                                        Ok(r) => r.is_err(),
                                        Err(_) => panic!("a send hung after the receivers left"),
                                    }
                                })
                            };
                            if refused {
                                return;
                            }
                        }
                    })
                })
                .collect();
            let taken = counter();
            runtime.block_on(async {
                let want = 1 + round % 50;
                for _ in 0..want {
                    match within(rx.recv()).await {
                        Some(v) => {
                            assert!(v.id % 1_000_000 < 10_000_000);
                            taken.fetch_add(1, Ordering::SeqCst);
                        }
                        None => break,
                    }
                }
            });
            drop(rx);
            for s in senders {
                s.join().unwrap();
            }
            let d = tx.description();
            assert!(d.closed && d.drained, "cap {cap}: {d}");
            assert_eq!(d.buffered, 0, "cap {cap}: {d}");
            assert_eq!(
                get(&drops),
                get(&created),
                "cap {cap}: values leaked or dropped twice ({} taken)",
                get(&taken)
            );
        }
    }
}

// ===========================================================================
// 4. Cancellation and pass-on under stress, with a close in the middle.
// ===========================================================================

/// Receivers of both kinds (futures and stream handles) that give up after
/// a random number of polls, next to steady receivers, while producers send
/// and one of them closes the channel part-way. Every value a send reported
/// as sent is received exactly once; nothing refused is received.
async fn flaky_waiters_and_close(cap: usize, seed: u64) {
    const PER: u64 = 300;
    let ch = Channel::<u64>::buffered(cap);
    let got = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for r in 0..4u64 {
        let mut rx = ch.receiver();
        let got = got.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = seed.wrapping_mul(31).wrapping_add(r) | 1;
            let mut step = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            loop {
                let flaky = r >= 2;
                let polls = (step() % 3) as u32;
                let v = if flaky {
                    let give_up = GiveUp(polls);
                    if step() % 2 == 0 {
                        tokio::select! { biased; v = rx.recv() => Some(v), _ = give_up => None }
                    } else {
                        tokio::select! { biased; v = rx.next() => Some(v), _ = give_up => None }
                    }
                } else if r == 0 {
                    Some(rx.recv().await)
                } else {
                    Some(rx.next().await)
                };
                match v {
                    Some(Some(v)) => got.lock().unwrap().push(v),
                    Some(None) => return,
                    None => tokio::task::yield_now().await,
                }
            }
        }));
    }
    let mut producers = Vec::new();
    for p in 0..3u64 {
        let tx = ch.sender();
        let sent = sent.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..PER {
                let v = p * 1_000_000 + i;
                let ok = match i % 3 {
                    0 => tx.send(v).await.is_ok(),
                    1 => {
                        // A flaky send that may give up, then a real one.
                        tokio::select! {
                            biased;
                            r = tx.send(v) => r.is_ok(),
                            _ = GiveUp((i % 2) as u32) => tx.send(v).await.is_ok(),
                        }
                    }
                    _ => {
                        let mut sink = tx.sink();
                        let r = sink.send(v).await.is_ok();
                        r
                    }
                };
                if ok {
                    sent.lock().unwrap().push(v);
                }
                if p == 0 && i == PER / 2 {
                    tx.close();
                }
            }
        }));
    }
    drop(ch);
    for p in producers {
        within(p).await.unwrap();
    }
    for t in tasks {
        within(t).await.unwrap();
    }
    let mut got = got.lock().unwrap().clone();
    let mut sent = sent.lock().unwrap().clone();
    got.sort_unstable();
    sent.sort_unstable();
    assert_eq!(got, sent, "cap {cap} seed {seed}");
}

/// Ready on its n-th poll, waking itself meanwhile: cancels the other branch
/// of a biased select after it was polled n times.
struct GiveUp(u32);

impl Future for GiveUp {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[tokio::test(flavor = "current_thread")]
async fn flaky_waiters_with_a_close_account_for_every_value_current_thread() {
    for cap in CAPS {
        for seed in 0..8 {
            flaky_waiters_and_close(cap, seed).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_waiters_with_a_close_account_for_every_value_multi_thread() {
    for cap in CAPS {
        for seed in 0..8 {
            flaky_waiters_and_close(cap, seed).await;
        }
    }
}

/// Many future receivers parked on a ring; values arrive from a thread
/// spinning on `try_send`, and receivers that were woken are dropped at
/// random (their wake-up must be passed on). With the sender kept open, only
/// correct pass-on lets the last steady receiver collect everything.
#[test]
fn woken_receivers_dropped_at_random_pass_their_wakeup_on() {
    const N: u64 = 3_000;
    for cap in [1usize, 2, 65_536] {
        let runtime = rt(true);
        let ch = Channel::<u64>::buffered(cap);
        let total = counter();
        let mut flaky = Vec::new();
        for k in 0..3u64 {
            let rx = ch.receiver();
            let total = total.clone();
            flaky.push(runtime.spawn(async move {
                let mut n = k;
                loop {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let mut recv = rx.recv();
                    match poll!(&mut recv) {
                        Poll::Ready(Some(_)) => {
                            total.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            continue;
                        }
                        Poll::Ready(None) => return,
                        Poll::Pending => {}
                    }
                    // Parked: wait a little, then drop it whether woken or not.
                    let wait = Duration::from_micros(n >> 58);
                    match tokio::time::timeout(wait, &mut recv).await {
                        Ok(Some(_)) => {
                            total.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(None) => return,
                        Err(_) => {}
                    }
                }
            }));
        }
        let steady = {
            let rx = ch.receiver();
            let total = total.clone();
            runtime.spawn(async move {
                while rx.recv().await.is_some() {
                    total.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let tx = ch.sender();
        let producer = thread::spawn(move || {
            let deadline = Instant::now() + LIMIT;
            for i in 0..N {
                let mut v = i;
                loop {
                    match tx.try_send(v) {
                        Ok(()) => break,
                        Err(TrySendError::Full(b)) => {
                            v = b;
                            assert!(
                                Instant::now() < deadline,
                                "cap {cap}: full ring, receivers asleep at {i}: {}",
                                tx.description()
                            );
                            thread::yield_now();
                        }
                        Err(TrySendError::Closed(_)) => panic!(),
                    }
                }
            }
            tx
        });
        let tx = producer.join().unwrap();
        // Stop the flaky receivers (they hold no value), keep the channel open.
        for f in &flaky {
            f.abort();
        }
        let deadline = Instant::now() + LIMIT;
        while get(&total) < N as usize {
            assert!(
                Instant::now() < deadline,
                "cap {cap}: {} of {N} received while values wait: {}",
                get(&total),
                tx.description()
            );
            thread::sleep(Duration::from_millis(1));
        }
        drop(tx);
        drop(ch);
        runtime.block_on(async { within(steady).await.unwrap() });
    }
}

// ===========================================================================
// 5. Rendezvous (capacity 0) details.
// ===========================================================================

/// On an unbuffered channel, a stream handle whose `next()` was abandoned
/// keeps its place among waiting receivers, so `send()` completes with nobody
/// receiving, and the value is then dropped with the receiver without any
/// receiver ever having taken it — a completed send that was never received.
/// (The same root cause as `stream_cancel`'s
/// `an_abandoned_stream_next_does_not_let_an_unbuffered_send_complete`.)
#[tokio::test]
async fn an_abandoned_next_on_an_unbuffered_channel_still_counts_as_waiting_and_keeps_the_value() {
    // Documented on `Channel::new`: a stream handle that polled `next()` counts
    // as a waiting receiver until it is polled again or dropped, so a send may
    // complete; the value is then held for the next receive, never lost.
    let drops = counter();
    let ch = Channel::<Counted>::new();
    let mut rx = ch.receiver();
    {
        let mut next = rx.next();
        assert!(poll!(&mut next).is_pending());
    }
    let tx = ch.sender();
    drop(ch);
    let v = Counted {
        id: 1,
        drops: drops.clone(),
    };
    let mut send = tx.send(v);
    assert!(
        poll!(&mut send).is_ready(),
        "the abandoned next() counts as a waiting receiver"
    );
    drop(send);
    let got = rx
        .try_recv()
        .expect("the value is held for the next receive");
    assert_eq!(got.id, 1);
    assert_eq!(get(&drops), 0, "nothing was dropped on the way");
}

/// A rendezvous receiver parks, which wakes one waiting sender; if that
/// sender is dropped the receiver is passed to the next sender. Repeated
/// under stress with receivers and senders that give up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendezvous_senders_and_receivers_giving_up_lose_no_handoff() {
    for seed in 0..5u64 {
        flaky_waiters_and_close(0, 100 + seed).await;
    }
}

/// `try_recv` on a rendezvous channel never takes a value from a parked
/// sender, and `try_send` succeeds only while a receiver waits.
#[tokio::test]
async fn rendezvous_try_ops_only_meet_parked_partners() {
    let ch = Channel::<u64>::new();
    let mut send = ch.send(1);
    assert!(poll!(&mut send).is_pending());
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    assert!(ch.try_send(2).unwrap_err().is_full());
    let mut recv = ch.recv();
    assert!(poll!(&mut recv).is_pending()); // wakes `send`
    assert!(poll!(&mut send).is_ready());
    assert!(
        ch.try_send(3).unwrap_err().is_full(),
        "the receiver is taken"
    );
    assert_eq!(poll!(&mut recv), Poll::Ready(Some(1)));
}

// ===========================================================================
// 6. Wake-one with pass-on: deterministic checks of the exact wake-ups.
// ===========================================================================

/// One value wakes exactly one waiting future (not all of them), and a
/// woken future dropped without acting passes the wake-up to the next.
#[test]
fn one_value_wakes_one_future_and_a_dropped_one_passes_it_on() {
    for cap in CAPS {
        let ch = Channel::<u64>::buffered(cap);
        let wakers: Vec<_> = (0..3).map(|_| count_waker()).collect();
        let mut recvs: Vec<_> = (0..3).map(|_| ch.recv().boxed()).collect();
        for (r, (_, w)) in recvs.iter_mut().zip(&wakers) {
            assert!(poll_once(r, w).is_pending());
        }
        ch.try_send(1).unwrap();
        let woken: Vec<usize> = wakers
            .iter()
            .map(|(c, _)| c.0.load(Ordering::SeqCst))
            .collect();
        assert_eq!(woken, [1, 0, 0], "cap {cap}");
        let first = recvs.remove(0);
        drop(first);
        let woken: Vec<usize> = wakers
            .iter()
            .map(|(c, _)| c.0.load(Ordering::SeqCst))
            .collect();
        assert_eq!(woken, [1, 1, 0], "cap {cap}: passed on");
        assert_eq!(poll_once(&mut recvs[0], &wakers[1].1), Poll::Ready(Some(1)));
        drop(recvs);
        assert_eq!(
            wakers[2].0 .0.load(Ordering::SeqCst),
            0,
            "cap {cap}: nothing left to pass on"
        );
        // The last future was never woken and holds no place any more.
        assert_eq!(ch.description().pending_recvs, 0, "cap {cap}");
    }
}

/// Freed room wakes exactly one waiting send future; dropping it passes it
/// on; dropping one that was never woken passes nothing.
#[test]
fn freed_room_wakes_one_send_and_a_dropped_one_passes_it_on() {
    for cap in [1usize, 2, 65_536, 65_537] {
        let ch = Channel::<u64>::buffered(cap);
        for i in 0..cap as u64 {
            ch.try_send(i).unwrap();
        }
        let wakers: Vec<_> = (0..3).map(|_| count_waker()).collect();
        let mut sends: Vec<_> = (0..3u64).map(|i| ch.send(1_000_000 + i).boxed()).collect();
        for (s, (_, w)) in sends.iter_mut().zip(&wakers) {
            assert!(poll_once(s, w).is_pending());
        }
        assert_eq!(ch.try_recv(), Ok(0));
        let woken: Vec<usize> = wakers
            .iter()
            .map(|(c, _)| c.0.load(Ordering::SeqCst))
            .collect();
        assert_eq!(woken[0], 1, "cap {cap}");
        assert_eq!(woken[2], 0, "cap {cap}");
        let first = sends.remove(0);
        drop(first);
        assert!(
            wakers[1].0 .0.load(Ordering::SeqCst) >= 1,
            "cap {cap}: passed on"
        );
        assert!(poll_once(&mut sends[0], &wakers[1].1).is_ready());
        drop(sends);
        let mut all = Vec::new();
        while let Ok(v) = ch.try_recv() {
            all.push(v);
        }
        assert_eq!(all.last(), Some(&1_000_001), "cap {cap}");
        assert!(
            !all.contains(&1_000_000) && !all.contains(&1_000_002),
            "cap {cap}"
        );
    }
}

/// The futures of a closed channel: a receiver parked before the close and
/// one created after it both end with `None` once drained; a sender parked
/// before gets its value back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_wakes_every_waiter_of_both_kinds() {
    for cap in CAPS {
        let ch = Channel::<u64>::buffered(cap);
        let mut rx = ch.receiver();
        let a = {
            let rx = ch.receiver();
            tokio::spawn(async move { rx.recv().await })
        };
        let b = tokio::spawn(async move { rx.next().await });
        let c = {
            let tx = ch.sender();
            let filler = cap as u64;
            tokio::spawn(async move {
                // Fill (when there is a buffer), then park.
                for i in 0..filler {
                    if tx.try_send(1000 + i).is_err() {
                        break;
                    }
                }
                tx.send(9).await
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        ch.close();
        let (ra, rb) = (within(a).await.unwrap(), within(b).await.unwrap());
        let rc = within(c).await.unwrap();
        // With a buffer the receivers took nothing or buffered values; the
        // parked sender either got in before the close or got its value back.
        let mut seen = Vec::new();
        seen.extend(ra);
        seen.extend(rb);
        while let Some(v) = within(ch.recv()).await {
            seen.push(v);
        }
        if rc.is_ok() {
            assert!(
                seen.contains(&9),
                "cap {cap}: a completed send was lost: {seen:?}"
            );
        } else {
            assert!(!seen.contains(&9), "cap {cap}: a refused value arrived");
        }
        assert!(ch.is_drained());
    }
}

// ===========================================================================
// 7. Robustness of the hook list.
// ===========================================================================

/// One callback that panics must not cancel the others of the same event:
/// `Wakeups::run` runs the hooks one after the other, so a panic drops the
/// rest unrun, and since they were already moved out of the channel (and
/// `closed` / `drained` are already set) they can never run later.
#[test]
fn a_panicking_hook_does_not_cancel_the_other_hooks() {
    for cap in [1usize, 65_537] {
        let ch = Channel::<u64>::buffered(cap);
        let closed = counter();
        let drained = counter();
        ch.on_closed(|| panic!("a user callback fails"));
        ch.on_closed(bump(&closed));
        ch.on_drained(bump(&drained));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ch.close()));
        assert!(result.is_err(), "the callback's panic reaches close()");
        assert!(ch.is_closed() && ch.is_drained());
        assert_eq!(
            (get(&closed), get(&drained)),
            (1, 1),
            "cap {cap}: the other closed / drained hooks never ran"
        );
    }
}
