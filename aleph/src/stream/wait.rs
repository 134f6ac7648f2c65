//! How a channel waits: `event-listener` events with a count of their
//! waiters, the per-operation waiter state, hooks, and the sync shim that lets
//! loom check all of it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::{Event, EventListener, IntoNotification, Listener};

use sync::atomic::{AtomicUsize, Ordering};

/// The atomics and the lock of the channel core: std and parking_lot in a
/// normal build, loom's under `--cfg loom` (see `tests/loom_channel.rs`).
pub(crate) mod sync {
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic;

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic;

    /// A mutex whose `lock` cannot fail.
    #[derive(Default)]
    pub(crate) struct Mutex<T>(Inner<T>);

    #[cfg(not(loom))]
    type Inner<T> = parking_lot::Mutex<T>;
    #[cfg(not(loom))]
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    #[cfg(loom)]
    type Inner<T> = loom::sync::Mutex<T>;
    #[cfg(loom)]
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(Inner::new(value))
        }

        #[cfg(not(loom))]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }

        #[cfg(loom)]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

/// A callback run once when a channel closes or drains.
pub(crate) type Hook = Box<dyn FnOnce() + Send + 'static>;

/// The waiters of one kind on one side of a channel.
///
/// `event-listener` keeps them in arrival order and wakes them. Its `notify`
/// takes a lock even when nobody listens, so `unwoken` counts the listeners
/// not woken yet, and a notifier that finds none skips the lock. A waiter
/// counts itself before it listens; whoever ends a listener's wait uncounts
/// it after (the notifier that woke it, or the waiter that gave up first), so
/// the count never falls below the true number.
///
/// That is sound because both sides order their steps with a SeqCst fence: a
/// waiter counts itself and listens, fences, then checks the channel once
/// more; a notifier changes the channel, fences, then reads the count.
/// Either the notifier sees the count, or the waiter's second look sees the
/// change.
pub(crate) struct Waiters {
    event: Event,
    unwoken: AtomicUsize,
    /// Wake every waiter at each change (handle waiters), not just one.
    all: bool,
}

impl Waiters {
    /// Waiters woken one per change (`all == false`) or all at once.
    pub(crate) fn new(all: bool) -> Waiters {
        Waiters {
            event: Event::new(),
            unwoken: AtomicUsize::new(0),
            all,
        }
    }

    /// Wakes one more waiter (or every waiter) not woken yet. The caller has
    /// fenced since its change.
    pub(crate) fn notify(&self) {
        if self.unwoken.load(Ordering::Relaxed) > 0 {
            self.notify_locked(if self.all { usize::MAX } else { 1 });
        }
    }

    /// Wakes every waiter (the channel closed).
    pub(crate) fn notify_every(&self) {
        sync::atomic::fence(Ordering::SeqCst);
        if self.unwoken.load(Ordering::Relaxed) > 0 {
            self.notify_locked(usize::MAX);
        }
    }

    fn notify_locked(&self, n: usize) {
        let woken = self.event.notify(n.additional().relaxed());
        if woken > 0 {
            self.unwoken.fetch_sub(woken, Ordering::Relaxed);
        }
    }

    /// How many wait now, not woken yet.
    pub(crate) fn len(&self) -> usize {
        self.unwoken.load(Ordering::Relaxed)
    }

    /// A listener is dropped without acting on what it waited for. Returns
    /// true if it had been woken.
    fn discard(&self, listener: EventListener) -> bool {
        let woken = listener.discard();
        if !woken {
            self.unwoken.fetch_sub(1, Ordering::Relaxed);
        }
        woken
    }

    fn listen(&self) -> EventListener {
        self.unwoken.fetch_add(1, Ordering::Relaxed);
        let listener = self.event.listen();
        sync::atomic::fence(Ordering::SeqCst);
        listener
    }
}

/// The state of one waiting operation: a send or receive future, or a handle
/// polled as a `Stream` or `Sink`. `None` in its slot while it does not wait.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// `None` between a wake-up and the next listen.
    listener: Option<EventListener>,
    /// A receiver waiting on a rendezvous channel holds one permit it granted
    /// to senders (see `core`).
    pub(crate) granted: bool,
}

/// What a waiting step asks the caller to do.
pub(crate) enum Step {
    /// Look at the channel again: the waiter listens now, or was woken.
    Retry,
    /// Return `Pending`: the waiter is registered with the task's waker.
    Pending,
}

impl Waiters {
    /// One step of waiting for `slot`: listen (the caller then looks at the
    /// channel again), or poll the listener.
    pub(crate) fn wait(&self, slot: &mut Option<Waiter>, cx: &mut Context<'_>) -> Step {
        let waiter = slot.get_or_insert(Waiter {
            listener: None,
            granted: false,
        });
        match &mut waiter.listener {
            None => {
                waiter.listener = Some(self.listen());
                Step::Retry
            }
            Some(listener) => match Pin::new(listener).poll(cx) {
                Poll::Ready(()) => {
                    waiter.listener = None;
                    Step::Retry
                }
                Poll::Pending => Step::Pending,
            },
        }
    }

    /// Registers a waiter that listens already with the task's waker, and
    /// returns `Pending` even if it was woken meanwhile (then it wakes the
    /// task itself, so the next poll looks again).
    pub(crate) fn park(&self, waiter: &mut Waiter, cx: &mut Context<'_>) {
        if let Some(listener) = &mut waiter.listener {
            if Pin::new(listener).poll(cx).is_ready() {
                waiter.listener = None;
                cx.waker().wake_by_ref();
            }
        }
    }

    /// The waiter of `slot` got what it waited for: it leaves, and a wake-up
    /// it was given is spent. Returns the waiter.
    pub(crate) fn done(&self, slot: &mut Option<Waiter>) -> Option<Waiter> {
        let mut waiter = slot.take()?;
        if let Some(listener) = waiter.listener.take() {
            self.discard(listener);
        }
        Some(waiter)
    }

    /// The waiter of `slot` gives up: it leaves, and a wake-up it was given
    /// and did not use goes to the next waiter (handle waiters were all woken:
    /// nothing to pass on). Returns the waiter.
    pub(crate) fn cancel(&self, slot: &mut Option<Waiter>) -> Option<Waiter> {
        let mut waiter = slot.take()?;
        if let Some(listener) = waiter.listener.take() {
            if self.discard(listener) && !self.all {
                sync::atomic::fence(Ordering::SeqCst);
                self.notify();
            }
        }
        Some(waiter)
    }
}

/// Waits for a one-time event (closed, drained) whose state `done` reads.
pub(crate) fn poll_once_event(
    event: &Event,
    listener: &mut Option<EventListener>,
    cx: &mut Context<'_>,
    done: impl Fn() -> bool,
) -> Poll<()> {
    loop {
        if done() {
            *listener = None;
            return Poll::Ready(());
        }
        match listener {
            None => *listener = Some(event.listen()),
            Some(l) => {
                std::task::ready!(Pin::new(l).poll(cx));
                *listener = None;
            }
        }
    }
}

/// Runs every hook even if one panics: one faulty callback must not rob the
/// others of the event, which never recurs. With `propagate` (an explicit
/// `close()` on a thread that is not unwinding) the first panic is returned
/// for the caller to resume; every other panic is logged and dropped.
pub(crate) fn run_hooks(
    hooks: Vec<Hook>,
    propagate: bool,
) -> Option<Box<dyn std::any::Any + Send>> {
    let mut first_panic = None;
    for hook in hooks {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
            if propagate && first_panic.is_none() && !std::thread::panicking() {
                first_panic = Some(panic);
            } else {
                log_hook_panic(&*panic);
            }
        }
    }
    first_panic
}

fn log_hook_panic(panic: &(dyn std::any::Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)");
    tracing::error!(
        panic = message,
        "a stream's on_closed / on_drained hook panicked"
    );
}
