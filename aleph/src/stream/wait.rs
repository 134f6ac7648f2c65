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
                        self.entries[at].1 = waker.clone();
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
                self.entries.remove(at);
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

    pub(crate) fn extend(&mut self, wakers: impl IntoIterator<Item = Waker>) {
        for waker in wakers {
            self.push(waker);
        }
    }

    fn wake(self) {
        for waker in self.first.into_iter().chain(self.rest) {
            waker.wake();
        }
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

    /// Wakes the wakers, then runs the hooks; a hook's panic is logged (the
    /// caller is a receive or a dropped handle: see [`run_hooks`]).
    pub(crate) fn run(self) {
        drop(self.run_catching(false));
    }

    /// Wakes the wakers, then runs the hooks, returning the first hook panic
    /// when `propagate` (see [`run_hooks`]).
    pub(crate) fn run_catching(self, propagate: bool) -> Option<crate::panic::Payload> {
        self.many.wake();
        run_hooks(self.hooks, propagate)
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
                log_hook_panic(&*panic);
            }
        }
    }
    first_panic
}

fn log_hook_panic(panic: &(dyn std::any::Any + Send)) {
    tracing::error!(
        panic = crate::panic::message(panic),
        "a stream's on_closed / on_drained hook panicked"
    );
}
