//! The state machine behind every channel handle.
//!
//! Values live in one of two stores. A bounded channel of modest capacity
//! keeps them in a lock-free ring (`concurrent-queue`): a send or receive
//! that finds room or a value never takes the lock, so producer and consumer
//! do not fight over one cache line. A rendezvous channel (capacity 0), and
//! one so large that allocating its ring up front would be wasteful, keeps
//! them in a `VecDeque` under the lock. The lock always guards the two wait
//! queues, the hooks and the close state.
//!
//! The rules that keep it correct:
//!
//! - A value enters the store only in the step in which its send completes,
//!   so a dropped send future never delivers (the permit model of tokio's
//!   bounded channel), and it leaves only in the step in which a receive
//!   completes, so a dropped receive loses nothing.
//! - No lost wake-up between the lock-free paths and the wait queues: a
//!   waiter parks under the lock, publishes the number of parked waiters,
//!   issues a SeqCst fence and then tries once more; the other side makes
//!   its change, issues a SeqCst fence and then reads that number. One of
//!   the two must see the other (the store-buffer pattern).
//! - In the locked store, a send may push while `len < capacity`, or, for a
//!   rendezvous, while a receiver is parked and not yet notified: each such
//!   push notifies exactly that receiver, so the store never holds more than
//!   `capacity + parked receivers` values.
//! - One event wakes one waiting *future*. A woken future that is dropped
//!   before it acts passes its wake-up on, so none is lost; one that finds
//!   its chance taken by a newcomer re-queues in its original place (waiters
//!   keep their arrival number), so the queues stay FIFO by arrival.
//! - A *handle* that waits through `Stream::poll_next` or `Sink::poll_ready`
//!   keeps its place in the handle, and nothing tells us when the `next()`
//!   that polled it is abandoned. So handle waiters sit in queues of their
//!   own, and every event wakes all of them (as async-channel treats its
//!   stream listeners): an abandoned one can never absorb a wake-up that a
//!   live waiter needs.
//! - Wakers and user callbacks run after the lock is released. A callback's
//!   panic reaches only the caller of an explicit `close()`; fired by a
//!   receive or a dropped handle it is caught and logged (`wait::run_hooks`).
//!
//! The loom models in `tests/loom_channel.rs` (run by `scripts/loom.sh`)
//! explore the races between these paths; the atomics and the lock come
//! from `wait::sync` so that loom can replace them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};

use concurrent_queue::{ConcurrentQueue, ForcePushError, PopError, PushError};

use slab::Slab;

use super::wait::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use super::wait::sync::{Mutex, MutexGuard};
use super::wait::{run_hooks, Hook, WaitQueue, Wakeups};
use crate::stream::Description;
use crate::Error;

/// The largest capacity kept in a lock-free ring, which is allocated whole
/// up front; larger channels grow a `VecDeque` under the lock as they fill.
const RING_MAX: usize = 1 << 16;

/// What a channel says about itself in [`Description`], beyond its state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub(crate) kind: &'static str,
    /// What a send does when the channel is full.
    pub(crate) overflow: Overflow,
    pub(crate) label: Option<String>,
    pub(crate) peer_addr: Option<SocketAddr>,
    pub(crate) local_addr: Option<SocketAddr>,
}

/// What a send does when the channel is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Wait for room: backpressure.
    #[default]
    Wait,
    /// Drop the oldest value to make room (Manifold's sliding stream).
    DropOldest,
    /// Drop the value being sent (Manifold's dropping stream).
    DropNewest,
}

struct State<T> {
    /// The values of a locked store; unused with a ring.
    buf: VecDeque<T>,
    closed: bool,
    /// Closed and empty, with the drained hooks fired.
    drained: bool,
    error: Option<Error>,
    senders: WaitQueue,
    receivers: WaitQueue,
    /// Sinks waiting for room (handle waiters: all woken at each event).
    handle_senders: WaitQueue,
    /// Stream handles waiting for a value (handle waiters: all woken at each event).
    handle_receivers: WaitQueue,
    on_closed: Vec<Hook>,
    on_drained: Vec<Hook>,
    /// The closed hooks were taken and have not all run yet: drained hooks
    /// due meanwhile wait here, so they never run before the closed ones.
    closing: bool,
    drained_after_closing: Vec<Hook>,
    closed_wakers: Slab<Waker>,
    drained_wakers: Slab<Waker>,
    meta: Meta,
}

impl<T> State<T> {
    fn queue(&mut self, side: Side, kind: Kind) -> &mut WaitQueue {
        match (side, kind) {
            (Side::Send, Kind::Future) => &mut self.senders,
            (Side::Send, Kind::Handle) => &mut self.handle_senders,
            (Side::Recv, Kind::Future) => &mut self.receivers,
            (Side::Recv, Kind::Handle) => &mut self.handle_receivers,
        }
    }

    fn any_receiver_parked(&self) -> bool {
        !self.receivers.is_empty() || !self.handle_receivers.is_empty()
    }

    /// The wake-ups of one event on `side`: the first waiting future and
    /// every waiting handle.
    fn notify(&mut self, side: Side, wake: &mut Wakeups) {
        let (futures, handles) = match side {
            Side::Send => (&mut self.senders, &mut self.handle_senders),
            Side::Recv => (&mut self.receivers, &mut self.handle_receivers),
        };
        if let Some(waker) = futures.pop() {
            wake.many.push(waker);
        }
        handles.drain_into(&mut wake.many);
    }
}

/// The shared part of a channel: its store, its state and the handle counts.
pub(crate) struct Shared<T> {
    /// The lock-free ring, for 1 ≤ capacity ≤ [`RING_MAX`].
    ring: Option<ConcurrentQueue<T>>,
    /// Parked senders and receivers, mirrored from the wait queues for the
    /// lock-free paths (see the module docs).
    parked_senders: AtomicUsize,
    parked_receivers: AtomicUsize,
    state: Mutex<State<T>>,
    capacity: usize,
    overflow: Overflow,
    /// Values dropped by the overflow policy.
    dropped: AtomicU64,
    /// Handles that can send: `Channel` clones, `Sender`s, sinks.
    send_handles: AtomicUsize,
    /// Handles that can receive: `Channel` clones and `Receiver`s.
    recv_handles: AtomicUsize,
}

impl<T> Shared<T> {
    /// A channel with one sending and one receiving handle counted.
    pub(crate) fn new(capacity: usize, meta: Meta) -> Shared<T> {
        let overflow = meta.overflow;
        // A channel that drops on overflow needs room for at least one value.
        let capacity = if overflow == Overflow::Wait {
            capacity
        } else {
            capacity.max(1)
        };
        let ring = (1..=RING_MAX)
            .contains(&capacity)
            .then(|| ConcurrentQueue::bounded(capacity));
        Shared {
            ring,
            parked_senders: AtomicUsize::new(0),
            parked_receivers: AtomicUsize::new(0),
            state: Mutex::new(State {
                buf: VecDeque::new(),
                closed: false,
                drained: false,
                error: None,
                senders: WaitQueue::default(),
                receivers: WaitQueue::default(),
                handle_senders: WaitQueue::default(),
                handle_receivers: WaitQueue::default(),
                on_closed: Vec::new(),
                on_drained: Vec::new(),
                closing: false,
                drained_after_closing: Vec::new(),
                closed_wakers: Slab::new(),
                drained_wakers: Slab::new(),
                meta,
            }),
            capacity,
            overflow,
            dropped: AtomicU64::new(0),
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
            self.close_as(None, false);
        }
    }

    /// The last handle that can receive closes the channel and drops what is
    /// buffered: nobody can take it any more, and senders get their values back.
    pub(crate) fn drop_receiver(&self) {
        if self.recv_handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close_as(None, false);
            let mut dropped = Vec::new();
            if let Some(ring) = &self.ring {
                while let Ok(value) = ring.pop() {
                    dropped.push(value);
                }
            }
            let mut st = self.state.lock();
            dropped.extend(st.buf.drain(..));
            let mut wake = Wakeups::none();
            if !st.drained {
                Self::drain_locked(&mut st, &mut wake);
            }
            drop(st);
            wake.run();
            drop(dropped);
        }
    }

    /// Publishes the wait queues' lengths for the lock-free paths.
    fn publish_parked(&self, st: &State<T>) {
        self.parked_senders.store(
            st.senders.len() + st.handle_senders.len(),
            Ordering::Relaxed,
        );
        self.parked_receivers.store(
            st.receivers.len() + st.handle_receivers.len(),
            Ordering::Relaxed,
        );
    }

    /// After a value went into the ring: wakes a parked receiver, if any.
    fn notify_receiver(&self) {
        fence(Ordering::SeqCst);
        if self.parked_receivers.load(Ordering::Relaxed) > 0 {
            let mut st = self.state.lock();
            let mut wake = Wakeups::none();
            st.notify(Side::Recv, &mut wake);
            self.publish_parked(&st);
            drop(st);
            wake.run();
        }
    }

    /// After a value left the ring: wakes a parked sender, if any, and fires
    /// the drained hooks if that was the last value of a closed channel.
    fn after_ring_pop(&self, ring: &ConcurrentQueue<T>) {
        fence(Ordering::SeqCst);
        if self.parked_senders.load(Ordering::Relaxed) > 0 {
            let mut st = self.state.lock();
            let mut wake = Wakeups::none();
            st.notify(Side::Send, &mut wake);
            self.publish_parked(&st);
            drop(st);
            wake.run();
        }
        if ring.is_closed() && ring.is_empty() {
            self.fire_drained();
        }
    }

    fn fire_drained(&self) {
        let mut st = self.state.lock();
        if st.drained {
            return;
        }
        let mut wake = Wakeups::none();
        Self::drain_locked(&mut st, &mut wake);
        drop(st);
        wake.run();
    }

    // ---- sending ---------------------------------------------------------

    /// Room in a locked store: below capacity, or a receiver parked for a
    /// rendezvous.
    fn locked_has_room(&self, st: &State<T>) -> bool {
        st.buf.len() < self.capacity || st.any_receiver_parked()
    }

    /// Sends `slot`'s value if there is room, or parks the waiter `waiter`.
    /// The value is taken out of `slot` only on `Ready(Ok)`; `Ready(Err)` hands it back.
    pub(crate) fn poll_send(
        &self,
        slot: &mut Option<T>,
        waiter: &mut Option<u64>,
        kind: Kind,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), T>> {
        let Some(value) = slot.take() else {
            return Poll::Ready(Ok(()));
        };
        // Spend tokio's cooperative budget, so a task whose sends are always
        // ready still yields to its neighbours (see `Budget`).
        let coop = match Budget::poll(cx) {
            Poll::Ready(coop) => coop,
            Poll::Pending => {
                *slot = Some(value);
                return Poll::Pending;
            }
        };
        if self.overflow != Overflow::Wait {
            // Such a channel never waits, so this send never parks.
            coop.made_progress();
            return Poll::Ready(self.push_overflowing(value));
        }
        let at = (waiter, kind);
        let sent = match &self.ring {
            Some(ring) => self.poll_send_ring(ring, value, slot, at, cx),
            None => self.poll_send_locked(value, slot, at, cx),
        };
        if sent.is_ready() {
            coop.made_progress();
        }
        sent
    }

    fn poll_send_ring(
        &self,
        ring: &ConcurrentQueue<T>,
        value: T,
        slot: &mut Option<T>,
        (waiter, kind): (&mut Option<u64>, Kind),
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), T>> {
        let value = match ring.push(value) {
            Ok(()) => {
                self.leave(waiter, Side::Send, kind);
                self.notify_receiver();
                return Poll::Ready(Ok(()));
            }
            Err(PushError::Closed(value)) => {
                self.leave(waiter, Side::Send, kind);
                return Poll::Ready(Err(value));
            }
            Err(PushError::Full(value)) => value,
        };
        let mut st = self.state.lock();
        st.queue(Side::Send, kind).park(waiter, cx.waker());
        self.publish_parked(&st);
        fence(Ordering::SeqCst);
        match ring.push(value) {
            Ok(()) => {
                Self::unpark(&mut st, waiter, Side::Send, kind);
                self.publish_parked(&st);
                drop(st);
                self.notify_receiver();
                Poll::Ready(Ok(()))
            }
            Err(PushError::Closed(value)) => {
                Self::unpark(&mut st, waiter, Side::Send, kind);
                self.publish_parked(&st);
                Poll::Ready(Err(value))
            }
            Err(PushError::Full(value)) => {
                *slot = Some(value);
                Poll::Pending
            }
        }
    }

    fn poll_send_locked(
        &self,
        value: T,
        slot: &mut Option<T>,
        (waiter, kind): (&mut Option<u64>, Kind),
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), T>> {
        let mut st = self.state.lock();
        if st.closed {
            Self::unpark(&mut st, waiter, Side::Send, kind);
            return Poll::Ready(Err(value));
        }
        if self.locked_has_room(&st) {
            Self::unpark(&mut st, waiter, Side::Send, kind);
            st.buf.push_back(value);
            let mut wake = Wakeups::none();
            st.notify(Side::Recv, &mut wake);
            drop(st);
            wake.run();
            return Poll::Ready(Ok(()));
        }
        st.queue(Side::Send, kind).park(waiter, cx.waker());
        *slot = Some(value);
        Poll::Pending
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), (T, bool)> {
        if self.overflow != Overflow::Wait {
            return self.push_overflowing(value).map_err(|value| (value, true));
        }
        if let Some(ring) = &self.ring {
            return match ring.push(value) {
                Ok(()) => {
                    self.notify_receiver();
                    Ok(())
                }
                Err(PushError::Full(value)) => Err((value, false)),
                Err(PushError::Closed(value)) => Err((value, true)),
            };
        }
        let mut st = self.state.lock();
        if st.closed {
            return Err((value, true));
        }
        if !self.locked_has_room(&st) {
            return Err((value, false));
        }
        st.buf.push_back(value);
        let mut wake = Wakeups::none();
        st.notify(Side::Recv, &mut wake);
        drop(st);
        wake.run();
        Ok(())
    }

    /// Sends without waiting, dropping the oldest or the new value when full
    /// (and counting it). `Err` hands the value back once closed.
    fn push_overflowing(&self, value: T) -> Result<(), T> {
        let dropped = match &self.ring {
            Some(ring) if self.overflow == Overflow::DropOldest => match ring.force_push(value) {
                Ok(displaced) => displaced,
                Err(ForcePushError(value)) => return Err(value),
            },
            Some(ring) => match ring.push(value) {
                Ok(()) => None,
                Err(PushError::Full(value)) => Some(value),
                Err(PushError::Closed(value)) => return Err(value),
            },
            None => {
                let mut st = self.state.lock();
                if st.closed {
                    return Err(value);
                }
                let mut dropped = None;
                if st.buf.len() < self.capacity {
                    st.buf.push_back(value);
                } else if self.overflow == Overflow::DropOldest {
                    dropped = st.buf.pop_front();
                    st.buf.push_back(value);
                } else {
                    dropped = Some(value);
                }
                let mut wake = Wakeups::none();
                st.notify(Side::Recv, &mut wake);
                drop(st);
                wake.run();
                if dropped.is_some() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                // Dropped outside the lock: its `Drop` is user code.
                drop(dropped);
                return Ok(());
            }
        };
        if dropped.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(dropped);
        self.notify_receiver();
        Ok(())
    }

    /// A send future or sink that parked is going away.
    pub(crate) fn cancel_send(&self, waiter: &mut Option<u64>, kind: Kind) {
        let Some(id) = waiter.take() else { return };
        let mut st = self.state.lock();
        // A handle waiter's wake-up also went to every other waiter: nothing to pass on.
        if st.queue(Side::Send, kind).remove(id) || st.closed || kind == Kind::Handle {
            self.publish_parked(&st);
            return;
        }
        // We were notified of room we will not use: pass it on.
        let has_room = match &self.ring {
            Some(ring) => !ring.is_full(),
            None => self.locked_has_room(&st),
        };
        let mut wake = Wakeups::none();
        if has_room {
            st.notify(Side::Send, &mut wake);
        }
        self.publish_parked(&st);
        drop(st);
        wake.run();
    }

    // ---- receiving -------------------------------------------------------

    /// Takes a value, or `None` once closed and drained, or parks `waiter`.
    pub(crate) fn poll_recv(
        &self,
        waiter: &mut Option<u64>,
        kind: Kind,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        // Cooperative budget, as for sends.
        let coop = std::task::ready!(Budget::poll(cx));
        let received = match &self.ring {
            Some(ring) => self.poll_recv_ring(ring, waiter, kind, cx),
            None => self.poll_recv_locked(waiter, kind, cx),
        };
        if received.is_ready() {
            coop.made_progress();
        }
        received
    }

    fn poll_recv_ring(
        &self,
        ring: &ConcurrentQueue<T>,
        waiter: &mut Option<u64>,
        kind: Kind,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        match ring.pop() {
            Ok(value) => {
                self.leave(waiter, Side::Recv, kind);
                self.after_ring_pop(ring);
                return Poll::Ready(Some(value));
            }
            Err(PopError::Closed) => {
                self.leave(waiter, Side::Recv, kind);
                return Poll::Ready(None);
            }
            Err(PopError::Empty) => {}
        }
        let mut st = self.state.lock();
        st.queue(Side::Recv, kind).park(waiter, cx.waker());
        self.publish_parked(&st);
        fence(Ordering::SeqCst);
        match ring.pop() {
            Ok(value) => {
                Self::unpark(&mut st, waiter, Side::Recv, kind);
                self.publish_parked(&st);
                drop(st);
                self.after_ring_pop(ring);
                Poll::Ready(Some(value))
            }
            Err(PopError::Closed) => {
                Self::unpark(&mut st, waiter, Side::Recv, kind);
                self.publish_parked(&st);
                drop(st);
                Poll::Ready(None)
            }
            Err(PopError::Empty) => Poll::Pending,
        }
    }

    fn poll_recv_locked(
        &self,
        waiter: &mut Option<u64>,
        kind: Kind,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        let mut st = self.state.lock();
        let mut wake = Wakeups::none();
        if let Some(value) = self.pop_locked(&mut st, &mut wake) {
            Self::unpark(&mut st, waiter, Side::Recv, kind);
            drop(st);
            wake.run();
            return Poll::Ready(Some(value));
        }
        if st.closed {
            Self::unpark(&mut st, waiter, Side::Recv, kind);
            return Poll::Ready(None);
        }
        if st.queue(Side::Recv, kind).park(waiter, cx.waker()) {
            // A newly parked receiver is room for one more value: on a
            // rendezvous channel that is what a parked sender waits for.
            st.notify(Side::Send, &mut wake);
            drop(st);
            wake.run();
        }
        Poll::Pending
    }

    /// Pops from a locked store, waking a parked sender for the freed room and
    /// firing the drained hooks when this was the last value of a closed channel.
    fn pop_locked(&self, st: &mut State<T>, wake: &mut Wakeups) -> Option<T> {
        let value = st.buf.pop_front()?;
        if st.buf.len() < self.capacity {
            st.notify(Side::Send, wake);
        }
        if st.closed && st.buf.is_empty() {
            Self::drain_locked(st, wake);
        }
        Some(value)
    }

    pub(crate) fn try_recv(&self) -> Result<T, bool> {
        if let Some(ring) = &self.ring {
            return match ring.pop() {
                Ok(value) => {
                    self.after_ring_pop(ring);
                    Ok(value)
                }
                Err(PopError::Empty) => Err(false),
                Err(PopError::Closed) => Err(true),
            };
        }
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
    pub(crate) fn cancel_recv(&self, waiter: &mut Option<u64>, kind: Kind) {
        let Some(id) = waiter.take() else { return };
        let mut st = self.state.lock();
        // A handle waiter's wake-up also went to every other waiter: nothing to pass on.
        if st.queue(Side::Recv, kind).remove(id) || kind == Kind::Handle {
            self.publish_parked(&st);
            return;
        }
        // We were notified of a value we will not take: pass it on.
        let has_value = match &self.ring {
            Some(ring) => !ring.is_empty(),
            None => !st.buf.is_empty(),
        };
        let mut wake = Wakeups::none();
        if has_value {
            st.notify(Side::Recv, &mut wake);
        }
        self.publish_parked(&st);
        drop(st);
        wake.run();
    }

    /// Removes a finished waiter from its queue, taking the lock only if it parked.
    fn leave(&self, waiter: &mut Option<u64>, side: Side, kind: Kind) {
        if waiter.is_some() {
            let mut st = self.state.lock();
            Self::unpark(&mut st, waiter, side, kind);
            self.publish_parked(&st);
        }
    }

    fn unpark(st: &mut MutexGuard<'_, State<T>>, waiter: &mut Option<u64>, side: Side, kind: Kind) {
        if let Some(id) = waiter.take() {
            st.queue(side, kind).remove(id);
        }
    }

    // ---- closing ---------------------------------------------------------

    /// Closes the channel (the first close wins and sets the error). Returns
    /// true if this call closed it. A hook's panic reaches the caller, after
    /// every hook ran (see [`run_hooks`]).
    pub(crate) fn close(&self, error: Option<Error>) -> bool {
        self.close_as(error, true)
    }

    /// Closes the channel; with `propagate` false (a dropped handle), a
    /// hook's panic is only logged.
    fn close_as(&self, error: Option<Error>, propagate: bool) -> bool {
        let mut guard = self.state.lock();
        if guard.closed {
            return false;
        }
        let st = &mut *guard;
        st.closed = true;
        st.error = error;
        if let Some(ring) = &self.ring {
            ring.close();
        }
        let mut wake = Wakeups::none();
        st.senders.drain_into(&mut wake.many);
        st.handle_senders.drain_into(&mut wake.many);
        st.receivers.drain_into(&mut wake.many);
        st.handle_receivers.drain_into(&mut wake.many);
        self.publish_parked(st);
        wake.many.extend(st.closed_wakers.drain());
        wake.hooks.append(&mut st.on_closed);
        st.closing = true;
        let empty = match &self.ring {
            Some(ring) => ring.is_empty(),
            None => st.buf.is_empty(),
        };
        if empty {
            Self::drain_locked(st, &mut wake);
        }
        drop(guard);
        // Ends the closing window even if a waker panics below.
        let window = ClosingWindow { shared: self };
        // Drained hooks collected above come after the closed ones in `hooks`.
        let panic = wake.run_catching(propagate);
        // Then the drained hooks that came due meanwhile (on another thread).
        let late = window.end();
        let late_panic = run_hooks(late, propagate && panic.is_none());
        if let Some(panic) = panic.or(late_panic) {
            std::panic::resume_unwind(panic);
        }
        true
    }

    /// Ends the closing window: returns the drained hooks that waited for it.
    fn end_closing(&self) -> Vec<Hook> {
        let mut st = self.state.lock();
        st.closing = false;
        std::mem::take(&mut st.drained_after_closing)
    }

    fn drain_locked(st: &mut State<T>, wake: &mut Wakeups) {
        st.drained = true;
        st.receivers.drain_into(&mut wake.many);
        st.handle_receivers.drain_into(&mut wake.many);
        wake.many.extend(st.drained_wakers.drain());
        if st.closing {
            // Another thread is still running the closed hooks; it runs these after.
            st.drained_after_closing.append(&mut st.on_drained);
        } else {
            wake.hooks.append(&mut st.on_drained);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match &self.ring {
            Some(ring) => ring.is_closed(),
            None => self.state.lock().closed,
        }
    }

    pub(crate) fn is_drained(&self) -> bool {
        match &self.ring {
            Some(ring) => ring.is_closed() && ring.is_empty(),
            None => self.state.lock().drained,
        }
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
        if !st.drained {
            st.on_drained.push(hook);
        } else if st.closing {
            // Drained, but the closed hooks still run: this one after them.
            st.drained_after_closing.push(hook);
        } else {
            drop(st);
            hook();
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
        if done {
            // The slab was emptied when the event fired, so the key is stale.
            *key = None;
            return Poll::Ready(());
        }
        let wakers = if drained {
            &mut st.drained_wakers
        } else {
            &mut st.closed_wakers
        };
        match key.and_then(|at| wakers.get_mut(at)) {
            Some(waker) => {
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
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
                wakers.try_remove(at);
            }
        }
    }

    // ---- description -----------------------------------------------------

    pub(crate) fn set_meta(&self, f: impl FnOnce(&mut Meta)) {
        f(&mut self.state.lock().meta);
    }

    pub(crate) fn describe(&self) -> Description {
        let st = self.state.lock();
        let (buffered, drained) = match &self.ring {
            Some(ring) => (ring.len(), ring.is_closed() && ring.is_empty()),
            None => (st.buf.len(), st.drained),
        };
        Description {
            kind: st.meta.kind,
            label: st.meta.label.clone(),
            capacity: self.capacity,
            buffered,
            pending_sends: st.senders.len() + st.handle_senders.len(),
            pending_recvs: st.receivers.len() + st.handle_receivers.len(),
            senders: self.send_handles.load(Ordering::Relaxed),
            receivers: self.recv_handles.load(Ordering::Relaxed),
            closed: st.closed,
            drained,
            error: st.error.as_ref().map(|e| e.to_string()),
            peer_addr: st.meta.peer_addr,
            local_addr: st.meta.local_addr,
            dropped: self.dropped.load(Ordering::Relaxed),
            sink: None,
        }
    }
}

/// The closing window of a `close`, ended by [`ClosingWindow::end`], or on
/// drop if the close unwinds before (a waker that panics): then the drained
/// hooks that waited for it run here, their panics logged.
struct ClosingWindow<'a, T> {
    shared: &'a Shared<T>,
}

impl<T> ClosingWindow<'_, T> {
    fn end(self) -> Vec<Hook> {
        let late = self.shared.end_closing();
        std::mem::forget(self);
        late
    }
}

impl<T> Drop for ClosingWindow<'_, T> {
    fn drop(&mut self) {
        run_hooks(self.shared.end_closing(), false);
    }
}

#[derive(Clone, Copy)]
enum Side {
    Send,
    Recv,
}

/// Who holds a waiter's place: a future (whose drop tells us it is gone) or a
/// handle polled as a `Stream` or `Sink` (which may stop polling silently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Future,
    Handle,
}

/// tokio's cooperative budget, spent one unit per [`Budget::EVERY`] channel
/// operations of a thread.
///
/// Spending a unit on every operation, as tokio's channels do, makes a busy
/// task yield every 128 operations, which halved throughput with several
/// producers (measured in the stream bench, 4to1/u64: about 22 M msg/s without
/// a budget, 12 with one unit per operation, 13-20 with one per 16, 22-25 with
/// one per 64). Fairness needs only that an always-ready loop yields after a
/// bounded number of operations: with one unit per 64 that is about 8 000
/// operations, a few hundred microseconds.
enum Budget {
    Spend(tokio::task::coop::RestoreOnPending),
    Skip,
}

impl Budget {
    const EVERY: u8 = 64;

    fn poll(cx: &mut Context<'_>) -> Poll<Budget> {
        thread_local! {
            static OPERATIONS: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
        }
        let due = OPERATIONS.with(|ops| {
            let n = ops.get().wrapping_add(1) % Self::EVERY;
            ops.set(n);
            n == 0
        });
        if !due {
            return Poll::Ready(Budget::Skip);
        }
        tokio::task::coop::poll_proceed(cx).map(Budget::Spend)
    }

    fn made_progress(&self) {
        if let Budget::Spend(restore) = self {
            restore.made_progress();
        }
    }
}
