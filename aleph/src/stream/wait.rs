//! The wait queues of a channel, the wake-ups collected under its lock, and
//! the sync shim that lets loom check the core.

use std::collections::VecDeque;
use std::task::Waker;

/// The atomics and the lock of the channel core: std and parking_lot in a
/// normal build, loom's under `--cfg loom` (`scripts/loom.sh` runs the models
/// in `tests/loom_channel.rs`).
pub(crate) mod sync {
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic;

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic;

    /// A mutex whose `lock` cannot fail.
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

/// Parked futures of one side, ordered by arrival number.
#[derive(Default)]
pub(crate) struct WaitQueue {
    entries: VecDeque<(u64, Waker)>,
    next_id: u64,
    /// Wakers removed or replaced under the lock, to be dropped after it is
    /// released: dropping a waker runs user code (the last clone of a task's
    /// waker may drop a channel handle, which takes the lock again).
    retired: Wakers,
}

impl WaitQueue {
    /// Parks the waiter of `slot` (or refreshes its waker). Returns true when
    /// the waiter was not in the queue before.
    pub(crate) fn park(&mut self, slot: &mut Option<u64>, waker: &Waker) -> bool {
        match *slot {
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.entries.push_back((id, waker.clone()));
                *slot = Some(id);
                true
            }
            Some(id) => match self.entries.binary_search_by_key(&id, |entry| entry.0) {
                Ok(at) => {
                    if !self.entries[at].1.will_wake(waker) {
                        let old = std::mem::replace(&mut self.entries[at].1, waker.clone());
                        self.retired.push(old);
                    }
                    false
                }
                // Notified, but a newcomer took the chance: back in its place.
                Err(at) => {
                    self.entries.insert(at, (id, waker.clone()));
                    true
                }
            },
        }
    }

    /// Removes the waiter `id`; false if it was notified (popped) already.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        match self.entries.binary_search_by_key(&id, |entry| entry.0) {
            Ok(at) => {
                if let Some((_, waker)) = self.entries.remove(at) {
                    self.retired.push(waker);
                }
                true
            }
            Err(_) => false,
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Waker> {
        self.entries.pop_front().map(|(_, waker)| waker)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn drain_into(&mut self, wakers: &mut Wakers) {
        wakers.extend(self.entries.drain(..).map(|(_, waker)| waker));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Moves the wakers removed or replaced so far into `wakers`, to be
    /// dropped once the lock is released.
    pub(crate) fn retire_into(&mut self, wakers: &mut Wakers) {
        wakers.append(&mut self.retired);
    }
}

/// Wakers to wake: most events wake one, which this holds without allocating.
#[derive(Default)]
pub(crate) struct Wakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakers {
    pub(crate) fn push(&mut self, waker: Waker) {
        match self.first {
            None => self.first = Some(waker),
            Some(_) => self.rest.push(waker),
        }
    }

    /// Moves every waker of `other` into this set.
    pub(crate) fn append(&mut self, other: &mut Wakers) {
        if let Some(waker) = other.first.take() {
            self.push(waker);
        }
        if !other.rest.is_empty() {
            self.rest.append(&mut other.rest);
        }
    }

    pub(crate) fn extend(&mut self, wakers: impl IntoIterator<Item = Waker>) {
        for waker in wakers {
            self.push(waker);
        }
    }

    /// Wakes every waker even if one panics (a faulty waker must not rob the
    /// other waiters of their wake-up), and returns the first panic.
    fn wake(self) -> Option<crate::panic::Payload> {
        let wakers = self.first.into_iter().chain(self.rest);
        crate::panic::run_all(wakers.map(|waker| move || waker.wake()))
    }
}

/// Wake-ups and callbacks collected under the lock, run after it is released.
#[must_use]
pub(crate) struct Wakeups {
    pub(crate) many: Wakers,
    pub(crate) hooks: Vec<Hook>,
}

impl Wakeups {
    pub(crate) fn none() -> Wakeups {
        Wakeups {
            many: Wakers::default(),
            hooks: Vec::new(),
        }
    }

    /// Wakes the wakers, then runs the hooks; a waker's or a hook's panic is
    /// logged (the caller is a send, a receive or a dropped handle: see
    /// [`run_hooks`]).
    pub(crate) fn run(self) {
        drop(self.run_catching(false));
    }

    /// Wakes every waker, then runs every hook, whatever panics: the waiters
    /// and the hooks would otherwise miss an event that may never recur. With
    /// `propagate` the first panic (a waker's, else a hook's) is returned, the
    /// rest logged, as [`run_hooks`] does; without it every panic is logged.
    pub(crate) fn run_catching(self, propagate: bool) -> Option<crate::panic::Payload> {
        let waker_panic = match self.many.wake() {
            Some(panic) if propagate && !std::thread::panicking() => Some(panic),
            Some(panic) => {
                log_panic(&*panic, "a waker of a stream's waiter panicked");
                None
            }
            None => None,
        };
        let hook_panic = run_hooks(self.hooks, propagate && waker_panic.is_none());
        waker_panic.or(hook_panic)
    }
}

/// Runs every hook even if one panics: one faulty callback must not rob the
/// others of the event, which never recurs.
///
/// With `propagate` (an explicit `close()`) the first panic is returned for
/// the caller to resume, unless this thread is already unwinding (a second
/// panic would abort). Every other panic is caught and logged: fired by a
/// receive, it would lose the value taken; fired by a dropped handle, it
/// would unwind out of a `Drop`.
pub(crate) fn run_hooks(hooks: Vec<Hook>, propagate: bool) -> Option<crate::panic::Payload> {
    let mut first_panic = None;
    for hook in hooks {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
            if propagate && first_panic.is_none() && !std::thread::panicking() {
                first_panic = Some(panic);
            } else {
                log_panic(&*panic, "a stream's on_closed / on_drained hook panicked");
            }
        }
    }
    first_panic
}

fn log_panic(panic: &(dyn std::any::Any + Send), what: &str) {
    tracing::error!(panic = crate::panic::message(panic), "{what}");
}
