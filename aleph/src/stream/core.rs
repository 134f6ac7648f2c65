//! The state machine behind every channel handle.
//!
//! One store: values wait in a `ConcurrentQueue`, and the channel's capacity
//! is a number of permits to put one there.
//!
//! - For 1 ≤ capacity ≤ [`RING_MAX`] the queue is a ring allocated up front;
//!   a ring refuses a push when full, so it counts the permits itself.
//! - Otherwise the queue is a list of blocks that grows as it fills, behind
//!   an explicit count of [`Permits`]: a send takes one, a receive gives one
//!   back. A rendezvous channel (capacity 0) starts with none; a receiver
//!   that waits grants one for as long as it waits, so a send completes only
//!   while a receiver waits for it. A receiver that takes a value while it
//!   holds a grant spends the grant instead of giving a permit back.
//!
//! Waiting is `event-listener`'s (see `wait`): a send that finds no permit
//! waits on `send`, a receive that finds no value on `recv`. The rules:
//!
//! - A value enters the queue only in the step in which its send completes,
//!   so a dropped send future never delivers (tokio's permit model), and it
//!   leaves only in the step in which a receive completes, so a dropped
//!   receive loses nothing.
//! - One value (or one freed permit) wakes one waiting *future*. A woken
//!   future dropped before it acts passes its wake-up on; one that acts
//!   spends it.
//! - A *handle* that waits through `Stream::poll_next` or `Sink::poll_ready`
//!   keeps its listener in the handle, and nothing tells us when the `next()`
//!   that polled it is abandoned. So handles wait on events of their own and
//!   every change wakes all of them (as async-channel treats its stream
//!   listeners): an abandoned one can never absorb a wake-up that a live
//!   waiter needs.
//! - The lock guards the close state, the error, the hooks and the metadata,
//!   never the values. Wakers and hooks run after it is released.
//!
//! The lock-free parts are checked with loom: `tests/loom_channel.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use concurrent_queue::{ConcurrentQueue, ForcePushError, PopError, PushError};
use event_listener::{Event, EventListener};

use super::wait::sync::atomic::{fence, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use super::wait::sync::Mutex;
use super::wait::{poll_once_event, run_hooks, Hook, Step, Waiters};
use crate::stream::Description;
use crate::Error;

pub(crate) use super::wait::Waiter;

/// The largest capacity kept in a ring allocated whole up front; a larger
/// channel's queue grows as it fills, up to its capacity.
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
    /// What the protocol behind the channel keeps with it (a UDP socket, so
    /// that calls on the duplex can reach it).
    pub(crate) attachment: Option<Arc<dyn std::any::Any + Send + Sync>>,
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

/// Permits to put a value in a queue that does not count them itself. May
/// go below zero: a receiver that stops waiting takes back its grant even if
/// a send already used it, and the value that send left is then owed.
struct Permits(AtomicIsize);

impl Permits {
    fn acquire(&self) -> bool {
        let mut n = self.0.load(Ordering::Relaxed);
        while n > 0 {
            match self
                .0
                .compare_exchange_weak(n, n - 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
        false
    }

    fn release(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    fn revoke(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The state the lock guards.
struct State {
    closed: bool,
    /// Closed and empty, with the drained hooks taken to run.
    drained: bool,
    error: Option<Error>,
    on_closed: Vec<Hook>,
    on_drained: Vec<Hook>,
    /// The closed hooks were taken and have not all run yet: drained hooks
    /// due meanwhile wait here, so they never run before the closed ones.
    closing: bool,
    drained_after_closing: Vec<Hook>,
    meta: Meta,
}

/// The shared part of a channel: its queue, its waiters, its state and the
/// handle counts.
pub(crate) struct Shared<T> {
    queue: ConcurrentQueue<T>,
    /// For a queue that does not count its own room (see the module docs).
    permits: Option<Permits>,
    capacity: usize,
    overflow: Overflow,
    /// Send futures waiting for a permit.
    send: Waiters,
    /// Sinks waiting for a permit (handle waiters: all woken at each change).
    send_handles: Waiters,
    /// Receive futures waiting for a value.
    recv: Waiters,
    /// Stream handles waiting for a value (handle waiters: all woken).
    recv_handles: Waiters,
    closed_event: Event,
    drained_event: Event,
    state: Mutex<State>,
    /// Values dropped by the overflow policy.
    dropped: AtomicU64,
    /// Handles that can send: `Channel` clones, `Sender`s, sinks.
    send_handles_alive: AtomicUsize,
    /// Handles that can receive: `Channel` clones and `Receiver`s.
    recv_handles_alive: AtomicUsize,
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
        let (queue, permits) = if (1..=RING_MAX).contains(&capacity) {
            (ConcurrentQueue::bounded(capacity), None)
        } else {
            let start = isize::try_from(capacity).unwrap_or(isize::MAX);
            (
                ConcurrentQueue::unbounded(),
                Some(Permits(AtomicIsize::new(start))),
            )
        };
        Shared {
            queue,
            permits,
            capacity,
            overflow,
            send: Waiters::new(false),
            send_handles: Waiters::new(true),
            recv: Waiters::new(false),
            recv_handles: Waiters::new(true),
            closed_event: Event::new(),
            drained_event: Event::new(),
            state: Mutex::new(State {
                closed: false,
                drained: false,
                error: None,
                on_closed: Vec::new(),
                on_drained: Vec::new(),
                closing: false,
                drained_after_closing: Vec::new(),
                meta,
            }),
            dropped: AtomicU64::new(0),
            send_handles_alive: AtomicUsize::new(1),
            recv_handles_alive: AtomicUsize::new(1),
        }
    }

    fn waiters(&self, side: Side, kind: Kind) -> &Waiters {
        match (side, kind) {
            (Side::Send, Kind::Future) => &self.send,
            (Side::Send, Kind::Handle) => &self.send_handles,
            (Side::Recv, Kind::Future) => &self.recv,
            (Side::Recv, Kind::Handle) => &self.recv_handles,
        }
    }

    // ---- handle counting -------------------------------------------------

    pub(crate) fn add_sender(&self) {
        self.send_handles_alive.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_receiver(&self) {
        self.recv_handles_alive.fetch_add(1, Ordering::Relaxed);
    }

    /// The last handle that can send closes the channel: its receivers drain
    /// what is buffered and then see the end.
    pub(crate) fn drop_sender(&self) {
        if self.send_handles_alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close_as(None, false);
        }
    }

    /// The last handle that can receive closes the channel and drops what is
    /// buffered: nobody can take it any more, and senders get their values back.
    pub(crate) fn drop_receiver(&self) {
        if self.recv_handles_alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close_as(None, false);
            let mut dropped = Vec::new();
            while let Ok(value) = self.queue.pop() {
                dropped.push(value);
            }
            self.fire_drained();
            drop(dropped);
        }
    }

    // ---- the queue -------------------------------------------------------

    /// Puts `value` in the queue if a permit is free, and wakes a receiver.
    fn push(&self, value: T) -> Result<(), PushError<T>> {
        if let Some(permits) = &self.permits {
            if self.queue.is_closed() {
                return Err(PushError::Closed(value));
            }
            if !permits.acquire() {
                return Err(PushError::Full(value));
            }
            if let Err(refused) = self.queue.push(value) {
                permits.release();
                return Err(refused);
            }
        } else {
            self.queue.push(value)?;
        }
        self.wake_receivers();
        Ok(())
    }

    fn wake_receivers(&self) {
        fence(Ordering::SeqCst);
        self.recv.notify();
        self.recv_handles.notify();
    }

    fn wake_senders(&self) {
        fence(Ordering::SeqCst);
        self.send.notify();
        self.send_handles.notify();
    }

    /// Takes a value, waking a sender for the permit it frees (a waiter that
    /// holds a grant spends it instead) and firing the drained hooks if it
    /// was the last value of a closed channel.
    fn pop(&self, waiter: Option<&mut Waiter>) -> Result<T, PopError> {
        let value = self.queue.pop()?;
        let freed = match (&self.permits, waiter) {
            (Some(_), Some(w)) if w.granted => {
                w.granted = false;
                false
            }
            (Some(permits), _) => {
                permits.release();
                true
            }
            (None, _) => true,
        };
        if freed {
            self.wake_senders();
        }
        if self.queue.is_closed() && self.queue.is_empty() {
            self.fire_drained();
        }
        Ok(value)
    }

    // ---- sending ---------------------------------------------------------

    /// Sends `slot`'s value if there is room, or waits as `waiter`.
    /// The value is taken out of `slot` only on `Ready(Ok)`; `Ready(Err)` hands it back.
    pub(crate) fn poll_send(
        &self,
        slot: &mut Option<T>,
        waiter: &mut Option<Waiter>,
        kind: Kind,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), T>> {
        let Some(mut value) = slot.take() else {
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
        let waiters = self.waiters(Side::Send, kind);
        loop {
            let sent = match self.push(value) {
                Ok(()) => Ok(()),
                Err(PushError::Closed(value)) => Err(value),
                Err(PushError::Full(full)) => {
                    value = full;
                    if let Step::Pending = waiters.wait(waiter, cx) {
                        *slot = Some(value);
                        return Poll::Pending;
                    }
                    continue;
                }
            };
            waiters.done(waiter);
            coop.made_progress();
            return Poll::Ready(sent);
        }
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), (T, bool)> {
        if self.overflow != Overflow::Wait {
            return self.push_overflowing(value).map_err(|value| (value, true));
        }
        self.push(value).map_err(|refused| match refused {
            PushError::Full(value) => (value, false),
            PushError::Closed(value) => (value, true),
        })
    }

    /// Sends without waiting, dropping the oldest or the new value when full
    /// (and counting it). `Err` hands the value back once closed.
    fn push_overflowing(&self, mut value: T) -> Result<(), T> {
        let mut dropped = Vec::new();
        if self.overflow == Overflow::DropOldest && self.permits.is_none() {
            match self.queue.force_push(value) {
                Ok(displaced) => dropped.extend(displaced),
                Err(ForcePushError(value)) => return Err(value),
            }
            self.wake_receivers();
        } else {
            loop {
                match self.push(value) {
                    Ok(()) => break,
                    Err(PushError::Closed(value)) => return Err(value),
                    Err(PushError::Full(full)) if self.overflow == Overflow::DropNewest => {
                        dropped.push(full);
                        break;
                    }
                    Err(PushError::Full(full)) => {
                        // Make room by taking the oldest value ourselves.
                        value = full;
                        match self.pop(None) {
                            Ok(oldest) => dropped.push(oldest),
                            Err(_) => std::hint::spin_loop(),
                        }
                    }
                }
            }
        }
        self.dropped
            .fetch_add(dropped.len() as u64, Ordering::Relaxed);
        // Dropped last: its `Drop` is user code.
        drop(dropped);
        Ok(())
    }

    /// A send future or sink that waited is going away.
    pub(crate) fn cancel_send(&self, waiter: &mut Option<Waiter>, kind: Kind) {
        self.waiters(Side::Send, kind).cancel(waiter);
    }

    // ---- receiving -------------------------------------------------------

    /// Takes a value, or `None` once closed and drained, or waits as `waiter`.
    pub(crate) fn poll_recv(
        &self,
        waiter: &mut Option<Waiter>,
        kind: Kind,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        // Cooperative budget, as for sends.
        let coop = std::task::ready!(Budget::poll(cx));
        let waiters = self.waiters(Side::Recv, kind);
        loop {
            let received = match self.pop(waiter.as_mut()) {
                Ok(value) => Some(value),
                Err(PopError::Closed) => None,
                Err(PopError::Empty) => {
                    if let Some(w) = waiter.as_mut().filter(|w| self.grants() && !w.granted) {
                        // Listening, and the queue still empty: grant a
                        // permit, and wait for the value it lets in.
                        self.grant(w);
                        waiters.park(w, cx);
                        return Poll::Pending;
                    }
                    if let Step::Pending = waiters.wait(waiter, cx) {
                        return Poll::Pending;
                    }
                    continue;
                }
            };
            if let Some(left) = waiters.done(waiter) {
                self.revoke(&left);
            }
            if received.is_none() {
                self.note_end();
            }
            coop.made_progress();
            return Poll::Ready(received);
        }
    }

    /// Whether a waiting receiver grants a permit: on a rendezvous channel.
    fn grants(&self) -> bool {
        self.capacity == 0
    }

    /// A receiver waits on a rendezvous channel: it grants senders one
    /// permit, and wakes one.
    fn grant(&self, waiter: &mut Waiter) {
        if let Some(permits) = &self.permits {
            permits.release();
            waiter.granted = true;
            self.wake_senders();
        }
    }

    /// A receiver stops waiting without having spent its grant.
    fn revoke(&self, waiter: &Waiter) {
        if let (true, Some(permits)) = (waiter.granted, &self.permits) {
            permits.revoke();
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, bool> {
        self.pop(None).map_err(|e| e == PopError::Closed)
    }

    /// A receive future or stream handle that waited is going away.
    pub(crate) fn cancel_recv(&self, waiter: &mut Option<Waiter>, kind: Kind) {
        if let Some(left) = self.waiters(Side::Recv, kind).cancel(waiter) {
            self.revoke(&left);
        }
    }

    /// Reports the error a channel closed with to the task reading its end.
    fn note_end(&self) {
        let error = self.state.lock().error.clone();
        if let Some(error) = error {
            super::note_end_error(&error);
        }
    }

    // ---- closing ---------------------------------------------------------

    /// Closes the channel (the first close wins and sets the error). Returns
    /// true if this call closed it. A hook's panic reaches the caller, after
    /// every hook ran.
    pub(crate) fn close(&self, error: Option<Error>) -> bool {
        self.close_as(error, true)
    }

    /// Closes the channel; with `propagate` false (a dropped handle) a hook's
    /// panic is only logged.
    fn close_as(&self, error: Option<Error>, propagate: bool) -> bool {
        let mut guard = self.state.lock();
        if guard.closed {
            return false;
        }
        let st = &mut *guard;
        st.closed = true;
        st.error = error;
        self.queue.close();
        let closed_hooks = std::mem::take(&mut st.on_closed);
        st.closing = true;
        let drained_now = self.queue.is_empty();
        let drained_hooks = if drained_now {
            Self::drain_locked(st)
        } else {
            Vec::new()
        };
        drop(guard);
        for waiters in [
            &self.send,
            &self.send_handles,
            &self.recv,
            &self.recv_handles,
        ] {
            waiters.notify_every();
        }
        self.closed_event.notify(usize::MAX);
        if drained_now {
            self.drained_event.notify(usize::MAX);
        }
        // Ends the closing window even if a hook panics, and runs the drained
        // hooks after the closed ones.
        let finish = FinishClosing {
            shared: self,
            drained_hooks,
            propagate,
        };
        let panic = run_hooks(closed_hooks, propagate);
        drop(finish);
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
        true
    }

    /// Marks the channel drained and takes the drained hooks to run, unless
    /// the closed hooks are still running (then they run after those).
    fn drain_locked(st: &mut State) -> Vec<Hook> {
        st.drained = true;
        if st.closing {
            st.drained_after_closing.append(&mut st.on_drained);
            Vec::new()
        } else {
            std::mem::take(&mut st.on_drained)
        }
    }

    /// The last value of a closed channel was taken: drained.
    fn fire_drained(&self) {
        let mut st = self.state.lock();
        if st.drained {
            return;
        }
        let hooks = Self::drain_locked(&mut st);
        drop(st);
        self.drained_event.notify(usize::MAX);
        // Fired by a receive or a dropped handle: never lose the value taken
        // or unwind a drop for a hook's panic.
        run_hooks(hooks, false);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    pub(crate) fn is_drained(&self) -> bool {
        self.queue.is_closed() && self.queue.is_empty()
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
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let event = if drained {
            &self.drained_event
        } else {
            &self.closed_event
        };
        poll_once_event(event, listener, cx, || {
            let st = self.state.lock();
            if drained {
                st.drained
            } else {
                st.closed
            }
        })
    }

    // ---- description -----------------------------------------------------

    pub(crate) fn attachment(&self) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        self.state.lock().meta.attachment.clone()
    }

    pub(crate) fn set_meta(&self, f: impl FnOnce(&mut Meta)) {
        f(&mut self.state.lock().meta);
    }

    pub(crate) fn describe(&self) -> Description {
        let st = self.state.lock();
        Description {
            kind: st.meta.kind,
            label: st.meta.label.clone(),
            capacity: self.capacity,
            buffered: self.queue.len(),
            pending_sends: self.send.len() + self.send_handles.len(),
            pending_recvs: self.recv.len() + self.recv_handles.len(),
            senders: self.send_handles_alive.load(Ordering::Relaxed),
            receivers: self.recv_handles_alive.load(Ordering::Relaxed),
            closed: st.closed,
            drained: self.is_drained(),
            error: st.error.as_ref().map(|e| e.to_string()),
            peer_addr: st.meta.peer_addr,
            local_addr: st.meta.local_addr,
            dropped: self.dropped.load(Ordering::Relaxed),
            sink: None,
        }
    }
}

/// Ends the closing window once the closed hooks ran (even if one panicked),
/// and runs the drained hooks that came due meanwhile.
struct FinishClosing<'a, T> {
    shared: &'a Shared<T>,
    /// Drained hooks the close itself took.
    drained_hooks: Vec<Hook>,
    propagate: bool,
}

impl<T> Drop for FinishClosing<'_, T> {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        st.closing = false;
        let mut hooks = std::mem::take(&mut self.drained_hooks);
        hooks.append(&mut st.drained_after_closing);
        drop(st);
        // Resumed only if no closed hook panicked (then that panic unwinds).
        if let Some(panic) = run_hooks(hooks, self.propagate) {
            std::panic::resume_unwind(panic);
        }
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
