//! Helpers shared by the integration tests: bounded waits, drop counting, a
//! small deterministic random source and futures that give up after a number
//! of polls (to cancel an operation right after it parked).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aleph::stream::Description;

pub mod http;
pub mod peers;

/// Bounds every wait in the tests, so a deadlock or a lost wake-up fails
/// instead of hanging. Generous: CI runs debug builds on 2 cores.
pub const LIMIT: Duration = Duration::from_secs(10);

/// How long a test waits for something that must *not* happen (a value that
/// must not arrive). Only used on paused clocks or where the wait is cheap.
pub const SHORT: Duration = Duration::from_millis(50);

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
#[track_caller]
pub fn within<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(LIMIT, future).await {
            Ok(out) => out,
            Err(_) => {
                panic!("the wait at {caller} took longer than {LIMIT:?}: deadlock or lost wake-up")
            }
        }
    }
}

/// Awaits `future` for at most `limit`; `None` if it did not complete.
pub async fn at_most<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    tokio::time::timeout(limit, future).await.ok()
}

/// Lets every task that is ready run (on both runtime flavours).
pub async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Yields until `describe()` satisfies `done`, bounded by [`LIMIT`] of real
/// time (a busy-yielding loop never lets a paused clock advance, so a tokio
/// timeout alone could not end it). Used to wait until spawned tasks have
/// parked in a channel: the channel's own description is the only observable
/// for that.
#[track_caller]
pub fn until(
    describe: impl Fn() -> Description,
    done: impl Fn(&Description) -> bool,
) -> impl Future<Output = ()> {
    let caller = std::panic::Location::caller();
    async move {
        let start = std::time::Instant::now();
        loop {
            let d = describe();
            if done(&d) {
                return;
            }
            if start.elapsed() > LIMIT {
                panic!("the wait at {caller} took longer than {LIMIT:?}; the channel: {d}");
            }
            tokio::task::yield_now().await;
        }
    }
}

/// A value that counts its drops, to see what a channel drops.
#[derive(Debug)]
pub struct Counted {
    pub id: u64,
    drops: Arc<AtomicUsize>,
}

impl Counted {
    pub fn new(id: u64, drops: &Arc<AtomicUsize>) -> Counted {
        Counted {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counter shared by callbacks.
pub fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

pub fn count(counter: &Arc<AtomicUsize>) -> usize {
    counter.load(Ordering::SeqCst)
}

/// A small deterministic xorshift random source (no dependency needed).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Spread small seeds; xorshift must not start at 0.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A future that is ready on its `n`-th poll (`n == 0`: at once). Raced
/// against a channel operation in a biased `select!`, it cancels the
/// operation after it was polled `n` times, whether it parked or was woken.
pub fn ready_after(polls: u32) -> ReadyAfter {
    ReadyAfter { left: polls }
}

pub struct ReadyAfter {
    left: u32,
}

impl Future for ReadyAfter {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Yields every 64th call: a loop over channel operations that are always
/// ready would otherwise never let the scheduler (and the test's timeouts) run.
pub async fn pace(n: u64) {
    if n % 64 == 63 {
        tokio::task::yield_now().await;
    }
}

/// Waits until `done()` holds, for states no event announces (such as a
/// server's count of open connections): checks every 5 ms, failing the test
/// after [`LIMIT`].
pub async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + LIMIT;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An error and its sources, joined by ": " (as the aleph command prints
/// them): messages leave the reason to `source()`, so tests that look for the
/// reason look here.
pub fn error_chain(err: &aleph::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
