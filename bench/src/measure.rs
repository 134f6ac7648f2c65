//! Runs competing implementations in interleaved rounds and keeps the median, so that
//! the noise of a shared machine falls on all of them alike.

use std::time::Duration;

/// How a benchmark is run: the knobs every benchmark shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Multiplies every benchmark's workload. From `ALEPH_BENCH_SCALE`; default 1.0.
    pub scale: f64,
    /// Measured rounds per case; each implementation runs once per round.
    pub rounds: usize,
    /// Only cases whose name contains this run. From `ALEPH_BENCH_CASE`; default all.
    pub only: Option<String>,
}

impl Settings {
    /// True if the case `name` is selected by [`Settings::only`].
    pub fn selects(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|only| name.contains(only))
    }

    /// `base` scaled by [`Settings::scale`], at least 1.
    pub fn scaled(&self, base: u64) -> u64 {
        ((base as f64 * self.scale).round() as u64).max(1)
    }
}

/// One implementation taking part in a case: a name and a function that performs the
/// case's whole workload once and returns how long it took.
pub struct Contender<'a> {
    /// The name printed in the report, such as "aleph" or "tokio-mpsc".
    pub name: &'static str,
    /// Runs the workload once.
    pub run: Box<dyn FnMut() -> Result<Duration, String> + 'a>,
}

/// Runs every contender once untimed (to warm caches and the allocator), then `rounds`
/// times, reversing the order every other round so no implementation always runs right
/// after the same neighbour. Returns each contender's median time, in input order.
pub fn interleaved(
    rounds: usize,
    contenders: &mut [Contender<'_>],
) -> Result<Vec<(&'static str, Duration)>, String> {
    for contender in contenders.iter_mut() {
        (contender.run)()?;
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); contenders.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..contenders.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            times[index].push((contenders[index].run)()?);
        }
    }
    Ok(contenders
        .iter()
        .zip(times)
        .map(|(contender, times)| (contender.name, median(times)))
        .collect())
}

/// The median of `times`; the mean of the two middle ones for an even count.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    let mid = times.len() / 2;
    match times.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => times[mid],
        _ => (times[mid - 1] + times[mid]) / 2,
    }
}

/// The multi-thread tokio runtime every benchmark runs on (one worker per core),
/// with its worker count for the report's header.
pub fn runtime() -> Result<(tokio::runtime::Runtime, usize), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    let workers = runtime.metrics().num_workers();
    Ok((runtime, workers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(median(vec![ms(4), ms(1), ms(2), ms(100)]), ms(3));
    }

    #[test]
    fn rounds_alternate_their_order() {
        let log = std::cell::RefCell::new(Vec::new());
        let mut contenders = [
            Contender {
                name: "a",
                run: Box::new(|| {
                    log.borrow_mut().push('a');
                    Ok(Duration::from_millis(1))
                }),
            },
            Contender {
                name: "b",
                run: Box::new(|| {
                    log.borrow_mut().push('b');
                    Ok(Duration::from_millis(2))
                }),
            },
        ];
        let medians = interleaved(3, &mut contenders).unwrap();
        drop(contenders);
        assert_eq!(log.into_inner(), ['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b']);
        assert_eq!(
            medians,
            [
                ("a", Duration::from_millis(1)),
                ("b", Duration::from_millis(2))
            ]
        );
    }
}
