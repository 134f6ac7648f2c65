//! A hook (`on_closed`, `on_drained`) that panics: the panic is caught at the
//! hook boundary. It reaches the caller only of an explicit `close()`; fired
//! by a receive or a dropped handle it is logged, the value taken is still
//! returned, the other hooks still run, and nothing aborts.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aleph::stream::{Channel, TryRecvError};
use tracing::field::{Field, Visit};
use tracing::span;

/// A tracing subscriber that keeps every event's fields as one line.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = Line(format!("{} ", event.metadata().level()));
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn logged(&self, needle: &str) -> bool {
        self.lines().iter().any(|line| line.contains(needle))
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn bump(c: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let c = c.clone();
    move || {
        c.fetch_add(1, Ordering::SeqCst);
    }
}

fn get(c: &Arc<AtomicUsize>) -> usize {
    c.load(Ordering::SeqCst)
}

/// The receive that takes the last value of a closed channel fires the
/// drained hooks on its own thread. One of them panicking must not turn the
/// receive into a panic: the value would be lost with it.
#[test]
fn a_drained_hook_that_panics_in_the_last_receive_is_logged_and_the_value_still_returned() {
    for capacity in [1, 4, 65_537] {
        for by_future in [false, true] {
            let ch = Channel::buffered(capacity);
            ch.try_send(7u32).unwrap();
            let before = counter();
            let after = counter();
            let closed = counter();
            ch.on_drained(bump(&before));
            ch.on_drained(|| panic!("drained hook fails"));
            ch.on_drained(bump(&after));
            ch.on_closed(bump(&closed));
            ch.close();
            assert_eq!(get(&closed), 1);
            assert_eq!(get(&after), 0, "not drained yet: a value is buffered");

            let log = Capture::default();
            let got = tracing::subscriber::with_default(log.clone(), || {
                if by_future {
                    futures::executor::block_on(ch.recv()).ok_or(TryRecvError::Drained)
                } else {
                    ch.try_recv()
                }
            });
            let case = format!("capacity {capacity}, by future: {by_future}");
            assert_eq!(got, Ok(7), "{case}: the value taken is returned");
            assert_eq!(
                (get(&before), get(&after)),
                (1, 1),
                "{case}: the other drained hooks ran"
            );
            assert!(ch.is_drained(), "{case}");
            assert!(
                log.logged("drained hook fails"),
                "{case}: the panic is logged: {:?}",
                log.lines()
            );
            assert_eq!(ch.try_recv(), Err(TryRecvError::Drained), "{case}");
        }
    }
}

/// A thread that panics while it holds the last sender drops it during
/// unwinding, which closes the channel and runs its closed hooks there. A
/// hook that panics too must not abort the process (a second panic while
/// unwinding does): it is caught and logged, the other hooks run, and the
/// thread's own panic is what its `join` reports.
#[test]
fn a_closed_hook_that_panics_while_the_last_sender_drops_during_unwinding_is_logged_not_an_abort() {
    for capacity in [0, 1, 65_537] {
        let ch = Channel::<u8>::buffered(capacity);
        let tx = ch.sender();
        let rx = ch.receiver();
        drop(ch);
        let after = counter();
        let drained = counter();
        rx.on_closed(|| panic!("closed hook fails"));
        rx.on_closed(bump(&after));
        rx.on_drained(|| panic!("drained hook fails"));
        rx.on_drained(bump(&drained));

        let log = Capture::default();
        let thread_log = log.clone();
        let joined = std::thread::spawn(move || {
            tracing::subscriber::with_default(thread_log, || {
                let _last_sender = tx;
                panic!("the thread fails while it holds the last sender");
            })
        })
        .join();
        let panic = joined.expect_err("the thread panicked");
        assert_eq!(
            panic.downcast_ref::<&str>(),
            Some(&"the thread fails while it holds the last sender"),
            "capacity {capacity}: the thread's own panic unwinds"
        );
        assert!(rx.is_closed() && rx.is_drained(), "capacity {capacity}");
        assert_eq!(
            (get(&after), get(&drained)),
            (1, 1),
            "capacity {capacity}: the other hooks ran"
        );
        assert!(
            log.logged("closed hook fails") && log.logged("drained hook fails"),
            "capacity {capacity}: both panics are logged: {:?}",
            log.lines()
        );
    }
}

/// Dropping the last sender on a thread that is not unwinding: a hook's
/// panic is logged too (a `Drop` that panics is a trap for the caller), and
/// the drop returns normally.
#[test]
fn a_closed_hook_that_panics_when_the_last_sender_drops_is_logged_and_the_drop_returns() {
    let ch = Channel::<u8>::buffered(1);
    let tx = ch.sender();
    let rx = ch.receiver();
    drop(ch);
    let after = counter();
    rx.on_closed(|| panic!("closed hook fails"));
    rx.on_closed(bump(&after));
    let log = Capture::default();
    tracing::subscriber::with_default(log.clone(), || drop(tx));
    assert!(rx.is_closed());
    assert_eq!(get(&after), 1);
    assert!(log.logged("closed hook fails"), "{:?}", log.lines());
}

/// The last receiving handle dropped with values buffered: the channel
/// closes and drains in that drop. Hooks that panic there are logged, the
/// others run, the buffered values are dropped, and the drop returns.
#[test]
fn hooks_that_panic_when_the_last_receiver_drops_are_logged_and_the_drop_returns() {
    for capacity in [1, 4, 65_537] {
        let ch = Channel::<Arc<()>>::buffered(capacity);
        let value = Arc::new(());
        ch.try_send(value.clone()).unwrap();
        let tx = ch.sender();
        let closed = counter();
        let drained = counter();
        ch.on_closed(|| panic!("closed hook fails"));
        ch.on_closed(bump(&closed));
        ch.on_drained(|| std::panic::panic_any(42u8));
        ch.on_drained(bump(&drained));
        let log = Capture::default();
        tracing::subscriber::with_default(log.clone(), || drop(ch));
        assert!(tx.is_closed(), "capacity {capacity}");
        assert_eq!((get(&closed), get(&drained)), (1, 1), "capacity {capacity}");
        assert_eq!(Arc::strong_count(&value), 1, "capacity {capacity}: dropped");
        assert!(
            log.logged("closed hook fails") && log.logged("a panic without a message"),
            "capacity {capacity}: {:?}",
            log.lines()
        );
    }
}

/// `close()` called from a `Drop` that runs while its thread unwinds: a
/// closed hook that panics there is logged instead of resumed (which would
/// abort), and the thread's own panic is what `join` reports.
#[test]
fn a_closed_hook_that_panics_in_a_close_during_unwinding_is_logged_not_an_abort() {
    struct CloseOnDrop(Channel<u8>);
    impl Drop for CloseOnDrop {
        fn drop(&mut self) {
            self.0.close();
        }
    }
    let ch = Channel::<u8>::buffered(1);
    let after = counter();
    ch.on_closed(|| panic!("closed hook fails"));
    ch.on_closed(bump(&after));
    let guard = CloseOnDrop(ch.clone());
    let log = Capture::default();
    let thread_log = log.clone();
    let joined = std::thread::spawn(move || {
        tracing::subscriber::with_default(thread_log, || {
            let _guard = guard;
            panic!("the thread fails");
        })
    })
    .join();
    let panic = joined.expect_err("the thread panicked");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the thread fails"));
    assert!(ch.is_closed());
    assert_eq!(get(&after), 1);
    assert!(log.logged("closed hook fails"), "{:?}", log.lines());
}

/// An explicit `close()` whose closed hook and drained hook both panic:
/// `close()` resumes the closed hook's panic (the first), logs the drained
/// one, and every hook ran once.
#[test]
fn an_explicit_close_resumes_the_first_hook_panic_and_logs_the_rest() {
    let ch = Channel::<u8>::buffered(1);
    let after = counter();
    ch.on_closed(|| panic!("closed hook fails"));
    ch.on_drained(|| panic!("drained hook fails"));
    ch.on_drained(bump(&after));
    let log = Capture::default();
    let closing = tracing::subscriber::with_default(log.clone(), || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ch.close()))
    });
    let panic = closing.expect_err("the first hook panic reaches close()");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"closed hook fails"));
    assert_eq!(get(&after), 1);
    assert!(ch.is_drained());
    assert!(log.logged("drained hook fails"), "{:?}", log.lines());
    assert!(!log.logged("closed hook fails"), "resumed, not logged");
}

/// A waker that panics when woken.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("a waker fails");
    }
}

/// A waker that panics while `close()` wakes the waiters unwinds out of the
/// close: the closing window must still end, so drained hooks that come due
/// later run (they wait for the closed hooks while the window is open).
#[test]
fn a_waker_panicking_in_close_does_not_leave_the_drained_hooks_waiting_forever() {
    for capacity in [1, 65_537] {
        let ch = Channel::<u8>::buffered(capacity);
        for i in 0..capacity {
            ch.try_send(i as u8).unwrap();
        }
        let waker = std::task::Waker::from(Arc::new(PanickingWaker));
        let mut send = Box::pin(ch.send(99));
        let polled = send
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker));
        assert!(
            polled.is_pending(),
            "capacity {capacity}: parked on a full channel"
        );
        let drained = counter();
        ch.on_drained(bump(&drained));
        let closing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ch.close()));
        assert!(
            closing.is_err(),
            "capacity {capacity}: the waker's panic unwinds"
        );
        drop(send);
        while ch.try_recv().is_ok() {}
        assert!(ch.is_drained(), "capacity {capacity}");
        assert_eq!(
            get(&drained),
            1,
            "capacity {capacity}: the drained hook ran once the last value was taken"
        );
    }
}

/// A drained hook registered by a closed hook, while the other closed hooks
/// have not run yet (the channel is drained already: it was empty) runs
/// after them, not in the middle: closed hooks always come first.
#[test]
fn a_drained_hook_registered_by_a_closed_hook_runs_after_every_closed_hook() {
    let ch = Channel::<u8>::buffered(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (inner, log) = (ch.clone(), order.clone());
    ch.on_closed(move || {
        log.lock().unwrap().push("closed 1");
        let log = log.clone();
        inner.on_drained(move || log.lock().unwrap().push("drained"));
    });
    let log = order.clone();
    ch.on_closed(move || log.lock().unwrap().push("closed 2"));
    ch.close();
    assert_eq!(*order.lock().unwrap(), ["closed 1", "closed 2", "drained"]);
    // Once the close is over, a drained hook runs at once again.
    let log = order.clone();
    ch.on_drained(move || log.lock().unwrap().push("late"));
    assert_eq!(order.lock().unwrap().last(), Some(&"late"));
}

/// The largest capacities: a buffer that is never allocated up front, and
/// sliding / dropping channels of it, work like any other.
#[test]
fn a_channel_of_the_largest_capacity_works() {
    for ch in [
        Channel::<u32>::buffered(usize::MAX),
        Channel::sliding(usize::MAX),
        Channel::dropping(usize::MAX),
    ] {
        for i in 0..1000 {
            ch.try_send(i).unwrap();
        }
        let d = ch.description();
        assert_eq!((d.capacity, d.buffered, d.dropped), (usize::MAX, 1000, 0));
        ch.close();
        let got: Vec<u32> = std::iter::from_fn(|| ch.try_recv().ok()).collect();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        assert!(ch.is_drained());
    }
}
