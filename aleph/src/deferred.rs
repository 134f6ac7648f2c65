//! Deferred values: a result completed once and awaited by many.
//!
//! A [`Deferred<T>`] is Manifold's deferred in Rust: a slot that is *realized*
//! exactly once, with a value ([`success`](Deferred::success)) or an
//! [`Error`] ([`error`](Deferred::error)), and that any number of parties can
//! wait on. It is a cheap handle: clones share the same slot.
//!
//! There are two ways to wait:
//!
//! - **Await it.** `Deferred<T>` is a [`Future`] with
//!   `Output = aleph::Result<T>` when `T: Clone`; every awaiter gets its own
//!   clone of the outcome. For a value that is not `Clone`, use
//!   `Deferred<Arc<T>>`.
//! - **Register a callback** with [`on_realized`](Deferred::on_realized). It
//!   runs at once if the deferred is already realized, otherwise on the thread
//!   that realizes it.
//!
//! [`spawn`] runs a future on the tokio runtime and hands back a deferred of
//! its result (a panic becomes an error of kind
//! [`Panic`](crate::ErrorKind::Panic)), and [`timeout`](Deferred::timeout)
//! fails a deferred with [`Timeout`](crate::ErrorKind::Timeout) if nobody
//! realizes it in time.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use aleph::deferred::{self, Deferred};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> aleph::Result<()> {
//!     // Complete by hand, wait from elsewhere.
//!     let d: Deferred<u32> = Deferred::new();
//!     let waiter = tokio::spawn(d.clone());
//!     d.success(42);
//!     assert_eq!(waiter.await.unwrap()?, 42);
//!
//!     // Run a future eagerly, with a time limit.
//!     let answer = deferred::spawn(async { Ok("pong") }).timeout(Duration::from_secs(5));
//!     assert_eq!(answer.await?, "pong");
//!     Ok(())
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::FutureExt as _;
use parking_lot::Mutex;
use slab::Slab;
use tokio::task::AbortHandle;

use crate::{Error, ErrorKind, Result};

type Callback<T> = Box<dyn FnOnce(&Result<T>) + Send + 'static>;

/// A value that is realized once, with a success or an error, and awaited by
/// many.
///
/// `Deferred` is a handle: [`Clone`] is cheap (an `Arc` inside) and every
/// clone sees the same outcome. The first [`success`](Deferred::success) or
/// [`error`](Deferred::error) realizes it; later calls return `false` and drop
/// their value. It is `Send + Sync` when `T: Send + Sync`: `T` must be `Sync`
/// too, because callbacks on different threads may read the same outcome at
/// once.
///
/// Waiting works two ways: `.await` a handle (when `T: Clone`, each awaiter
/// gets a clone of the outcome; for other `T` use `Deferred<Arc<T>>`), or
/// register a callback with [`on_realized`](Deferred::on_realized).
///
/// # Cancel safety
///
/// Awaiting a `Deferred` is cancel safe: it only reads the outcome, so
/// dropping the future (for example when another branch of
/// `tokio::select!` wins) loses nothing, and other handles still receive the
/// value. A handle keeps its own waker registration, which is released when
/// the handle is dropped.
///
/// # Examples
///
/// ```
/// use aleph::deferred::Deferred;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let d = Deferred::new();
///     let waiters: Vec<_> = (0..3).map(|_| tokio::spawn(d.clone())).collect();
///     assert!(d.success("done"));
///     assert!(!d.success("too late"));
///     for waiter in waiters {
///         assert_eq!(waiter.await.unwrap().unwrap(), "done");
///     }
/// }
/// ```
///
/// Racing a deferred in `select!` by `&mut`, so it can be awaited again:
///
/// ```
/// use std::time::Duration;
/// use aleph::deferred::Deferred;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let mut d: Deferred<u8> = Deferred::new();
///     tokio::select! {
///         _ = &mut d => unreachable!("nobody realized it yet"),
///         _ = tokio::time::sleep(Duration::from_millis(1)) => {}
///     }
///     d.success(7);
///     assert_eq!((&mut d).await.unwrap(), 7);
/// }
/// ```
pub struct Deferred<T> {
    shared: Arc<Shared<T>>,
    /// This handle's slot in `State::wakers`, once it has been polled while
    /// pending.
    waker_key: Option<usize>,
}

struct Shared<T> {
    /// Set once, while `state` is locked, and never changed afterwards; so it
    /// can be read without the lock and lent to callbacks outside it.
    outcome: OnceLock<Result<T>>,
    state: Mutex<State<T>>,
}

struct State<T> {
    callbacks: Vec<Callback<T>>,
    wakers: Slab<Waker>,
}

// Public handles are Send + Sync (STYLE.md); checked here at compile time.
const _: () = {
    fn assert_send_sync<X: Send + Sync>() {}
    fn deferred_is_send_sync<T: Send + Sync>() {
        assert_send_sync::<Deferred<T>>();
    }
    let _ = deferred_is_send_sync::<()>;
};

impl<T> Deferred<T> {
    /// Creates a deferred that is not realized yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::deferred::Deferred;
    ///
    /// let d: Deferred<String> = Deferred::new();
    /// assert!(!d.is_realized());
    /// ```
    pub fn new() -> Deferred<T> {
        Deferred {
            shared: Arc::new(Shared {
                outcome: OnceLock::new(),
                state: Mutex::new(State {
                    callbacks: Vec::new(),
                    wakers: Slab::new(),
                }),
            }),
            waker_key: None,
        }
    }

    /// True once the deferred has been realized, with a success or an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::deferred::Deferred;
    ///
    /// let d = Deferred::new();
    /// assert!(!d.is_realized());
    /// d.success(());
    /// assert!(d.is_realized());
    /// ```
    pub fn is_realized(&self) -> bool {
        self.shared.outcome.get().is_some()
    }

    /// Calls `callback` with the outcome once the deferred is realized.
    ///
    /// If it is already realized, `callback` runs at once, on this thread;
    /// otherwise it runs on the thread that realizes it, inside
    /// [`success`](Deferred::success) or [`error`](Deferred::error).
    /// Callbacks run in the order they were registered and outside every
    /// internal lock, so a callback may call back into this deferred.
    ///
    /// A deferred realized from inside a callback runs its own callbacks
    /// right after the current callback returns, on the same thread and
    /// before the outermost `success` or `error` returns, rather than in a
    /// nested call (Manifold's trampoline): a chain of any length of
    /// deferreds, each realizing the next, uses no more stack than one. So a
    /// callback must never block waiting for what the callbacks of a
    /// deferred it realized do: they run only once it returned.
    ///
    /// Keep callbacks short: they run on whichever thread realizes the
    /// deferred, which may be a runtime worker. A panicking callback does not
    /// stop the others; see [`success`](Deferred::success).
    ///
    /// # Panics
    ///
    /// When the deferred is already realized, a panic in `callback`
    /// propagates from this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use aleph::deferred::Deferred;
    ///
    /// let seen = Arc::new(Mutex::new(None));
    /// let d = Deferred::new();
    /// let sink = seen.clone();
    /// d.on_realized(move |outcome: &aleph::Result<u32>| {
    ///     *sink.lock().unwrap() = outcome.as_ref().ok().copied();
    /// });
    /// d.success(3);
    /// assert_eq!(*seen.lock().unwrap(), Some(3));
    /// ```
    pub fn on_realized<F>(&self, callback: F)
    where
        F: FnOnce(&Result<T>) + Send + 'static,
    {
        if let Some(outcome) = self.shared.outcome.get() {
            callback(outcome);
            return;
        }
        let mut state = self.shared.state.lock();
        // Checked again under the lock: `realize` sets the outcome and takes
        // the callbacks under it, so the callback is either queued in time or
        // run here.
        match self.shared.outcome.get() {
            None => state.callbacks.push(Box::new(callback)),
            Some(outcome) => {
                drop(state);
                callback(outcome);
            }
        }
    }

    /// Fails the deferred with a timeout error unless it is realized within
    /// `duration`, and returns a handle to the same deferred.
    ///
    /// This is Manifold's `timeout!`: it changes the deferred itself, so every
    /// handle sees the timeout. The error is of kind
    /// [`Timeout`](crate::ErrorKind::Timeout), with the message "deferred timed
    /// out after {duration:?}". A success or error that comes later returns
    /// `false`. The timer is a task on the current tokio runtime; it is
    /// aborted as soon as the deferred is realized (or every handle to it is
    /// dropped), so no timer lingers.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime. The runtime needs its timer
    /// enabled (as `#[tokio::main]` and `enable_all()` do).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use aleph::deferred::Deferred;
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let d: Deferred<u32> = Deferred::new();
    ///     let err = d.timeout(Duration::from_millis(10)).await.unwrap_err();
    ///     assert!(err.is_timeout());
    ///     assert!(!d.success(1));
    /// }
    /// ```
    pub fn timeout(&self, duration: Duration) -> Deferred<T>
    where
        T: Send + Sync + 'static,
    {
        // Resolved first, so that a call outside a runtime panics whether or
        // not the deferred is realized yet.
        let runtime = tokio::runtime::Handle::current();
        if self.is_realized() {
            return self.clone();
        }
        // A weak reference: a pending timer must not keep an abandoned
        // deferred alive.
        let target = Arc::downgrade(&self.shared);
        let timer = runtime.spawn(async move {
            tokio::time::sleep(duration).await;
            if let Some(shared) = target.upgrade() {
                let error = Error::new(
                    ErrorKind::Timeout,
                    format!("deferred timed out after {duration:?}"),
                );
                Deferred::from_shared(shared).error(error);
            }
        });
        // The guard aborts the timer both when the callback runs (realized)
        // and when it is dropped unrun (the last handle went away).
        let guard = AbortOnDrop(timer.abort_handle());
        self.on_realized(move |_| drop(guard));
        self.clone()
    }

    fn from_shared(shared: Arc<Shared<T>>) -> Deferred<T> {
        Deferred {
            shared,
            waker_key: None,
        }
    }
}

// Realizing needs `T: 'static`: callbacks realized from inside another
// callback are queued on this thread (see `trampoline`).
impl<T: 'static> Deferred<T> {
    /// Creates a deferred that is already realized with `result`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::deferred::Deferred;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let d = Deferred::from_result(Ok(5));
    /// assert!(d.is_realized());
    /// assert_eq!(d.await.unwrap(), 5);
    /// # });
    /// ```
    pub fn from_result(result: Result<T>) -> Deferred<T> {
        let d = Deferred::new();
        d.realize(result);
        d
    }

    /// Realizes the deferred with `value`.
    ///
    /// Returns `true` if this call realized it, `false` if it was already
    /// realized; then `value` is dropped. Realizing wakes every awaiter and
    /// runs every registered [`on_realized`](Deferred::on_realized) callback
    /// on this thread, after all internal locks are released (called from
    /// inside a callback, once that callback returns: see `on_realized`).
    ///
    /// # Panics
    ///
    /// If a callback panics, the remaining callbacks still run and every
    /// awaiter is still woken; then the first panic is resumed here (for
    /// callbacks run after a callback returned, in the outermost call). When
    /// the thread is already unwinding (a deferred realized from a `Drop`), the
    /// panic is logged instead, as a second panic would abort the process.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::deferred::Deferred;
    ///
    /// let d = Deferred::new();
    /// assert!(d.success(1));
    /// assert!(!d.success(2));
    /// ```
    pub fn success(&self, value: T) -> bool {
        self.realize(Ok(value))
    }

    /// Realizes the deferred with `error`.
    ///
    /// Returns `true` if this call realized it, `false` if it was already
    /// realized; then `error` is dropped. Awaiters and callbacks are served as
    /// for [`success`](Deferred::success). User code makes its own errors with
    /// [`Error::other`].
    ///
    /// # Panics
    ///
    /// If a callback panics, the remaining callbacks still run and every
    /// awaiter is still woken; then the first panic is resumed here (logged
    /// instead while the thread is already unwinding, as for `success`).
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::deferred::Deferred;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let d: Deferred<u32> = Deferred::new();
    /// assert!(d.error(aleph::Error::other("upstream said no")));
    /// assert!(!d.success(1));
    /// let err = d.await.unwrap_err();
    /// assert_eq!(err.to_string(), "upstream said no");
    /// # });
    /// ```
    pub fn error(&self, error: Error) -> bool {
        self.realize(Err(error))
    }

    fn realize(&self, outcome: Result<T>) -> bool {
        let mut state = self.shared.state.lock();
        if let Err(rejected) = self.shared.outcome.set(outcome) {
            // Dropped after the unlock: the value's own Drop may call back
            // into this deferred.
            drop(state);
            drop(rejected);
            return false;
        }
        let callbacks = std::mem::take(&mut state.callbacks);
        let wakers = std::mem::take(&mut state.wakers);
        drop(state);

        for (_, waker) in wakers {
            waker.wake();
        }
        if callbacks.is_empty() {
            return true;
        }
        let shared = self.shared.clone();
        let job: Job = Box::new(move || {
            let Some(outcome) = shared.outcome.get() else {
                unreachable!("the outcome was set before the job was made and is never unset");
            };
            // One panicking callback must not rob the others of the outcome.
            crate::panic::run_all(callbacks.into_iter().map(|callback| || callback(outcome)))
        });
        if let Some(payload) = trampoline(job) {
            if std::thread::panicking() {
                // Realized by a drop while this thread unwinds (a guard, a
                // runtime dropped mid-panic): a second panic would abort.
                tracing::error!(
                    panic = crate::panic::message(&*payload),
                    "a deferred callback panicked while the thread was already unwinding"
                );
            } else {
                std::panic::resume_unwind(payload);
            }
        }
        true
    }
}

/// The callbacks of one realized deferred, run together; returns the first panic.
type Job = Box<dyn FnOnce() -> Option<crate::panic::Payload>>;

/// Callbacks waiting to run on this thread, while an outer `realize` runs others.
struct Trampoline {
    running: bool,
    queue: std::collections::VecDeque<Job>,
}

thread_local! {
    static TRAMPOLINE: std::cell::RefCell<Trampoline> = const {
        std::cell::RefCell::new(Trampoline {
            running: false,
            queue: std::collections::VecDeque::new(),
        })
    };
}

/// Runs `job` now, or, when this thread is already running callbacks (a
/// callback realized another deferred), queues it for the outer call to run
/// next: a chain of deferreds of any length realizes in a loop, not in
/// nested calls (Manifold does the same). Returns the first panic of the jobs
/// run here.
fn trampoline(job: Job) -> Option<crate::panic::Payload> {
    let mut pending = Some(job);
    let runs_here = TRAMPOLINE.try_with(|t| {
        let mut t = t.borrow_mut();
        if t.running {
            t.queue.extend(pending.take());
            false
        } else {
            t.running = true;
            true
        }
    });
    let mut job = match (runs_here, pending.take()) {
        (Ok(true), Some(job)) => job,
        // This thread's locals are being torn down: run it here and now.
        (Err(_), Some(job)) => return run_job(job),
        _ => return None,
    };
    // Leaves the trampoline usable even if this loop itself unwinds (every
    // job is run under `catch_unwind`, so only a bug here could).
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = TRAMPOLINE.try_with(|t| t.borrow_mut().running = false);
        }
    }
    let _stop = Stop;
    let mut first_panic = None;
    loop {
        if let Some(payload) = run_job(job) {
            first_panic.get_or_insert(payload);
        }
        let next = TRAMPOLINE.try_with(|t| t.borrow_mut().queue.pop_front());
        match next {
            Ok(Some(next)) => job = next,
            _ => return first_panic,
        }
    }
}

/// Runs `job`, returning the first panic of its callbacks, or its own: a job
/// catches its callbacks' panics, but not one of a value's `Drop` when the job
/// lets go of the last reference to its deferred. Caught here too, so that the
/// jobs queued behind it still run.
fn run_job(job: Job) -> Option<crate::panic::Payload> {
    match std::panic::catch_unwind(AssertUnwindSafe(job)) {
        Ok(panicked) => panicked,
        Err(payload) => Some(payload),
    }
}

impl<T> Default for Deferred<T> {
    /// Same as [`Deferred::new`]: not realized yet.
    fn default() -> Deferred<T> {
        Deferred::new()
    }
}

impl<T> Clone for Deferred<T> {
    /// Another handle to the same deferred. The clone starts without a waker
    /// registration of its own, so it can be awaited independently.
    fn clone(&self) -> Deferred<T> {
        Deferred::from_shared(self.shared.clone())
    }
}

impl<T> Drop for Deferred<T> {
    fn drop(&mut self) {
        if let Some(key) = self.waker_key.take() {
            // Once realized the slab has been emptied and is never refilled,
            // so a stale key cannot name another handle's waker.
            if !self.is_realized() {
                self.shared.state.lock().wakers.try_remove(key);
            }
        }
    }
}

impl<T: Clone> Future for Deferred<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        if let Some(outcome) = this.shared.outcome.get() {
            this.waker_key = None;
            return Poll::Ready(outcome.clone());
        }
        let mut state = this.shared.state.lock();
        if let Some(outcome) = this.shared.outcome.get() {
            drop(state);
            this.waker_key = None;
            return Poll::Ready(outcome.clone());
        }
        match this.waker_key.and_then(|key| state.wakers.get_mut(key)) {
            Some(waker) => waker.clone_from(cx.waker()),
            None => this.waker_key = Some(state.wakers.insert(cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Deferred");
        match self.shared.outcome.get() {
            None => d.field("realized", &false),
            Some(Ok(_)) => d.field("realized", &true).field("outcome", &"success"),
            Some(Err(error)) => d.field("realized", &true).field("error", error),
        };
        d.finish()
    }
}

/// Runs `future` on the tokio runtime at once and returns a deferred of its
/// result.
///
/// This is Manifold's `future`: the work starts eagerly, whether or not
/// anybody awaits the deferred. An `Ok` realizes it with the value, an `Err`
/// with that error.
///
/// # Errors
///
/// The deferred is realized with an error when `future` returns one; with an
/// error of kind [`Panic`](crate::ErrorKind::Panic) whose message holds the
/// panic message when `future` panics; and with an error of kind
/// [`Closed`](crate::ErrorKind::Closed) when the task is dropped before it
/// finishes (the runtime shut down).
///
/// # Panics
///
/// Panics if called outside a tokio runtime.
///
/// # Examples
///
/// ```
/// use aleph::deferred;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let sum = deferred::spawn(async { Ok(1 + 1) });
///     assert_eq!(sum.await.unwrap(), 2);
///
///     let boom = deferred::spawn(async {
///         if true {
///             panic!("kaboom");
///         }
///         Ok(())
///     });
///     let err = boom.await.unwrap_err();
///     assert!(err.is_panic());
///     assert!(err.to_string().contains("kaboom"));
/// }
/// ```
pub fn spawn<F, T>(future: F) -> Deferred<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + Sync + 'static,
{
    let d = Deferred::new();
    let guard = CloseOnDrop(d.clone());
    tokio::spawn(async move {
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(value)) => guard.0.success(value),
            Ok(Err(error)) => guard.0.error(error),
            Err(payload) => guard.0.error(Error::new(
                ErrorKind::Panic,
                format!(
                    "spawned task panicked: {}",
                    crate::panic::message(&*payload)
                ),
            )),
        };
    });
    d
}

/// Aborts a task when dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Fails the deferred with `Closed` when dropped; a no-op once it is
/// realized. Keeps awaiters of a spawned task from waiting forever when the
/// runtime drops the task unfinished.
struct CloseOnDrop<T: 'static>(Deferred<T>);

impl<T: 'static> Drop for CloseOnDrop<T> {
    fn drop(&mut self) {
        self.0.error(Error::new(
            ErrorKind::Closed,
            "spawned task was dropped before it finished (runtime shut down)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered_wakers<T>(d: &Deferred<T>) -> usize {
        d.shared.state.lock().wakers.len()
    }

    fn poll_once<T: Clone>(d: &mut Deferred<T>) -> Poll<Result<T>> {
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(d).poll(&mut cx)
    }

    #[test]
    fn a_handle_keeps_one_waker_slot_however_often_it_is_polled() {
        let mut d: Deferred<u8> = Deferred::new();
        for _ in 0..3 {
            assert!(poll_once(&mut d).is_pending());
        }
        assert_eq!(registered_wakers(&d), 1);
    }

    #[test]
    fn dropping_a_pending_handle_frees_its_waker_slot() {
        let d: Deferred<u8> = Deferred::new();
        let mut awaiter = d.clone();
        assert!(poll_once(&mut awaiter).is_pending());
        let mut other = d.clone();
        assert!(poll_once(&mut other).is_pending());
        assert_eq!(registered_wakers(&d), 2);
        drop(awaiter);
        assert_eq!(registered_wakers(&d), 1);
        drop(other);
        assert_eq!(registered_wakers(&d), 0);
    }

    #[test]
    fn a_clone_of_a_registered_handle_starts_unregistered() {
        let mut d: Deferred<u8> = Deferred::new();
        assert!(poll_once(&mut d).is_pending());
        let copy = d.clone();
        assert_eq!(copy.waker_key, None);
        drop(copy);
        assert_eq!(registered_wakers(&d), 1);
    }

    #[test]
    fn realizing_empties_the_waker_slab() {
        let mut d: Deferred<u8> = Deferred::new();
        assert!(poll_once(&mut d).is_pending());
        d.success(1);
        assert_eq!(registered_wakers(&d), 0);
        assert!(matches!(poll_once(&mut d), Poll::Ready(Ok(1))));
        assert_eq!(d.waker_key, None);
    }
}
