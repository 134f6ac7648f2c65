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
//!   closed (a foreign stream is dropped);
//! - the task holds only the receiving half of an aleph source, so dropping
//!   the last handle that can send into it still closes it (the drop rule);
//! - a panic in user code the task runs (an iterator, a function, a foreign
//!   stream it polls) ends the output with an error of kind
//!   [`Panic`](crate::ErrorKind::Panic), never with a clean end.
//!
//! A foreign stream that wraps an aleph handle (`ch.receiver().map(f)`) is
//! seen as foreign: it ends cleanly when it returns `None`, whatever error
//! the channel inside closed with, and closing it means dropping it (which
//! closes the channel inside only if that was its last receiving handle).
//! Pass aleph handles as they are to keep their errors.
//!
//! All of them panic when called outside a tokio runtime.

use std::pin::pin;
use std::time::Duration;

use futures_core::Stream;
use tokio::time::Instant;

use super::adapt::{forward, spawn_source, Forwarded, ADAPTER_CAPACITY};
use super::source::{catching, into_source, next, next_or_closed, Next};
use super::{Receiver, Source};
use crate::Result;

/// Sleeps until `at`; forever if there is no such instant (a duration too
/// large for the clock means "never").
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `from + after`, or `None` when that does not fit the clock.
fn later(from: Instant, after: Duration) -> Option<Instant> {
    from.checked_add(after)
}

/// Groups values into batches of at most `max`, emitting a batch when it is
/// full or when `latency` has passed since its first value, whichever is first.
///
/// A partial batch is emitted when the source ends; a `max` of 0 is taken as
/// one. A `latency` too large for the clock (`Duration::MAX`) means "never":
/// batches are then emitted only when full or at the end.
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
    let mut source = into_source(source);
    spawn_source(ADAPTER_CAPACITY, "batch", move |tx| async move {
        let closed = tx.closed();
        let mut closed = pin!(closed);
        let mut pending: Vec<S::Item> = Vec::new();
        // `Some(None)`: a batch is open and its latency is too long to ever pass.
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            let next = match deadline {
                None => next_or_closed(&mut source, &tx, &mut closed).await,
                Some(at) => {
                    tokio::select! {
                        biased;
                        next = next_or_closed(&mut source, &tx, &mut closed) => next,
                        () = sleep_until(at) => {
                            deadline = None;
                            if tx.send(std::mem::take(&mut pending)).await.is_err() {
                                source.close();
                                return None;
                            }
                            continue;
                        }
                    }
                }
            };
            match next {
                Next::Value(value) => {
                    if pending.is_empty() {
                        deadline = Some(later(Instant::now(), latency));
                        pending.reserve(max.min(1024));
                    }
                    pending.push(value);
                    if pending.len() >= max {
                        deadline = None;
                        if tx.send(std::mem::take(&mut pending)).await.is_err() {
                            source.close();
                            return None;
                        }
                    }
                }
                Next::Ended => {
                    if !pending.is_empty() {
                        let _ = tx.send(pending).await;
                    }
                    return source.end_error();
                }
                Next::SinkClosed => {
                    source.close();
                    return None;
                }
            }
        }
    })
}

/// Passes values on at most `per_sec` per second, spacing them evenly.
///
/// The output is unbuffered, so the rate holds for the consumer too. A
/// non-positive or non-finite rate passes values on without delay. A rate so
/// small that its period does not fit a `Duration` (`1e-300`) is clamped to
/// the slowest one: the first value passes, the next effectively never.
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
    let period = (per_sec.is_finite() && per_sec > 0.0)
        .then(|| Duration::try_from_secs_f64(1.0 / per_sec).unwrap_or(Duration::MAX));
    let mut source = into_source(source);
    spawn_source(0, "throttle", move |tx| async move {
        let closed = tx.closed();
        let mut closed = pin!(closed);
        let mut next_at = Some(Instant::now());
        loop {
            let value = match next_or_closed(&mut source, &tx, &mut closed).await {
                Next::Value(value) => value,
                Next::Ended => return source.end_error(),
                Next::SinkClosed => {
                    source.close();
                    return None;
                }
            };
            if let Some(period) = period {
                tokio::select! {
                    biased;
                    () = &mut closed => {
                        source.close();
                        return None;
                    }
                    () = sleep_until(next_at) => {}
                }
                // Idle time does not turn into a burst later: at most one
                // value is released per period from now on.
                next_at = next_at.and_then(|at| later(at.max(Instant::now()), period));
            }
            if tx.send(value).await.is_err() {
                source.close();
                return None;
            }
        }
    })
}

/// A source that yields `f()` every `period`, starting one period from now.
///
/// The same as [`periodically_after`] with an initial delay of one `period`.
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
pub fn periodically<T, F>(period: Duration, f: F) -> Receiver<T>
where
    T: Send + 'static,
    F: FnMut() -> T + Send + 'static,
{
    periodically_after(period, period, f)
}

/// A source that yields `f()` after `initial_delay`, then every `period`
/// (Manifold's `periodically` with its initial delay).
///
/// The output buffers one value, as Manifold's does. `f` is called at a tick
/// only if that buffer has room, so every value produced is delivered (even
/// after the output is closed: a closed source still yields what it holds),
/// and ticks that pass while a value waits are skipped rather than bunched.
/// A duration too large for the clock (`Duration::MAX`) means "never"; a
/// `period` of zero is taken as one nanosecond.
///
/// The source ends when the output is closed or dropped. If `f` panics, it
/// ends with an error of kind [`Panic`](crate::ErrorKind::Panic).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use aleph::stream;
///
/// let start = tokio::time::Instant::now();
/// let ticks = stream::periodically_after(Duration::ZERO, Duration::from_secs(60), || "tick");
/// assert_eq!(ticks.recv().await, Some("tick"));
/// assert!(start.elapsed() < Duration::from_secs(1)); // the first one at once
/// # }
/// ```
pub fn periodically_after<T, F>(initial_delay: Duration, period: Duration, mut f: F) -> Receiver<T>
where
    T: Send + 'static,
    F: FnMut() -> T + Send + 'static,
{
    let period = period.max(Duration::from_nanos(1));
    let first = later(Instant::now(), initial_delay);
    spawn_source(1, "periodically", move |tx| async move {
        let mut tick = first;
        loop {
            tokio::select! {
                biased;
                () = tx.closed() => return None,
                () = sleep_until(tick) => {}
            }
            // Only this task sends, so room seen here is still there below.
            if tx.description().buffered == 0 {
                let value = match catching("the periodically function", &mut f) {
                    Ok(value) => value,
                    Err(panicked) => return Some(panicked),
                };
                if tx.try_send(value).is_err() {
                    return None;
                }
            }
            let now = Instant::now();
            // Missed ticks are skipped: the next one is then a period from now.
            tick = tick.and_then(|at| later(at, period)).and_then(|at| {
                if at <= now {
                    later(now, period)
                } else {
                    Some(at)
                }
            });
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
    let mut source = into_source(source);
    spawn_source(capacity, "buffer", move |tx| async move {
        match forward(&mut source, &tx, None, true).await {
            Forwarded::Drained => source.end_error(),
            _ => None,
        }
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
    let mut a = into_source(a);
    let mut b = into_source(b);
    spawn_source(ADAPTER_CAPACITY, "zip", move |tx| async move {
        let closed = tx.closed();
        let mut closed = pin!(closed);
        loop {
            let left = match next_or_closed(&mut a, &tx, &mut closed).await {
                Next::Value(value) => value,
                Next::Ended => return a.end_error(),
                Next::SinkClosed => break,
            };
            let right = match next_or_closed(&mut b, &tx, &mut closed).await {
                Next::Value(value) => value,
                Next::Ended => return b.end_error(),
                Next::SinkClosed => break,
            };
            if tx.send((left, right)).await.is_err() {
                break;
            }
        }
        a.close();
        b.close();
        None
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
    let mut source = into_source(source);
    spawn_source(ADAPTER_CAPACITY, "flatten", move |tx| async move {
        let closed = tx.closed();
        let mut closed = pin!(closed);
        loop {
            let values = match next_or_closed(&mut source, &tx, &mut closed).await {
                Next::Value(values) => values,
                Next::Ended => return source.end_error(),
                Next::SinkClosed => break,
            };
            let mut values = match catching("a collection's iterator", || values.into_iter()) {
                Ok(values) => values,
                Err(panicked) => return Some(panicked),
            };
            loop {
                let value = match catching("a collection's iterator", || values.next()) {
                    Ok(Some(value)) => value,
                    Ok(None) => break,
                    Err(panicked) => return Some(panicked),
                };
                if tx.send(value).await.is_err() {
                    source.close();
                    return None;
                }
            }
        }
        source.close();
        None
    })
}

/// Calls `f` on every value of `source` until it ends.
///
/// # Errors
///
/// The error the source ended with, if any (a truncated stream is not `Ok`);
/// see [`fold`].
///
/// # Cancel safety
///
/// Dropping the future drops the source: values taken so far were given to `f`.
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
    S: Stream + 'static,
    F: FnMut(S::Item),
{
    fold(source, (), move |(), value| f(value)).await
}

/// Combines every value of `source` into an accumulator, starting from `init`
/// (Manifold's `reduce`).
///
/// # Errors
///
/// The error the source ended with, if any (a truncated stream is not `Ok`):
/// the error an aleph handle was closed with, or a panic of a foreign stream
/// (kind [`Panic`](crate::ErrorKind::Panic)).
///
/// # Cancel safety
///
/// Dropping the future drops the source and the accumulator: values taken so
/// far are lost with it.
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
    S: Stream + 'static,
    F: FnMut(A, S::Item) -> A,
{
    let mut source = into_source(source);
    let mut acc = init;
    while let Some(value) = next(&mut source).await {
        acc = f(acc, value);
    }
    match source.end_error() {
        Some(error) => Err(error),
        None => Ok(acc),
    }
}
