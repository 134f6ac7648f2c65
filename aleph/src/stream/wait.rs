//! The wait queues of a channel and the wake-ups collected under its lock.

use std::collections::VecDeque;
use std::task::Waker;

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

    pub(crate) fn drain_into(&mut self, wakers: &mut Vec<Waker>) {
        wakers.extend(self.entries.drain(..).map(|(_, waker)| waker));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Wake-ups and callbacks collected under the lock, run after it is released.
#[must_use]
pub(crate) struct Wakeups {
    pub(crate) many: Vec<Waker>,
    pub(crate) hooks: Vec<Hook>,
}

impl Wakeups {
    pub(crate) fn none() -> Wakeups {
        Wakeups {
            many: Vec::new(),
            hooks: Vec::new(),
        }
    }

    pub(crate) fn run(self) {
        for waker in self.many {
            waker.wake();
        }
        run_hooks(self.hooks);
    }
}

/// Runs every hook even if one panics, then resumes the first panic: one
/// faulty callback must not rob the others of the event, which never recurs.
fn run_hooks(hooks: Vec<Hook>) {
    if let Some(panic) = run_hooks_catching(hooks) {
        std::panic::resume_unwind(panic);
    }
}

pub(crate) fn run_hooks_catching(hooks: Vec<Hook>) -> Option<crate::panic::Payload> {
    crate::panic::run_all(hooks)
}
