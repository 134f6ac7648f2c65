//! The client's connection pool: per-host and total limits, a bounded FIFO
//! queue of requests waiting for a slot, idle expiry, eviction of hosts no
//! longer used, and statistics.
//!
//! hyper's client connections (`hyper::client::conn::{http1, http2}`) do the
//! protocol; this module only decides who may use which connection when. An
//! HTTP/1 connection serves one request at a time and goes back to the idle
//! list when its response body has been read to the end; an HTTP/2
//! connection is shared by every request to its host, each on its own
//! stream.
//!
//! hyper-util's `client-pool` services (`cache`, `singleton`, `negotiate`,
//! `map`) were read and not used: its cache opens a connection in the
//! background for every waiter it cannot serve (no per-host or total cap, so
//! no queue to bound), keeps no statistics and never expires idle entries,
//! and its singleton would need the same limits around it. What is left of
//! them once those are added is a list of idle senders and a clone of an
//! HTTP/2 sender, which this module keeps itself; hyper-util provides the
//! tokio glue (`TokioIo`, `TokioExecutor`, `TokioTimer`).
//!
//! Every checked-out slot is an RAII value ([`Permit`] while a connection is
//! being made, [`Checkout`] while one is used): dropping it at any point
//! (the request's future dropped, a panic, an error) gives the slot back and
//! hands it to the first request waiting for one.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hyper::client::conn::{http1, http2};
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::http::Body;
use crate::{Error, ErrorKind, Result};

/// The pool's limits, from the client's options.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) per_host: usize,
    pub(crate) total: usize,
    pub(crate) max_queue: usize,
    pub(crate) idle_timeout: Option<Duration>,
}

/// Where connections go: scheme, host and port (or the Unix socket).
pub(crate) type Key = Arc<str>;

/// A connection's sending half.
pub(crate) enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sender::Http1(_) => f.write_str("Sender(HTTP/1.1)"),
            Sender::Http2(_) => f.write_str("Sender(HTTP/2)"),
        }
    }
}

/// Per-host statistics, one entry of [`PoolStats`].
///
/// # Examples
///
/// ```
/// let client = aleph::http::Client::default();
/// for host in client.stats().hosts {
///     println!("{}: {} live, {} idle, {} in use, {} queued",
///         host.key, host.live, host.idle, host.in_use, host.queued);
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// The host: `"http://127.0.0.1:8080"`, `"https://example.com:443"`, or
    /// `"unix:/path/to.sock"`.
    pub key: String,
    /// Connections open or being opened.
    pub live: usize,
    /// Open connections no request uses (an HTTP/2 connection with no
    /// stream open counts as idle).
    pub idle: usize,
    /// Requests holding a connection or a connection being opened for
    /// them (on HTTP/2, several requests share one connection).
    pub in_use: usize,
    /// Requests waiting for a connection to become free.
    pub queued: usize,
}

/// The pool's statistics, from [`Client::stats`](super::Client::stats).
///
/// A host with nothing open and nothing waiting is not listed: its entry
/// was evicted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// One entry per host, sorted by key.
    pub hosts: Vec<HostStats>,
}

impl PoolStats {
    /// The sum over all hosts, its key empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = aleph::http::Client::default();
    /// assert_eq!(client.stats().total().in_use, 0);
    /// ```
    pub fn total(&self) -> HostStats {
        let mut sum = HostStats::default();
        for host in &self.hosts {
            sum.live += host.live;
            sum.idle += host.idle;
            sum.in_use += host.in_use;
            sum.queued += host.queued;
        }
        sum
    }
}

/// A cheap handle on one pool.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    limits: Limits,
    next_id: AtomicU64,
}

#[derive(Default)]
struct State {
    hosts: HashMap<Key, Host>,
    /// Connections open or being opened, over all hosts.
    live: usize,
    /// Requests waiting, over all hosts.
    queued: usize,
    /// The task that expires idle connections, while there are any.
    reaper: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
struct Host {
    /// Idle HTTP/1 connections, the most recently used last.
    idle: VecDeque<Idle>,
    /// The host's shared HTTP/2 connection.
    h2: Option<Shared2>,
    live: usize,
    in_use: usize,
    waiters: VecDeque<Waiter>,
    /// Connections being opened.
    connecting: usize,
    /// The host speaks HTTP/2 (h2c by prior knowledge, or its last
    /// connection chose `h2` by ALPN): while a connection to it is being
    /// opened, other requests wait to share it rather than open their own.
    speaks_h2: bool,
}

struct Idle {
    id: u64,
    sender: http1::SendRequest<Body>,
    since: Instant,
}

struct Shared2 {
    id: u64,
    sender: http2::SendRequest<Body>,
    streams: usize,
    since: Instant,
}

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Grant>,
}

/// What a request is given: a connection, or the right to open one.
pub(crate) enum Grant {
    Connection(Checkout),
    Connect(Permit),
}

/// The outcome of asking the pool for a slot.
pub(crate) enum Acquire {
    Ready(Grant),
    Wait(Waiting),
}

/// A request waiting in a host's queue; dropping it leaves the queue.
pub(crate) struct Waiting {
    rx: oneshot::Receiver<Grant>,
    pool: Pool,
    key: Key,
    id: u64,
}

impl Waiting {
    /// Waits for a grant.
    pub(crate) async fn granted(mut self) -> Result<Grant> {
        (&mut self.rx)
            .await
            .map_err(|_| Error::new(ErrorKind::Closed, "the connection pool was dropped"))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut state = self.pool.shared.state.lock();
        let state = &mut *state;
        if let Some(host) = state.hosts.get_mut(&self.key) {
            let before = host.waiters.len();
            host.waiters.retain(|w| w.id != self.id);
            if host.waiters.len() < before {
                state.queued -= 1;
            }
        }
        evict_if_unused(state, &self.key);
    }
}

/// The right to open one connection to a host, its slot already counted.
pub(crate) struct Permit {
    pool: Pool,
    key: Key,
    used: bool,
}

/// A connection lent to one request.
pub(crate) struct Checkout {
    pool: Pool,
    key: Key,
    id: u64,
    sender: Option<Sender>,
    reused: bool,
    /// Set once the response has been read to its end and the connection
    /// can serve another request.
    reusable: bool,
    /// The host's shared HTTP/2 connection: its slot belongs to the host's
    /// entry, not to this request.
    shared: bool,
}

impl Checkout {
    pub(crate) fn sender(&mut self) -> &mut Sender {
        self.sender
            .as_mut()
            .expect("a checkout holds its sender until dropped")
    }

    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    pub(crate) fn is_http2(&self) -> bool {
        matches!(self.sender, Some(Sender::Http2(_)))
    }

    /// Marks the connection as able to serve another request once this one
    /// lets go of it.
    pub(crate) fn set_reusable(&mut self, reusable: bool) {
        self.reusable = reusable;
    }

    /// Marks the connection as broken: it is closed on release, and never
    /// handed out again (an HTTP/2 connection stops being shared at once;
    /// the requests still on it finish there).
    ///
    /// A request's failure on an HTTP/2 connection breaks the connection
    /// only when the connection itself is closed: a stream's error (a
    /// reset, a timeout) leaves the other streams and later requests on it.
    pub(crate) fn set_broken(&mut self) {
        self.reusable = false;
        if let Some(Sender::Http2(sender)) = &self.sender {
            if !sender.is_closed() {
                return;
            }
        }
        if !self.shared {
            return;
        }
        let mut undelivered = Vec::new();
        let mut taken = None;
        {
            let mut state = self.pool.shared.state.lock();
            let state = &mut *state;
            if let Some(host) = state.hosts.get_mut(&self.key) {
                if host.h2.as_ref().is_some_and(|h2| h2.id == self.id) {
                    taken = host.h2.take();
                    host.live -= 1;
                    state.live -= 1;
                    self.pool.slot_freed(state, &self.key, &mut undelivered);
                }
            }
        }
        drop(taken);
        drop(undelivered);
    }
}

impl Pool {
    pub(crate) fn new(limits: Limits) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                limits,
                next_id: AtomicU64::new(1),
            }),
        }
    }

    fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Gives a request a connection, the right to open one, or a place in
    /// the host's queue.
    ///
    /// # Errors
    ///
    /// [`PoolFull`](ErrorKind::PoolFull) when as many requests wait as
    /// `max_queue_size` allows.
    pub(crate) fn acquire(&self, key: &str, expect_h2: bool) -> Result<Acquire> {
        let limits = self.shared.limits;
        let mut discarded = Vec::new();
        let mut guard = self.shared.state.lock();
        let state = &mut *guard;
        // One shared copy of each host's key, made when the host is first
        // seen.
        let key: Key = match state.hosts.get_key_value(key) {
            Some((known, _)) => known.clone(),
            None => Arc::from(key),
        };
        let key = &key;
        if state.reaper.as_ref().is_none_or(|task| task.is_finished()) {
            state.reaper = self.start_reaper();
        }
        let host = state.hosts.entry(key.clone()).or_default();
        if let Some(h2) = &mut host.h2 {
            if h2.sender.is_closed() {
                let dead = host.h2.take();
                host.live -= 1;
                state.live -= 1;
                discarded.push(dead);
            } else {
                h2.streams += 1;
                host.in_use += 1;
                let checkout = Checkout {
                    pool: self.clone(),
                    key: key.clone(),
                    id: h2.id,
                    sender: Some(Sender::Http2(h2.sender.clone())),
                    reused: true,
                    reusable: true,
                    shared: true,
                };
                drop(guard);
                return Ok(Acquire::Ready(Grant::Connection(checkout)));
            }
        }
        let now = Instant::now();
        while let Some(idle) = host.idle.pop_back() {
            let expired = limits
                .idle_timeout
                .is_some_and(|limit| now.saturating_duration_since(idle.since) >= limit);
            if expired || idle.sender.is_closed() {
                host.live -= 1;
                state.live -= 1;
                discarded.push(None);
                drop(idle);
                continue;
            }
            host.in_use += 1;
            let checkout = Checkout {
                pool: self.clone(),
                key: key.clone(),
                id: idle.id,
                sender: Some(Sender::Http1(idle.sender)),
                reused: true,
                reusable: false,
                shared: false,
            };
            drop(guard);
            return Ok(Acquire::Ready(Grant::Connection(checkout)));
        }
        host.speaks_h2 |= expect_h2;
        let share = host.speaks_h2 && host.connecting > 0;
        if !share && host.live < limits.per_host && state.live >= limits.total {
            close_oldest_idle(state);
        }
        let host = state.hosts.entry(key.clone()).or_default();
        if !share && host.live < limits.per_host && state.live < limits.total {
            host.live += 1;
            host.in_use += 1;
            host.connecting += 1;
            state.live += 1;
            drop(guard);
            return Ok(Acquire::Ready(Grant::Connect(Permit {
                pool: self.clone(),
                key: key.clone(),
                used: false,
            })));
        }
        if state.queued >= limits.max_queue {
            let err = Error::new(
                ErrorKind::PoolFull,
                format!(
                    "connection pool queue full ({} requests waiting) for {key}",
                    state.queued
                ),
            );
            evict_if_unused(state, key);
            return Err(err);
        }
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        host.waiters.push_back(Waiter { id, tx });
        state.queued += 1;
        drop(guard);
        Ok(Acquire::Wait(Waiting {
            rx,
            pool: self.clone(),
            key: key.clone(),
            id,
        }))
    }

    /// The pool's statistics now.
    pub(crate) fn stats(&self) -> PoolStats {
        let mut undelivered = Vec::new();
        let stats = self.stats_locked(&mut undelivered);
        // Grants no waiter took release themselves, which takes the lock.
        drop(undelivered);
        stats
    }

    fn stats_locked(&self, undelivered: &mut Vec<Grant>) -> PoolStats {
        let mut state = self.shared.state.lock();
        let state = &mut *state;
        // Idle connections the server closed are no longer counted.
        let keys: Vec<Key> = state.hosts.keys().cloned().collect();
        for key in keys {
            let Some(host) = state.hosts.get_mut(&key) else {
                continue;
            };
            let before = host.idle.len();
            host.idle.retain(|idle| !idle.sender.is_closed());
            let mut closed = before - host.idle.len();
            if host.h2.as_ref().is_some_and(|h2| h2.sender.is_closed()) {
                host.h2 = None;
                closed += 1;
            }
            if closed > 0 {
                host.live -= closed;
                state.live -= closed;
                self.slot_freed(state, &key, undelivered);
            }
        }
        let mut hosts: Vec<HostStats> = state
            .hosts
            .iter()
            .map(|(key, host)| HostStats {
                key: key.to_string(),
                live: host.live,
                idle: host.idle.len() + host.h2.as_ref().map_or(0, |h2| (h2.streams == 0) as usize),
                in_use: host.in_use,
                queued: host.waiters.len(),
            })
            .collect();
        hosts.sort_by(|a, b| a.key.cmp(&b.key));
        PoolStats { hosts }
    }

    /// Starts the task that closes expired idle connections and evicts
    /// unused hosts; it ends when the pool is dropped or empty. `None` when
    /// there is no idle timeout or no runtime to run it on (checkouts still
    /// expire the idle connections they meet).
    fn start_reaper(&self) -> Option<tokio::task::JoinHandle<()>> {
        let idle_timeout = self.shared.limits.idle_timeout?;
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let period = (idle_timeout / 2).max(Duration::from_millis(100));
        let task = runtime.spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                let mut expired = Vec::new();
                let mut undelivered = Vec::new();
                let pool = Pool {
                    shared: shared.clone(),
                };
                let mut guard = shared.state.lock();
                let state = &mut *guard;
                let now = Instant::now();
                let keys: Vec<Key> = state.hosts.keys().cloned().collect();
                for key in keys {
                    let Some(host) = state.hosts.get_mut(&key) else {
                        continue;
                    };
                    let before = host.idle.len();
                    host.idle.retain(|idle| {
                        now.saturating_duration_since(idle.since) < idle_timeout
                            && !idle.sender.is_closed()
                    });
                    let mut closed = before - host.idle.len();
                    if host.h2.as_ref().is_some_and(|h2| {
                        h2.sender.is_closed()
                            || (h2.streams == 0
                                && now.saturating_duration_since(h2.since) >= idle_timeout)
                    }) {
                        expired.push(host.h2.take());
                        closed += 1;
                    }
                    host.live -= closed;
                    state.live -= closed;
                    if closed > 0 {
                        // Requests waiting (here, or at another host for the
                        // total limit) get the slots.
                        pool.slot_freed(state, &key, &mut undelivered);
                    } else {
                        evict_if_unused(state, &key);
                    }
                }
                let done = state.hosts.is_empty();
                if done {
                    state.reaper = None;
                }
                drop(guard);
                drop(expired);
                drop(undelivered);
                if done {
                    return;
                }
            }
        });
        Some(task)
    }

    /// Gives a freed slot (a connection closed) to a request waiting for
    /// one: first at `key`, then at any host the total limit held back.
    fn slot_freed(&self, state: &mut State, key: &Key, undelivered: &mut Vec<Grant>) {
        let limits = self.shared.limits;
        let mut keys = vec![key.clone()];
        if state.queued > 0 {
            keys.extend(
                state
                    .hosts
                    .iter()
                    .filter(|(k, h)| *k != key && !h.waiters.is_empty())
                    .map(|(k, _)| k.clone()),
            );
        }
        for key in keys {
            while let Some(host) = state.hosts.get_mut(&key) {
                if host.live >= limits.per_host || state.live >= limits.total {
                    break;
                }
                if host.speaks_h2 && host.connecting > 0 {
                    // The connection being opened will carry them all.
                    break;
                }
                let Some(waiter) = host.waiters.pop_front() else {
                    break;
                };
                state.queued -= 1;
                host.live += 1;
                host.in_use += 1;
                host.connecting += 1;
                state.live += 1;
                let permit = Permit {
                    pool: self.clone(),
                    key: key.clone(),
                    used: false,
                };
                if let Err(grant) = waiter.tx.send(Grant::Connect(permit)) {
                    undelivered.push(grant);
                }
            }
            evict_if_unused(state, &key);
        }
    }

    /// Hands an HTTP/1 connection to the host's first waiter, or to the
    /// idle list.
    fn give_back(
        &self,
        state: &mut State,
        key: &Key,
        id: u64,
        sender: http1::SendRequest<Body>,
        undelivered: &mut Vec<Grant>,
    ) {
        let Some(host) = state.hosts.get_mut(key) else {
            return;
        };
        if let Some(waiter) = host.waiters.pop_front() {
            state.queued -= 1;
            host.in_use += 1;
            let checkout = Checkout {
                pool: self.clone(),
                key: key.clone(),
                id,
                sender: Some(Sender::Http1(sender)),
                reused: true,
                reusable: false,
                shared: false,
            };
            if let Err(grant) = waiter.tx.send(Grant::Connection(checkout)) {
                undelivered.push(grant);
            }
            return;
        }
        if starved_elsewhere(state, key, self.shared.limits) {
            // Another host waits for the total limit: this connection
            // closes to make room rather than sit idle.
            if let Some(host) = state.hosts.get_mut(key) {
                host.live -= 1;
            }
            state.live -= 1;
            drop(sender);
            self.slot_freed(state, key, undelivered);
            return;
        }
        let Some(host) = state.hosts.get_mut(key) else {
            return;
        };
        host.idle.push_back(Idle {
            id,
            sender,
            since: Instant::now(),
        });
    }
}

/// Whether a host other than `key` has a request waiting that only the
/// total limit holds back (its own per-host limit would let it connect).
fn starved_elsewhere(state: &State, key: &Key, limits: Limits) -> bool {
    state.queued > 0
        && state.live >= limits.total
        && state
            .hosts
            .iter()
            .any(|(k, h)| k != key && !h.waiters.is_empty() && h.live < limits.per_host)
}

/// Closes the least recently used idle connection of any host, to make
/// room under the total limit.
fn close_oldest_idle(state: &mut State) {
    // An HTTP/2 connection with no stream open is idle too.
    let oldest = state
        .hosts
        .iter()
        .flat_map(|(key, host)| {
            let http1 = host.idle.front().map(|idle| (idle.since, false, key));
            let http2 = host
                .h2
                .as_ref()
                .filter(|h2| h2.streams == 0)
                .map(|h2| (h2.since, true, key));
            http1.into_iter().chain(http2)
        })
        .min_by_key(|(since, _, _)| *since)
        .map(|(_, http2, key)| (http2, key.clone()));
    if let Some((http2, key)) = oldest {
        if let Some(host) = state.hosts.get_mut(&key) {
            if http2 {
                host.h2 = None;
            } else {
                host.idle.pop_front();
            }
            host.live -= 1;
            state.live -= 1;
            evict_if_unused(state, &key);
        }
    }
}

/// Drops a host's entry once it has nothing open and no one waiting, so
/// that memory does not grow with every host ever seen.
fn evict_if_unused(state: &mut State, key: &Key) {
    if state
        .hosts
        .get(key)
        .is_some_and(|host| host.live == 0 && host.in_use == 0 && host.waiters.is_empty())
    {
        state.hosts.remove(key);
    }
}

impl Permit {
    /// Turns the slot into a checkout of the connection just opened; an
    /// HTTP/2 connection becomes the host's shared one (when it has none)
    /// and is handed to every request waiting for the host.
    pub(crate) fn connected(mut self, sender: Sender) -> Checkout {
        self.used = true;
        let pool = self.pool.clone();
        let key = self.key.clone();
        let id = pool.next_id();
        let mut undelivered = Vec::new();
        let mut shared = false;
        {
            let mut state = pool.shared.state.lock();
            let state = &mut *state;
            if let Some(host) = state.hosts.get_mut(&key) {
                host.connecting -= 1;
                host.speaks_h2 = matches!(sender, Sender::Http2(_));
                if !host.speaks_h2 && !host.waiters.is_empty() {
                    // They waited to share an HTTP/2 connection that came up
                    // HTTP/1.1: they open their own, up to the limits.
                    pool.slot_freed(state, &key, &mut undelivered);
                }
            }
        }
        if let Sender::Http2(h2) = &sender {
            let mut state = pool.shared.state.lock();
            let state = &mut *state;
            if let Some(host) = state.hosts.get_mut(&key) {
                if host.h2.is_none() {
                    shared = true;
                    let mut streams = 1;
                    while let Some(waiter) = host.waiters.pop_front() {
                        state.queued -= 1;
                        host.in_use += 1;
                        streams += 1;
                        let checkout = Checkout {
                            pool: pool.clone(),
                            key: key.clone(),
                            id,
                            sender: Some(Sender::Http2(h2.clone())),
                            reused: true,
                            reusable: true,
                            shared: true,
                        };
                        if let Err(grant) = waiter.tx.send(Grant::Connection(checkout)) {
                            undelivered.push(grant);
                        }
                    }
                    host.h2 = Some(Shared2 {
                        id,
                        sender: h2.clone(),
                        streams,
                        since: Instant::now(),
                    });
                }
            }
        }
        drop(undelivered);
        let reusable = matches!(sender, Sender::Http2(_));
        Checkout {
            pool,
            key,
            id,
            sender: Some(sender),
            reused: false,
            reusable,
            shared,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.used {
            return;
        }
        let mut undelivered = Vec::new();
        {
            let mut state = self.pool.shared.state.lock();
            let state = &mut *state;
            if let Some(host) = state.hosts.get_mut(&self.key) {
                host.live -= 1;
                host.in_use -= 1;
                host.connecting -= 1;
                state.live -= 1;
            }
            self.pool.slot_freed(state, &self.key, &mut undelivered);
        }
        drop(undelivered);
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        let mut undelivered = Vec::new();
        let mut closed = None;
        {
            let mut state = self.pool.shared.state.lock();
            let state = &mut *state;
            let Some(host) = state.hosts.get_mut(&self.key) else {
                return;
            };
            host.in_use -= 1;
            match sender {
                Sender::Http2(sender) => {
                    let shared = host.h2.as_mut().filter(|h2| h2.id == self.id);
                    match shared {
                        Some(h2) if !sender.is_closed() => {
                            h2.streams -= 1;
                            let idle = h2.streams == 0;
                            if idle {
                                h2.since = Instant::now();
                            }
                            if idle && starved_elsewhere(state, &self.key, self.pool.shared.limits)
                            {
                                // Another host waits for the total limit:
                                // the idle connection makes room.
                                if let Some(host) = state.hosts.get_mut(&self.key) {
                                    closed = host.h2.take();
                                    host.live -= 1;
                                }
                                state.live -= 1;
                                self.pool.slot_freed(state, &self.key, &mut undelivered);
                            } else {
                                evict_if_unused(state, &self.key);
                            }
                        }
                        Some(_) => {
                            // The shared connection died: it leaves the host.
                            closed = host.h2.take();
                            host.live -= 1;
                            state.live -= 1;
                            self.pool.slot_freed(state, &self.key, &mut undelivered);
                        }
                        None => {
                            // A connection taken from the host as broken
                            // (its slot already given back), or one that
                            // lost the race to be the host's shared one
                            // (its slot this request's alone).
                            if self.shared {
                                evict_if_unused(state, &self.key);
                            } else {
                                host.live -= 1;
                                state.live -= 1;
                                self.pool.slot_freed(state, &self.key, &mut undelivered);
                            }
                            drop(sender);
                        }
                    }
                }
                Sender::Http1(sender) => {
                    if self.reusable && !sender.is_closed() {
                        self.pool
                            .give_back(state, &self.key, self.id, sender, &mut undelivered);
                    } else {
                        host.live -= 1;
                        state.live -= 1;
                        drop(sender);
                        self.pool.slot_freed(state, &self.key, &mut undelivered);
                    }
                }
            }
        }
        drop(closed);
        drop(undelivered);
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}
