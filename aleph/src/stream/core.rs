//! The state machine behind every channel handle.
//!
//! One mutex guards the buffer, the two wait queues and the close state; the
//! handle counts live beside it in atomics. The rules that keep it correct:
//!
//! - A value enters the buffer only in the same critical section in which the
//!   send completes, so a dropped send future never delivers (the permit model
//!   of tokio's bounded channel), and a value leaves it only in the critical
//!   section in which a receive completes, so a dropped receive loses nothing.
//! - A send may push while `buf.len() < capacity`, or, for a rendezvous,
//!   while a receiver is parked and not yet notified: each such push notifies
//!   exactly that receiver, so the buffer never holds more than
//!   `capacity + parked receivers` values.
//! - One event wakes one waiter. A woken waiter that is dropped before it acts
//!   passes its wake-up on, so no wake-up is lost; one that finds its chance
//!   taken by a newcomer re-queues in its original place (waiters keep their
//!   arrival number), so the queues stay FIFO by arrival.
//! - Wakers and user callbacks run after the lock is released.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use slab::Slab;

use crate::stream::Description;
use crate::Error;

/// A callback run once when a channel closes or drains.
pub(crate) type Hook = Box<dyn FnOnce() + Send + 'static>;

/// What a channel says about itself in [`Description`], beyond its state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub(crate) kind: &'static str,
    pub(crate) label: Option<String>,
    pub(crate) peer_addr: Option<SocketAddr>,
    pub(crate) local_addr: Option<SocketAddr>,
}

/// Parked futures of one side, ordered by arrival number.
#[derive(Default)]
struct WaitQueue {
    entries: VecDeque<(u64, Waker)>,
    next_id: u64,
}

impl WaitQueue {
    /// Parks the waiter of `slot` (or refreshes its waker). Returns true when
    /// the waiter was not in the queue before.
    fn park(&mut self, slot: &mut Option<u64>, waker: &Waker) -> bool {
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
    fn remove(&mut self, id: u64) -> bool {
        match self.entries.binary_search_by_key(&id, |entry| entry.0) {
            Ok(at) => {
                self.entries.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    fn pop(&mut self) -> Option<Waker> {
        self.entries.pop_front().map(|(_, waker)| waker)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

struct State<T> {
    buf: VecDeque<T>,
    closed: bool,
    /// Closed and empty, with the drained hooks fired.
    drained: bool,
    error: Option<Error>,
    senders: WaitQueue,
    receivers: WaitQueue,
    on_closed: Vec<Hook>,
    on_drained: Vec<Hook>,
    closed_wakers: Slab<Waker>,
    drained_wakers: Slab<Waker>,
    meta: Meta,
}

/// Wake-ups and callbacks collected under the lock, run after it is released.
#[must_use]
pub(crate) struct Wakeups {
    one: Option<Waker>,
    many: Vec<Waker>,
    hooks: Vec<Hook>,
}

impl Wakeups {
    fn none() -> Wakeups {
        Wakeups {
            one: None,
            many: Vec::new(),
            hooks: Vec::new(),
        }
    }

    fn run(self) {
        if let Some(waker) = self.one {
            waker.wake();
        }
        for waker in self.many {
            waker.wake();
        }
        for hook in self.hooks {
            hook();
        }
    }
}

/// The shared part of a channel: its state and the handle counts.
pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Handles that can send: `Channel` clones, `Sender`s, sinks.
    send_handles: AtomicUsize,
    /// Handles that can receive: `Channel` clones and `Receiver`s.
    recv_handles: AtomicUsize,
}

impl<T> Shared<T> {
    /// A channel with one sending and one receiving handle counted.
    pub(crate) fn new(capacity: usize, meta: Meta) -> Shared<T> {
        Shared {
            state: Mutex::new(State {
                buf: VecDeque::with_capacity(capacity.min(1024)),
                closed: false,
                drained: false,
                error: None,
                senders: WaitQueue::default(),
                receivers: WaitQueue::default(),
                on_closed: Vec::new(),
                on_drained: Vec::new(),
                closed_wakers: Slab::new(),
                drained_wakers: Slab::new(),
                meta,
            }),
            capacity,
            send_handles: AtomicUsize::new(1),
            recv_handles: AtomicUsize::new(1),
        }
    }

    // ---- handle counting -------------------------------------------------

    pub(crate) fn add_sender(&self) {
        self.send_handles.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_receiver(&self) {
        self.recv_handles.fetch_add(1, Ordering::Relaxed);
    }

    /// The last handle that can send closes the channel: its receivers drain
    /// what is buffered and then see the end.
    pub(crate) fn drop_sender(&self) {
        if self.send_handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close(None);
        }
    }

    /// The last handle that can receive closes the channel and drops what is
    /// buffered: nobody can take it any more, and senders get their values back.
    pub(crate) fn drop_receiver(&self) {
        if self.recv_handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut st = self.state.lock();
            let dropped = std::mem::take(&mut st.buf);
            let mut wake = Wakeups::none();
            Self::close_locked(&mut st, None, &mut wake);
            drop(st);
            wake.run();
            drop(dropped);
        }
    }

    // ---- sending ---------------------------------------------------------

    fn can_push(&self, st: &State<T>) -> bool {
        st.buf.len() < self.capacity || !st.receivers.is_empty()
    }

    /// Pushes and notifies one parked receiver.
    fn push_locked(st: &mut State<T>, value: T, wake: &mut Wakeups) {
        st.buf.push_back(value);
        wake.one = st.receivers.pop();
    }

    /// Sends `slot`'s value if there is room, or parks the waiter `waiter`.
    /// The value is taken out of `slot` only on `Ready(Ok)`; `Ready(Err)` hands it back.
    pub(crate) fn poll_send(
        &self,
        slot: &mut Option<T>,
        waiter: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), T>> {
        let mut st = self.state.lock();
        if st.closed {
            if let Some(id) = waiter.take() {
                st.senders.remove(id);
            }
            drop(st);
            return match slot.take() {
                Some(value) => Poll::Ready(Err(value)),
                None => Poll::Ready(Ok(())),
            };
        }
        if self.can_push(&st) {
            if let Some(id) = waiter.take() {
                st.senders.remove(id);
            }
            let Some(value) = slot.take() else {
                return Poll::Ready(Ok(()));
            };
            let mut wake = Wakeups::none();
            Self::push_locked(&mut st, value, &mut wake);
            drop(st);
            wake.run();
            return Poll::Ready(Ok(()));
        }
        st.senders.park(waiter, cx.waker());
        Poll::Pending
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), (T, bool)> {
        let mut st = self.state.lock();
        if st.closed {
            return Err((value, true));
        }
        if !self.can_push(&st) {
            return Err((value, false));
        }
        let mut wake = Wakeups::none();
        Self::push_locked(&mut st, value, &mut wake);
        drop(st);
        wake.run();
        Ok(())
    }

    fn pass_on_send(&self, st: &mut State<T>) -> Wakeups {
        let mut wake = Wakeups::none();
        if self.can_push(st) {
            wake.one = st.senders.pop();
        }
        wake
    }

    /// A send future or sink that parked is going away.
    pub(crate) fn cancel_send(&self, waiter: &mut Option<u64>) {
        if let Some(id) = waiter.take() {
            let mut st = self.state.lock();
            if !st.senders.remove(id) && !st.closed {
                let wake = self.pass_on_send(&mut st);
                drop(st);
                wake.run();
            }
        }
    }

    // ---- receiving -------------------------------------------------------

    /// Pops one value, waking a parked sender for the freed room and firing
    /// the drained hooks when this was the last value of a closed channel.
    fn pop_locked(&self, st: &mut State<T>, wake: &mut Wakeups) -> Option<T> {
        let value = st.buf.pop_front()?;
        if st.buf.len() < self.capacity {
            wake.one = st.senders.pop();
        }
        if st.closed && st.buf.is_empty() {
            Self::drain_locked(st, wake);
        }
        Some(value)
    }

    /// Takes a value, or `None` once closed and drained, or parks `waiter`.
    pub(crate) fn poll_recv(
        &self,
        waiter: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        let mut st = self.state.lock();
        let mut wake = Wakeups::none();
        if let Some(value) = self.pop_locked(&mut st, &mut wake) {
            if let Some(id) = waiter.take() {
                st.receivers.remove(id);
            }
            drop(st);
            wake.run();
            return Poll::Ready(Some(value));
        }
        if st.closed {
            if let Some(id) = waiter.take() {
                st.receivers.remove(id);
            }
            if let Some(error) = &st.error {
                super::note_end_error(error);
            }
            return Poll::Ready(None);
        }
        if st.receivers.park(waiter, cx.waker()) {
            // A newly parked receiver is room for one more value: on a
            // rendezvous channel that is what a parked sender waits for.
            wake.one = st.senders.pop();
            drop(st);
            wake.run();
        }
        Poll::Pending
    }

    pub(crate) fn try_recv(&self) -> Result<T, bool> {
        let mut st = self.state.lock();
        let mut wake = Wakeups::none();
        match self.pop_locked(&mut st, &mut wake) {
            Some(value) => {
                drop(st);
                wake.run();
                Ok(value)
            }
            None => Err(st.closed),
        }
    }

    /// A receive future or stream handle that parked is going away.
    pub(crate) fn cancel_recv(&self, waiter: &mut Option<u64>) {
        if let Some(id) = waiter.take() {
            let mut st = self.state.lock();
            if !st.receivers.remove(id) && !st.buf.is_empty() {
                // We were notified of a value we will not take: pass it on.
                let waker = st.receivers.pop();
                drop(st);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }
    }

    // ---- closing ---------------------------------------------------------

    /// Closes the channel (the first close wins and sets the error). Returns
    /// true if this call closed it.
    pub(crate) fn close(&self, error: Option<Error>) -> bool {
        let mut st = self.state.lock();
        if st.closed {
            return false;
        }
        let mut wake = Wakeups::none();
        Self::close_locked(&mut st, error, &mut wake);
        drop(st);
        wake.run();
        true
    }

    fn close_locked(st: &mut State<T>, error: Option<Error>, wake: &mut Wakeups) {
        if st.closed {
            if st.buf.is_empty() && !st.drained {
                Self::drain_locked(st, wake);
            }
            return;
        }
        st.closed = true;
        st.error = error;
        wake.many
            .reserve(st.senders.len() + st.receivers.len() + st.closed_wakers.len());
        while let Some(waker) = st.senders.pop() {
            wake.many.push(waker);
        }
        while let Some(waker) = st.receivers.pop() {
            wake.many.push(waker);
        }
        wake.many.extend(st.closed_wakers.drain());
        wake.hooks.append(&mut st.on_closed);
        if st.buf.is_empty() {
            Self::drain_locked(st, wake);
        }
    }

    fn drain_locked(st: &mut State<T>, wake: &mut Wakeups) {
        st.drained = true;
        while let Some(waker) = st.receivers.pop() {
            wake.many.push(waker);
        }
        wake.many.extend(st.drained_wakers.drain());
        wake.hooks.append(&mut st.on_drained);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    pub(crate) fn is_drained(&self) -> bool {
        self.state.lock().drained
    }

    pub(crate) fn error(&self) -> Option<Error> {
        self.state.lock().error.clone()
    }

    pub(crate) fn on_closed(&self, hook: Hook) {
        let mut st = self.state.lock();
        if st.closed {
            drop(st);
            hook();
        } else {
            st.on_closed.push(hook);
        }
    }

    pub(crate) fn on_drained(&self, hook: Hook) {
        let mut st = self.state.lock();
        if st.drained {
            drop(st);
            hook();
        } else {
            st.on_drained.push(hook);
        }
    }

    /// Ready once closed (`drained == false`) or drained (`drained == true`).
    pub(crate) fn poll_event(
        &self,
        drained: bool,
        key: &mut Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let mut st = self.state.lock();
        let done = if drained { st.drained } else { st.closed };
        let wakers = if drained {
            &mut st.drained_wakers
        } else {
            &mut st.closed_wakers
        };
        if done {
            // The slab was drained when the event fired, so the key is stale.
            *key = None;
            return Poll::Ready(());
        }
        match *key {
            Some(at) => match wakers.get_mut(at) {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                Some(waker) => *waker = cx.waker().clone(),
                None => *key = Some(wakers.insert(cx.waker().clone())),
            },
            None => *key = Some(wakers.insert(cx.waker().clone())),
        }
        Poll::Pending
    }

    pub(crate) fn cancel_event(&self, drained: bool, key: &mut Option<usize>) {
        if let Some(at) = key.take() {
            let mut st = self.state.lock();
            let done = if drained { st.drained } else { st.closed };
            if !done {
                let wakers = if drained {
                    &mut st.drained_wakers
                } else {
                    &mut st.closed_wakers
                };
                if wakers.contains(at) {
                    wakers.remove(at);
                }
            }
        }
    }

    // ---- description -----------------------------------------------------

    pub(crate) fn set_meta(&self, f: impl FnOnce(&mut Meta)) {
        f(&mut self.state.lock().meta);
    }

    pub(crate) fn describe(&self) -> Description {
        let st = self.state.lock();
        Description {
            kind: st.meta.kind,
            label: st.meta.label.clone(),
            capacity: self.capacity,
            buffered: st.buf.len(),
            pending_sends: st.senders.len(),
            pending_recvs: st.receivers.len(),
            senders: self.send_handles.load(Ordering::Relaxed),
            receivers: self.recv_handles.load(Ordering::Relaxed),
            closed: st.closed,
            drained: st.drained,
            error: st.error.as_ref().map(|e| e.to_string()),
            peer_addr: st.meta.peer_addr,
            local_addr: st.meta.local_addr,
            sink: None,
        }
    }
}
