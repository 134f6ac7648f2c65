//! `Bus<K, T>`: Manifold's event bus, topics fanned out to subscriptions.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use futures_util::future::join_all;
use parking_lot::Mutex;

use super::{Channel, Description, Receiver, Sender, TrySendError};

/// The capacity of a subscription made by [`Bus::subscribe`] on a bus made by
/// [`Bus::new`].
const DEFAULT_CAPACITY: usize = 16;

/// An event bus: messages published on a topic go to every subscription to
/// that topic (Manifold's `event-bus`).
///
/// A subscription is an ordinary [`Receiver`]: it ends when dropped (the bus
/// forgets it), and when the bus and all its clones are dropped it closes, so
/// its consumer drains what was published and then sees the end.
///
/// [`publish`](Bus::publish) completes once every current subscriber accepted
/// the message, so a slow subscriber slows the publisher: that is the bus's
/// backpressure. A subscriber that would rather lose messages than hold the
/// publisher back subscribes with a [sliding](Channel::sliding) or
/// [dropping](Channel::dropping) channel through
/// [`subscribe_with`](Bus::subscribe_with).
///
/// `Bus` is a cheap handle: clones share the same topics.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::Bus;
///
/// let bus: Bus<&str, String> = Bus::new();
/// let alice = bus.subscribe("chat");
/// let bob = bus.subscribe("chat");
///
/// assert_eq!(bus.publish("chat", "hello".to_string()).await, 2);
/// assert_eq!(alice.recv().await.as_deref(), Some("hello"));
/// assert_eq!(bob.recv().await.as_deref(), Some("hello"));
///
/// drop(bob); // unsubscribes
/// assert_eq!(bus.publish("chat", "bye".to_string()).await, 1);
/// assert_eq!(bus.publish("news", "nobody listens".to_string()).await, 0);
/// # }
/// ```
pub struct Bus<K, T> {
    inner: Arc<Inner<K, T>>,
}

struct Inner<K, T> {
    topics: Mutex<Topics<K, T>>,
    capacity: usize,
}

struct Topics<K, T> {
    by_name: HashMap<K, Topic<T>>,
    /// The id of the next subscription (never reused, so a subscription's
    /// hook can never remove another one).
    next_id: u64,
}

/// One topic's subscriptions. A change costs O(log n), never a copy of the
/// whole list: the list a publish sends to is built at the first publish
/// after a change and then shared by every publish until the next change.
struct Topic<T> {
    subscribers: BTreeMap<u64, Sender<T>>,
    snapshot: Option<Arc<[Sender<T>]>>,
}

impl<T> Topic<T> {
    fn snapshot(&mut self) -> Arc<[Sender<T>]> {
        self.snapshot
            .get_or_insert_with(|| self.subscribers.values().cloned().collect())
            .clone()
    }

    fn has_live(&self) -> bool {
        self.subscribers.values().any(|s| !s.is_closed())
    }
}

impl<K, T> Bus<K, T> {
    /// A bus whose [`subscribe`](Bus::subscribe) gives subscriptions that
    /// buffer 16 messages.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Bus;
    ///
    /// let bus: Bus<String, u64> = Bus::new();
    /// assert!(bus.topics().is_empty());
    /// ```
    pub fn new() -> Bus<K, T> {
        Bus::with_capacity(DEFAULT_CAPACITY)
    }

    /// A bus whose [`subscribe`](Bus::subscribe) gives subscriptions that
    /// buffer `capacity` messages (0: unbuffered, each publish waits for every
    /// subscriber to take the message).
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Bus;
    ///
    /// let bus: Bus<&str, u64> = Bus::with_capacity(1024);
    /// let rx = bus.subscribe("ticks");
    /// assert_eq!(rx.description().capacity, 1024);
    /// ```
    pub fn with_capacity(capacity: usize) -> Bus<K, T> {
        Bus {
            inner: Arc::new(Inner {
                topics: Mutex::new(Topics {
                    by_name: HashMap::new(),
                    next_id: 0,
                }),
                capacity,
            }),
        }
    }
}

impl<K: Hash + Eq, T> Bus<K, T> {
    /// A new subscription to `topic`: it receives every message published on
    /// the topic from now on, until it is dropped or closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::Bus;
    ///
    /// let bus = Bus::new();
    /// let rx = bus.subscribe("prices");
    /// bus.publish("prices", 101).await;
    /// assert_eq!(rx.recv().await, Some(101));
    /// # }
    /// ```
    pub fn subscribe(&self, topic: K) -> Receiver<T>
    where
        K: Clone + Send + Sync + 'static,
        T: Send + 'static,
    {
        self.subscribe_with(topic, Channel::buffered(self.inner.capacity))
    }

    /// Subscribes `channel` to `topic`, and returns a receiving handle on it.
    ///
    /// The bus keeps only a sending handle, and the `channel` handle passed in
    /// is dropped, so the subscription ends when every receiving handle is
    /// dropped. Pass a [sliding](Channel::sliding) or
    /// [dropping](Channel::dropping) channel for a subscriber that must never
    /// hold the publisher back: a full subscription then loses messages
    /// (counted in [`Description::dropped`]) instead of making
    /// [`publish`](Bus::publish) wait.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aleph::stream::{Bus, Channel};
    ///
    /// let bus = Bus::new();
    /// let latest = bus.subscribe_with("gauge", Channel::sliding(1));
    /// for reading in 1..=3 {
    ///     bus.publish("gauge", reading).await; // never waits for this subscriber
    /// }
    /// assert_eq!(latest.recv().await, Some(3));
    /// assert_eq!(latest.description().dropped, 2);
    /// # }
    /// ```
    pub fn subscribe_with(&self, topic: K, channel: Channel<T>) -> Receiver<T>
    where
        K: Clone + Send + Sync + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = channel.split();
        let (id, stale) = {
            let mut topics = self.inner.topics.lock();
            let id = topics.next_id;
            topics.next_id += 1;
            let entry = topics
                .by_name
                .entry(topic.clone())
                .or_insert_with(|| Topic {
                    subscribers: BTreeMap::new(),
                    snapshot: None,
                });
            entry.subscribers.insert(id, tx.clone());
            (id, entry.snapshot.take())
        };
        // Dropped outside the lock: dropping a sending handle may run a
        // channel's hooks, which may call back into the bus.
        drop(stale);
        // When the subscription ends, the bus forgets it (and the topic, if it
        // was the last), so that topics nobody publishes on do not pile up.
        // The hook runs outside every lock of the channel; the bus's own lock
        // is never held while a subscription can close.
        let bus = Arc::downgrade(&self.inner);
        tx.on_closed(move || {
            if let Some(inner) = bus.upgrade() {
                Bus { inner }.forget(&topic, id);
            }
        });
        rx
    }

    /// True if `topic` has at least one live subscription.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Bus;
    ///
    /// let bus: Bus<&str, u8> = Bus::new();
    /// assert!(!bus.is_active("chat"));
    /// let rx = bus.subscribe("chat");
    /// assert!(bus.is_active("chat"));
    /// drop(rx);
    /// assert!(!bus.is_active("chat"));
    /// ```
    pub fn is_active<Q>(&self, topic: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner
            .topics
            .lock()
            .by_name
            .get(topic)
            .is_some_and(Topic::has_live)
    }

    /// The topics with at least one live subscription, in no particular order.
    /// Topics left without one are forgotten.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Bus;
    ///
    /// let bus: Bus<&str, u8> = Bus::new();
    /// let _a = bus.subscribe("a");
    /// let b = bus.subscribe("b");
    /// drop(b);
    /// assert_eq!(bus.topics(), ["a"]);
    /// ```
    pub fn topics(&self) -> Vec<K>
    where
        K: Clone,
    {
        let mut forgotten = Vec::new();
        let topics = {
            let mut topics = self.inner.topics.lock();
            topics.by_name.retain(|_, subscribers| {
                let live = subscribers.has_live();
                if !live {
                    forgotten.push((
                        std::mem::take(&mut subscribers.subscribers),
                        subscribers.snapshot.take(),
                    ));
                }
                live
            });
            topics.by_name.keys().cloned().collect()
        };
        drop(forgotten);
        topics
    }

    /// Publishes `message` on `topic`, and completes once every current
    /// subscriber has accepted it (each gets a clone); returns how many did.
    ///
    /// Subscribers with room take the message at once; the publish then waits
    /// for the others, all at the same time, so the slowest subscriber sets the
    /// pace. A subscription made while the publish waits does not get the
    /// message; one that ends meanwhile is not counted.
    ///
    /// # Cancel safety
    ///
    /// Not all-or-nothing: if the future is dropped before it completes, the
    /// subscribers that already accepted the message keep it and the others
    /// never get it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use aleph::stream::Bus;
    ///
    /// let bus = Bus::with_capacity(1);
    /// let slow = bus.subscribe("jobs");
    /// assert_eq!(bus.publish("jobs", 1).await, 1); // buffered
    ///
    /// // The subscription is full: the next publish waits for it.
    /// let waiting = tokio::time::timeout(Duration::from_millis(20), bus.publish("jobs", 2));
    /// assert!(waiting.await.is_err());
    ///
    /// assert_eq!(slow.recv().await, Some(1));
    /// assert_eq!(bus.publish("jobs", 3).await, 1);
    /// # }
    /// ```
    pub async fn publish<Q>(&self, topic: &Q, message: T) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        T: Clone,
    {
        let Some(subscribers) = self.subscribers(topic) else {
            return 0;
        };
        let mut message = Some(message);
        let mut accepted = 0;
        let mut ended = false;
        let mut waiting = Vec::new();
        let last = subscribers.len().saturating_sub(1);
        for (i, subscriber) in subscribers.iter().enumerate() {
            let copy = if i == last {
                message.take()
            } else {
                message.clone()
            };
            let Some(copy) = copy else { break };
            match subscriber.try_send(copy) {
                Ok(()) => accepted += 1,
                Err(TrySendError::Full(copy)) => waiting.push(subscriber.send(copy)),
                Err(TrySendError::Closed(_)) => ended = true,
            }
        }
        let sent = match waiting.len() {
            0 => Vec::new(),
            // The common case of one slow subscriber needs no join.
            1 => match waiting.pop() {
                Some(send) => vec![send.await],
                None => Vec::new(),
            },
            _ => join_all(waiting).await,
        };
        for sent in sent {
            match sent {
                Ok(()) => accepted += 1,
                Err(_) => ended = true,
            }
        }
        if ended {
            self.forget_ended(topic);
        }
        accepted
    }

    /// A snapshot of the bus: each topic with the description of each of its
    /// subscriptions, to find the one that holds publishers back.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Bus;
    ///
    /// let bus: Bus<&str, u8> = Bus::with_capacity(4);
    /// let _rx = bus.subscribe("chat");
    /// let d = bus.description();
    /// assert_eq!(d.topics.len(), 1);
    /// assert_eq!(d.topics[0].0, "\"chat\"");
    /// assert_eq!(d.topics[0].1[0].capacity, 4);
    /// ```
    pub fn description(&self) -> BusDescription
    where
        K: fmt::Debug,
    {
        let topics = self.inner.topics.lock();
        BusDescription {
            topics: topics
                .by_name
                .iter()
                .map(|(topic, subscribers)| {
                    (
                        format!("{topic:?}"),
                        subscribers
                            .subscribers
                            .values()
                            .map(Sender::description)
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    fn subscribers<Q>(&self, topic: &Q) -> Option<Arc<[Sender<T>]>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner
            .topics
            .lock()
            .by_name
            .get_mut(topic)
            .map(Topic::snapshot)
    }

    /// Forgets the subscription `id` of `topic`, and the topic if that was
    /// its last subscription.
    fn forget<Q>(&self, topic: &Q, id: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = {
            let mut topics = self.inner.topics.lock();
            let Some(subscribers) = topics.by_name.get_mut(topic) else {
                return;
            };
            let Some(sender) = subscribers.subscribers.remove(&id) else {
                return;
            };
            let snapshot = subscribers.snapshot.take();
            let topic = subscribers
                .subscribers
                .is_empty()
                .then(|| topics.by_name.remove(topic));
            (sender, snapshot, topic)
        };
        drop(removed);
    }

    /// Forgets the subscriptions of `topic` that ended, and the topic if none is left.
    fn forget_ended<Q>(&self, topic: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut removed = Vec::new();
        let snapshot = {
            let mut topics = self.inner.topics.lock();
            let Some(subscribers) = topics.by_name.get_mut(topic) else {
                return;
            };
            subscribers.subscribers.retain(|_, s| {
                let live = !s.is_closed();
                if !live {
                    removed.push(s.clone());
                }
                live
            });
            let snapshot = subscribers.snapshot.take();
            if subscribers.subscribers.is_empty() {
                topics.by_name.remove(topic);
            }
            snapshot
        };
        drop(snapshot);
        drop(removed);
    }
}

impl<K, T> Default for Bus<K, T> {
    fn default() -> Bus<K, T> {
        Bus::new()
    }
}

impl<K, T> Clone for Bus<K, T> {
    fn clone(&self) -> Bus<K, T> {
        Bus {
            inner: self.inner.clone(),
        }
    }
}

impl<K: fmt::Debug, T> fmt::Debug for Bus<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics = self.inner.topics.lock();
        f.debug_map()
            .entries(topics.by_name.iter().map(|(k, v)| (k, v.subscribers.len())))
            .finish()
    }
}

/// What a [`Bus`] says about itself: from [`Bus::description`].
///
/// # Examples
///
/// ```
/// use aleph::stream::Bus;
///
/// let bus: Bus<u32, u8> = Bus::new();
/// let _rx = bus.subscribe(7);
/// let d = bus.description();
/// assert_eq!(d.to_string(), "bus: 1 topics, 1 subscriptions");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BusDescription {
    /// Each topic (as its `Debug` text) with the description of each subscription.
    pub topics: Vec<(String, Vec<Description>)>,
}

impl fmt::Display for BusDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subscriptions: usize = self.topics.iter().map(|(_, s)| s.len()).sum();
        write!(
            f,
            "bus: {} topics, {subscriptions} subscriptions",
            self.topics.len()
        )
    }
}
