//! Stream operators, as free functions (as Manifold's; methods would be
//! shadowed by `StreamExt`'s of the same names).
//!
//! Each operator takes any [`futures::Stream`](futures_core::Stream) (aleph's
//! handles included) and returns a [`Receiver`] fed by a task on the current
//! runtime, through a channel of [`ADAPTER_CAPACITY`] unless it says otherwise.
//! The rules are the same for all:
//! - the source is read only as fast as the output is taken (backpressure);
//! - when the source ends, the output closes, with the source's error if it
//!   ended with one;
//! - when the output closes or every handle on it is dropped, the source is
//!   closed (a foreign stream is dropped).
//!
//! All of them panic when called outside a tokio runtime.

use std::pin::pin;
use std::time::Duration;

use futures_core::Stream;

use super::adapt::{forward, next_unless_closed, spawn_source, ADAPTER_CAPACITY};
use super::Receiver;
use crate::Result;

/// Groups values into batches of at most `max`, emitting a batch when it is
/// full or when `latency` has passed since its first value, whichever is first.
///
/// A partial batch is emitted when the source ends. `max` of 0 is treated as 1.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use aleph::stream;
///
/// let batches = stream::batch(stream::from_iter(1..=5), 2, Duration::from_secs(1));
/// assert_eq!(batches.recv().await, Some(vec![1, 2]));
/// assert_eq!(batches.recv().await, Some(vec![3, 4]));
/// assert_eq!(batches.recv().await, Some(vec![5]));
/// assert_eq!(batches.recv().await, None);
/// # }
/// ```
pub fn batch<S>(source: S, max: usize, latency: Duration) -> Receiver<Vec<S::Item>>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    let max = max.max(1);
    spawn_source(ADAPTER_CAPACITY, "batch", move |tx| async move {
        let mut source = pin!(source);
        let closed = tx.closed();
        let mut closed = pin!(closed);
        let mut pending: Vec<S::Item> = Vec::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = match deadline {
                None => next_unless_closed(source.as_mut(), &mut closed).await,
                Some(at) => {
                    tokio::select! {
                        biased;
                        next = next_unless_closed(source.as_mut(), &mut closed) => next,
                        () = tokio::time::sleep_until(at) => {
                            deadline = None;
                            if tx.send(std::mem::take(&mut pending)).await.is_err() {
                                return;
                            }
                            continue;
                        }
                    }
                }
            };
            match next {
                Some(Some(value)) => {
                    if pending.is_empty() {
                        deadline = Some(tokio::time::Instant::now() + latency);
                        pending.reserve(max.min(1024));
                    }
                    pending.push(value);
                    if pending.len() >= max {
                        deadline = None;
                        if tx.send(std::mem::take(&mut pending)).await.is_err() {
                            return;
                        }
                    }
                }
                Some(None) => {
                    if !pending.is_empty() {
                        let _ = tx.send(pending).await;
                    }
                    return;
                }
                None => return,
            }
        }
    })
}

/// Passes values on at most `per_sec` per second, spacing them evenly.
///
/// The output is unbuffered, so the rate holds for the consumer too. A
/// non-positive or non-finite rate passes values on without delay.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use aleph::stream;
///
/// let start = tokio::time::Instant::now();
/// let slow = stream::throttle(stream::from_iter(0..3), 10.0);
/// while slow.recv().await.is_some() {}
/// assert!(start.elapsed() >= std::time::Duration::from_millis(200));
/// # }
/// ```
pub fn throttle<S>(source: S, per_sec: f64) -> Receiver<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    let period =
        (per_sec.is_finite() && per_sec > 0.0).then(|| Duration::from_secs_f64(1.0 / per_sec));
    spawn_source(0, "throttle", move |tx| async move {
        let mut source = pin!(source);
        let closed = tx.closed();
        let mut closed = pin!(closed);
        let mut next_at = tokio::time::Instant::now();
        while let Some(Some(value)) = next_unless_closed(source.as_mut(), &mut closed).await {
            if let Some(period) = period {
                tokio::time::sleep_until(next_at).await;
                // Idle time does not turn into a burst later: at most one
                // value is released per period from now on.
                next_at = next_at.max(tokio::time::Instant::now()) + period;
            }
            if tx.send(value).await.is_err() {
                return;
            }
        }
    })
}

/// A source that yields `f()` every `period`, starting one period from now.
///
/// The output is unbuffered: `f` is called at a tick, and its value waits
/// until taken; ticks missed meanwhile are skipped rather than bunched. The
/// source ends when the output is closed or dropped.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use aleph::stream;
///
/// let mut n = 0;
/// let ticks = stream::periodically(Duration::from_secs(1), move || { n += 1; n });
/// assert_eq!(ticks.recv().await, Some(1));
/// assert_eq!(ticks.recv().await, Some(2));
/// # }
/// ```
pub fn periodically<T, F>(period: Duration, mut f: F) -> Receiver<T>
where
    T: Send + 'static,
    F: FnMut() -> T + Send + 'static,
{
    spawn_source(0, "periodically", move |tx| async move {
        let start = tokio::time::Instant::now() + period;
        let mut ticks = tokio::time::interval_at(start, period.max(Duration::from_nanos(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                () = tx.closed() => return,
                _ = ticks.tick() => {
                    if tx.send(f()).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// Reads ahead of the consumer into a buffer of `capacity` values, so that a
/// bursty consumer does not stall the source.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let ahead = stream::buffer(stream::from_iter(0..100), 64);
/// assert_eq!(ahead.description().capacity, 64);
/// assert_eq!(ahead.recv().await, Some(0));
/// # }
/// ```
pub fn buffer<S>(source: S, capacity: usize) -> Receiver<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    spawn_source(capacity, "buffer", move |tx| async move {
        forward(Box::pin(source), &tx, None, true).await;
    })
}

/// Pairs the values of two sources, ending when either ends.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let pairs = stream::zip(stream::from_iter([1, 2, 3]), stream::from_iter(["a", "b"]));
/// assert_eq!(pairs.recv().await, Some((1, "a")));
/// assert_eq!(pairs.recv().await, Some((2, "b")));
/// assert_eq!(pairs.recv().await, None);
/// # }
/// ```
pub fn zip<A, B>(a: A, b: B) -> Receiver<(A::Item, B::Item)>
where
    A: Stream + Send + 'static,
    B: Stream + Send + 'static,
    A::Item: Send + 'static,
    B::Item: Send + 'static,
{
    spawn_source(ADAPTER_CAPACITY, "zip", move |tx| async move {
        let mut a = pin!(a);
        let mut b = pin!(b);
        let closed = tx.closed();
        let mut closed = pin!(closed);
        loop {
            let Some(Some(left)) = next_unless_closed(a.as_mut(), &mut closed).await else {
                return;
            };
            let Some(Some(right)) = next_unless_closed(b.as_mut(), &mut closed).await else {
                return;
            };
            if tx.send((left, right)).await.is_err() {
                return;
            }
        }
    })
}

/// Emits the elements of each collection the source yields, in order
/// (Manifold's `concat`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let flat = stream::flatten(stream::from_iter([vec![1, 2], vec![], vec![3]]));
/// let mut all = Vec::new();
/// while let Some(v) = flat.recv().await {
///     all.push(v);
/// }
/// assert_eq!(all, [1, 2, 3]);
/// # }
/// ```
pub fn flatten<S>(source: S) -> Receiver<<S::Item as IntoIterator>::Item>
where
    S: Stream + Send + 'static,
    S::Item: IntoIterator + Send,
    <S::Item as IntoIterator>::IntoIter: Send,
    <S::Item as IntoIterator>::Item: Send + 'static,
{
    spawn_source(ADAPTER_CAPACITY, "flatten", move |tx| async move {
        let mut source = pin!(source);
        let closed = tx.closed();
        let mut closed = pin!(closed);
        while let Some(Some(values)) = next_unless_closed(source.as_mut(), &mut closed).await {
            for value in values {
                if tx.send(value).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// Calls `f` on every value of `source` until it ends.
///
/// # Errors
///
/// The error the source ended with, if any (a truncated stream is not `Ok`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let mut sum = 0;
/// stream::consume(stream::from_iter(1..=4), |v| sum += v).await.unwrap();
/// assert_eq!(sum, 10);
/// # }
/// ```
pub async fn consume<S, F>(source: S, mut f: F) -> Result<()>
where
    S: Stream,
    F: FnMut(S::Item),
{
    fold(source, (), move |(), value| f(value)).await
}

/// Combines every value of `source` into an accumulator, starting from `init`
/// (Manifold's `reduce`).
///
/// # Errors
///
/// The error the source ended with, if any (a truncated stream is not `Ok`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream;
///
/// let total = stream::fold(stream::from_iter(1..=4), 0, |acc, v| acc + v).await.unwrap();
/// assert_eq!(total, 10);
/// # }
/// ```
pub async fn fold<S, A, F>(source: S, init: A, mut f: F) -> Result<A>
where
    S: Stream,
    F: FnMut(A, S::Item) -> A,
{
    let work = async move {
        let mut source = pin!(source);
        let mut acc = init;
        while let Some(value) = std::future::poll_fn(|cx| source.as_mut().poll_next(cx)).await {
            acc = f(acc, value);
        }
        acc
    };
    let (acc, error) = super::catching_end_error(work).await;
    match error {
        Some(error) => Err(error),
        None => Ok(acc),
    }
}
