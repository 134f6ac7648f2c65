//! Log output for operators: the library's and the command's `tracing`
//! events, on stderr.
//!
//! The level comes from `-v` / `-q`, or from `RUST_LOG` when it is set.
//! Warnings and errors are rate-limited per place in the code: a failure that
//! repeats (accepts failing while the process is out of file descriptors)
//! prints once a second, with a count of what was left out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::output;

/// How often one warning or error may print.
const PERIOD: Duration = Duration::from_secs(1);

/// Installs the subscriber. `verbosity` is -1 for `-q` (errors only), 0 by
/// default (warnings), and 1, 2, 3 for `-v`, `-vv`, `-vvv` (info, debug, trace).
pub fn init(verbosity: i8) {
    let level = level(verbosity);
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .unwrap_or_else(|err| {
                output::note(&format!("RUST_LOG={directives:?} is ignored: {err}"));
                EnvFilter::new(level)
            }),
        _ => EnvFilter::new(level),
    };
    let format = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // A closed stderr must not turn into a panic or a report on stderr.
        .log_internal_errors(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(RateLimit::default())
        .with(format)
        .try_init();
}

/// The level `-q` (-1), nothing (0) or `-v`, `-vv`, `-vvv` (1 to 3) stand for.
fn level(verbosity: i8) -> &'static str {
    match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// Lets each warning or error call site print once per [`PERIOD`].
#[derive(Default)]
struct RateLimit {
    windows: Mutex<HashMap<Identifier, Window>>,
}

struct Window {
    started: Instant,
    left_out: u64,
}

impl<S: Subscriber> Layer<S> for RateLimit {
    fn event_enabled(&self, event: &Event<'_>, _cx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        // Levels order by verbosity: INFO, DEBUG and TRACE are above WARN.
        if *meta.level() > Level::WARN {
            return true;
        }
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = windows.entry(meta.callsite()).or_insert(Window {
            started: now,
            left_out: 0,
        });
        if window.started == now {
            return true;
        }
        if now.duration_since(window.started) < PERIOD {
            window.left_out += 1;
            return false;
        }
        let left_out = std::mem::take(&mut window.left_out);
        window.started = now;
        drop(windows);
        if left_out > 0 {
            output::note(&format!(
                "{left_out} more like the next message were left out (from {} at {}:{}; \
                 one a second is shown)",
                meta.target(),
                meta.file().unwrap_or("?"),
                meta.line().unwrap_or(0)
            ));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quiet_shows_errors_and_each_v_shows_more() {
        let levels: Vec<&str> = [-1, 0, 1, 2, 3, 7].into_iter().map(super::level).collect();
        assert_eq!(levels, ["error", "warn", "info", "debug", "trace", "trace"]);
    }
}
