//! Behaviour of `aleph::deferred`: realizing once, awaiting from many tasks,
//! callbacks, timeouts and spawned futures.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aleph::deferred::{self, Deferred};
use aleph::{Error, ErrorKind};

mod support;

use support::{settle, within};

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test]
async fn success_realizes_once_and_later_calls_return_false() {
    let d = Deferred::new();
    assert!(!d.is_realized());
    assert!(d.success(1));
    assert!(d.is_realized());
    assert!(!d.success(2));
    assert!(!d.error(Error::other("late")));
    assert_eq!(within(d.clone()).await.unwrap(), 1);
}

#[tokio::test]
async fn error_realizes_once_and_every_awaiter_gets_it() {
    let d: Deferred<u32> = Deferred::new();
    let waiter = tokio::spawn(d.clone());
    assert!(d.error(Error::other("upstream said no")));
    assert!(!d.error(Error::other("second error")));
    assert!(!d.success(5));
    for err in [
        within(waiter).await.unwrap().unwrap_err(),
        within(d.clone()).await.unwrap_err(),
    ] {
        assert!(err.is_other());
        assert_eq!(err.to_string(), "upstream said no");
    }
}

#[test]
fn rejected_value_is_dropped() {
    let value = Arc::new(());
    let d = Deferred::new();
    d.success(Arc::clone(&value));
    assert!(!d.success(Arc::clone(&value)));
    assert_eq!(Arc::strong_count(&value), 2, "only the first value is kept");
}

async fn hundred_awaiters_get_the_same_value() {
    let d: Deferred<Arc<String>> = Deferred::new();
    let waiters: Vec<_> = (0..100).map(|_| tokio::spawn(d.clone())).collect();
    // Give the awaiters a chance to register before the value arrives.
    settle().await;
    let value = Arc::new("the value".to_string());
    let realizer = {
        let d = d.clone();
        let value = Arc::clone(&value);
        tokio::spawn(async move { d.success(value) })
    };
    assert!(within(realizer).await.unwrap());
    for waiter in waiters {
        let got = within(waiter).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&got, &value));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_awaiters_get_the_same_value_on_multi_thread_runtime() {
    hundred_awaiters_get_the_same_value().await;
}

#[tokio::test(flavor = "current_thread")]
async fn hundred_awaiters_get_the_same_value_on_current_thread_runtime() {
    hundred_awaiters_get_the_same_value().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_realizers_only_one_wins() {
    let d: Deferred<usize> = Deferred::new();
    let realizers: Vec<_> = (0..32)
        .map(|i| {
            let d = d.clone();
            tokio::spawn(async move { d.success(i) })
        })
        .collect();
    let mut wins = 0;
    for realizer in realizers {
        if within(realizer).await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert!(within(d).await.unwrap() < 32);
}

#[test]
fn on_realized_before_realization_runs_when_realized() {
    let d = Deferred::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for tag in ["first", "second"] {
        let seen = Arc::clone(&seen);
        d.on_realized(move |outcome: &aleph::Result<u32>| {
            seen.lock().unwrap().push((tag, *outcome.as_ref().unwrap()));
        });
    }
    assert!(seen.lock().unwrap().is_empty());
    d.success(9);
    assert_eq!(*seen.lock().unwrap(), [("first", 9), ("second", 9)]);
}

#[test]
fn on_realized_after_realization_runs_at_once_on_the_caller_thread() {
    let d: Deferred<u32> = Deferred::new();
    d.error(Error::other("failed"));
    let caller = std::thread::current().id();
    let ran_on = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&ran_on);
    d.on_realized(move |outcome| {
        assert!(outcome.as_ref().unwrap_err().is_other());
        *sink.lock().unwrap() = Some(std::thread::current().id());
    });
    assert_eq!(*ran_on.lock().unwrap(), Some(caller));
}

#[test]
fn on_realized_callback_can_call_back_into_the_deferred() {
    let d: Deferred<u32> = Deferred::new();
    let nested_ran = Arc::new(AtomicUsize::new(0));
    let inner = d.clone();
    let counter = Arc::clone(&nested_ran);
    d.on_realized(move |_| {
        assert!(inner.is_realized());
        assert!(!inner.success(2));
        assert!(!inner.error(Error::other("late")));
        assert!(format!("{inner:?}").contains("realized: true"));
        let counter = Arc::clone(&counter);
        inner.on_realized(move |outcome| {
            assert_eq!(*outcome.as_ref().unwrap(), 1);
            counter.fetch_add(1, Ordering::SeqCst);
        });
    });
    assert!(d.success(1));
    assert_eq!(nested_ran.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn on_realized_callback_can_realize_another_deferred() {
    let d: Deferred<u32> = Deferred::new();
    let other: Deferred<u32> = Deferred::new();
    let chained = other.clone();
    // Chaining one deferred into another from a callback is the common use.
    d.on_realized(move |outcome| {
        chained.success(outcome.as_ref().map_or(0, |v| v * 2));
    });
    d.success(21);
    assert_eq!(within(other).await.unwrap(), 42);
}

#[tokio::test]
async fn panicking_callback_does_not_stop_other_callbacks_or_awaiters() {
    let d: Deferred<u32> = Deferred::new();
    let waiter = tokio::spawn(d.clone());
    settle().await;
    let later_ran = Arc::new(AtomicUsize::new(0));
    d.on_realized(|_| panic!("callback bug"));
    let counter = Arc::clone(&later_ran);
    d.on_realized(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });

    let result = panic::catch_unwind(AssertUnwindSafe(|| d.success(4)));
    let payload = result.expect_err("the callback's panic is resumed in success()");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"callback bug"));

    assert_eq!(later_ran.load(Ordering::SeqCst), 1);
    assert!(d.is_realized());
    assert_eq!(within(waiter).await.unwrap().unwrap(), 4);
    assert_eq!(within(d.clone()).await.unwrap(), 4);
    // The deferred is not poisoned: later registrations still work.
    let counter = Arc::clone(&later_ran);
    d.on_realized(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(later_ran.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn timeout_fires_with_kind_timeout_and_later_success_returns_false() {
    let d: Deferred<u32> = Deferred::new();
    let timed = d.timeout(Duration::from_millis(250));
    let started = tokio::time::Instant::now();
    let err = within(timed).await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.to_string(), "deferred timed out after 250ms");
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    // The timeout realized the deferred itself, for every handle.
    assert!(d.is_realized());
    assert!(!d.success(1));
    assert!(within(d.clone()).await.unwrap_err().is_timeout());
}

#[tokio::test(start_paused = true)]
async fn timeout_does_not_fire_when_realized_first() {
    let d: Deferred<u32> = Deferred::new();
    let timed = d.timeout(Duration::from_secs(1));
    assert_eq!(alive_tasks(), 1, "the timer task is running");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(d.success(7));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(within(timed).await.unwrap(), 7);
    settle().await;
    assert_eq!(alive_tasks(), 0, "the timer task was aborted");
}

#[tokio::test(start_paused = true)]
async fn timeout_on_a_realized_deferred_starts_no_timer() {
    let d = Deferred::from_result(Ok("ready"));
    let timed = d.timeout(Duration::from_millis(1));
    assert_eq!(alive_tasks(), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(within(timed).await.unwrap(), "ready");
}

#[tokio::test(start_paused = true)]
async fn timeout_timer_ends_when_every_handle_is_dropped() {
    let d: Deferred<u32> = Deferred::new();
    drop(d.timeout(Duration::from_secs(3600)));
    assert_eq!(alive_tasks(), 1);
    drop(d);
    settle().await;
    assert_eq!(alive_tasks(), 0, "an abandoned deferred leaves no timer");
}

#[tokio::test(start_paused = true)]
async fn shortest_of_several_timeouts_wins() {
    let d: Deferred<u32> = Deferred::new();
    d.timeout(Duration::from_secs(10));
    let err = within(d.timeout(Duration::from_secs(2))).await.unwrap_err();
    assert_eq!(err.to_string(), "deferred timed out after 2s");
    settle().await;
    assert_eq!(alive_tasks(), 0);
}

#[test]
#[should_panic(expected = "Tokio 1.x runtime")]
fn timeout_outside_a_runtime_panics() {
    let d: Deferred<u32> = Deferred::new();
    d.timeout(Duration::from_secs(1));
}

#[tokio::test]
async fn spawn_success_realizes_with_the_value() {
    let d = deferred::spawn(async {
        tokio::task::yield_now().await;
        Ok(String::from("pong"))
    });
    assert_eq!(within(d).await.unwrap(), "pong");
}

#[tokio::test]
async fn spawn_err_realizes_with_that_error() {
    let d: Deferred<()> = deferred::spawn(async { Err(Error::other("no route")) });
    let err = within(d).await.unwrap_err();
    assert!(err.is_other());
    assert_eq!(err.to_string(), "no route");
}

#[tokio::test]
async fn spawn_panic_realizes_with_kind_panic_and_the_message() {
    let with_str: Deferred<()> = deferred::spawn(async { panic!("static kaboom") });
    let err = within(with_str).await.unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("static kaboom"), "{err}");

    let code = 42;
    let with_string: Deferred<()> = deferred::spawn(async move { panic!("kaboom {code}") });
    let err = within(with_string).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panic);
    assert!(err.to_string().contains("kaboom 42"), "{err}");
}

#[tokio::test]
async fn spawn_runs_eagerly_without_an_awaiter() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let d = deferred::spawn(async { Ok(3) });
    d.on_realized(move |outcome| {
        let _ = tx.send(*outcome.as_ref().unwrap());
    });
    drop(d);
    assert_eq!(within(rx).await.unwrap(), 3);
}

#[test]
fn spawn_realizes_closed_when_the_runtime_drops_the_task() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let d: Deferred<u32> = {
        let _context = runtime.enter();
        deferred::spawn(std::future::pending())
    };
    // Let the task start before the runtime goes away.
    runtime.block_on(tokio::task::yield_now());
    assert!(!d.is_realized());
    drop(runtime);
    let outcome = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&outcome);
    d.on_realized(move |result| {
        *sink.lock().unwrap() = Some(result.as_ref().map_err(Error::clone).copied());
    });
    let err = outcome.lock().unwrap().take().unwrap().unwrap_err();
    assert!(err.is_closed(), "{err:?}");
}

#[tokio::test]
async fn dropped_awaiting_future_does_not_prevent_other_awaiters() {
    let mut d: Deferred<u32> = Deferred::new();
    let patient = tokio::spawn(d.clone());

    // An awaiter cancelled by select! ...
    tokio::select! {
        _ = &mut d => panic!("not realized yet"),
        _ = tokio::task::yield_now() => {}
    }
    // ... and one cancelled by a timeout, with the handle dropped with it.
    let cancelled = tokio::time::timeout(Duration::from_millis(1), d.clone()).await;
    assert!(cancelled.is_err());

    assert!(d.success(11));
    assert_eq!(within(patient).await.unwrap().unwrap(), 11);
    // The handle raced in select! is still usable afterwards.
    assert_eq!(within(&mut d).await.unwrap(), 11);
}

#[tokio::test]
async fn awaiting_a_realized_handle_again_gives_the_value_again() {
    let mut d = Deferred::from_result(Ok(5u8));
    assert_eq!(within(&mut d).await.unwrap(), 5);
    assert_eq!(within(&mut d).await.unwrap(), 5);
}

#[test]
fn from_result_is_realized_at_once() {
    let d: Deferred<u32> = Deferred::from_result(Err(Error::other("precomputed failure")));
    assert!(d.is_realized());
    assert!(!d.success(1));
}

#[test]
fn debug_shows_whether_realized() {
    let d: Deferred<u32> = Deferred::default();
    assert_eq!(format!("{d:?}"), "Deferred { realized: false }");
    d.success(1);
    assert_eq!(
        format!("{d:?}"),
        "Deferred { realized: true, outcome: \"success\" }"
    );
    let failed: Deferred<u32> = Deferred::from_result(Err(Error::other("bad")));
    assert!(format!("{failed:?}").contains("realized: true, error:"));
}

#[test]
fn deferred_is_send_sync_and_unpin() {
    fn assert<T: Send + Sync + Unpin + Clone + 'static>() {}
    assert::<Deferred<u32>>();
    assert::<Deferred<Arc<Mutex<Vec<u8>>>>>();
}

#[test]
fn a_hundred_thousand_chained_deferreds_realize_without_overflowing_the_stack() {
    const CHAIN: usize = 100_000;
    let chain: Vec<Deferred<usize>> = (0..CHAIN).map(|_| Deferred::new()).collect();
    for pair in chain.windows(2) {
        let next = pair[1].clone();
        pair[0].on_realized(move |outcome: &aleph::Result<usize>| {
            next.success(outcome.as_ref().copied().unwrap_or(0) + 1);
        });
    }
    assert!(chain[0].success(0));
    assert!(chain.iter().all(Deferred::is_realized));
    let seen = Arc::new(Mutex::new(None));
    let sink = seen.clone();
    chain[CHAIN - 1]
        .on_realized(move |outcome| *sink.lock().unwrap() = outcome.as_ref().ok().copied());
    assert_eq!(*seen.lock().unwrap(), Some(CHAIN - 1));
}

#[test]
fn a_deferred_realized_inside_a_callback_runs_its_callbacks_once_that_callback_returns() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let (outer, inner) = (Deferred::<u8>::new(), Deferred::<u8>::new());
    let log = order.clone();
    inner.on_realized(move |_| log.lock().unwrap().push("inner callback"));
    let log = order.clone();
    let nested = inner.clone();
    outer.on_realized(move |_| {
        nested.success(1);
        log.lock().unwrap().push("outer callback returns");
    });
    outer.success(0);
    assert_eq!(
        *order.lock().unwrap(),
        ["outer callback returns", "inner callback"]
    );
}

#[test]
fn a_panic_in_a_chained_callback_does_not_stop_the_chain_and_surfaces_from_the_head() {
    let chain: Vec<Deferred<u32>> = (0..4).map(|_| Deferred::new()).collect();
    for (i, pair) in chain.windows(2).enumerate() {
        let next = pair[1].clone();
        pair[0].on_realized(move |_| {
            next.success(1);
            if i == 1 {
                panic!("link {i} panics");
            }
        });
    }
    let head = chain[0].clone();
    let outcome = panic::catch_unwind(AssertUnwindSafe(move || head.success(0)));
    assert!(
        outcome.is_err(),
        "the panic comes out of the outermost success"
    );
    assert!(chain.iter().all(Deferred::is_realized), "the chain went on");
    // The trampoline is usable afterwards on this thread.
    let (a, b) = (Deferred::<u32>::new(), Deferred::<u32>::new());
    let next = b.clone();
    a.on_realized(move |_| {
        next.success(2);
    });
    a.success(1);
    assert!(b.is_realized());
}

/// Panics when dropped: user code that fails in `Drop`.
#[derive(Clone)]
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a value that panics when dropped");
        }
    }
}

#[test]
fn a_value_panicking_in_drop_after_the_last_handle_went_does_not_strand_queued_callbacks() {
    let (outer, doomed, later) = (
        Deferred::<u8>::new(),
        Deferred::<PanicsOnDrop>::new(),
        Deferred::<u8>::new(),
    );
    let ran = Arc::new(Mutex::new(false));
    let flag = ran.clone();
    later.on_realized(move |_| *flag.lock().unwrap() = true);
    doomed.on_realized(|_| {});
    let later_in_callback = later.clone();
    outer.on_realized(move |_| {
        // Realized inside a callback: its callbacks are queued; the queued job
        // then holds the last reference to its value.
        doomed.success(PanicsOnDrop);
        drop(doomed);
        later_in_callback.success(1);
    });
    let realized = panic::catch_unwind(AssertUnwindSafe(|| outer.success(0)));
    assert!(realized.is_err(), "the panic of the drop surfaces");
    assert!(
        *ran.lock().unwrap(),
        "a deferred realized inside a callback ran its callbacks before the outermost success returned"
    );
}

#[test]
fn a_deferred_realized_by_a_drop_while_unwinding_contains_its_callbacks_panic() {
    /// Fails its deferred when dropped, as `deferred::spawn`'s guard does.
    struct FailsOnDrop(Deferred<u8>);
    impl Drop for FailsOnDrop {
        fn drop(&mut self) {
            self.0.error(Error::other("dropped unfinished"));
        }
    }
    let d = Deferred::<u8>::new();
    d.on_realized(|_| panic!("a callback that panics"));
    let guard = FailsOnDrop(d.clone());
    // Without containment this is a panic inside a drop during unwinding: an abort.
    let unwound = panic::catch_unwind(AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("the thread unwinds");
    }));
    assert!(unwound.is_err());
    assert!(d.is_realized());
}

#[test]
fn chains_realized_from_many_threads_at_once_run_every_callback_exactly_once() {
    const N: usize = 2_000;
    let ds: Arc<Vec<Deferred<usize>>> = Arc::new((0..N).map(|_| Deferred::new()).collect());
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    for i in 0..N {
        let (all, runs) = (ds.clone(), runs.clone());
        ds[i].on_realized(move |_| {
            runs[i].fetch_add(1, Ordering::SeqCst);
            // Each callback realizes two others: chains that cross and race.
            for next in [(i * 7 + 1) % N, (i * 13 + 5) % N] {
                all[next].success(i);
            }
        });
    }
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let ds = ds.clone();
            std::thread::spawn(move || {
                for i in (t..N).step_by(97) {
                    ds[i].success(usize::MAX);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    for (i, d) in ds.iter().enumerate() {
        if d.is_realized() {
            assert_eq!(runs[i].load(Ordering::SeqCst), 1, "deferred {i}");
        } else {
            assert_eq!(runs[i].load(Ordering::SeqCst), 0, "deferred {i}");
        }
    }
}
