//! Panics in user code: the message of a payload, and running a batch of
//! callbacks so that one that panics does not rob the others.
//!
//! Core: imported by the stream core, deferreds and the protocols alike.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A caught panic's payload.
pub(crate) type Payload = Box<dyn Any + Send>;

/// The text of a panic payload: `panic!` gives a `&str` or a `String`.
pub(crate) fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "a panic without a message"
    }
}

/// Runs every callback even if some panic, and returns the first panic.
pub(crate) fn run_all<F: FnOnce()>(callbacks: impl IntoIterator<Item = F>) -> Option<Payload> {
    let mut first_panic = None;
    for callback in callbacks {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
            first_panic.get_or_insert(payload);
        }
    }
    first_panic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_of_str_and_string_payloads_is_their_text() {
        let caught = catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(message(&*caught), "plain");
        let caught = catch_unwind(|| panic!("formatted {}", 7)).unwrap_err();
        assert_eq!(message(&*caught), "formatted 7");
        let caught = catch_unwind(|| std::panic::panic_any(42_u8)).unwrap_err();
        assert_eq!(message(&*caught), "a panic without a message");
    }

    #[test]
    fn every_callback_runs_and_the_first_panic_is_returned() {
        let ran = std::sync::atomic::AtomicUsize::new(0);
        let callbacks: Vec<Box<dyn FnOnce()>> = vec![
            Box::new(|| panic!("first")),
            Box::new(|| {
                ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }),
            Box::new(|| panic!("second")),
        ];
        let payload = run_all(callbacks).expect("a callback panicked");
        assert_eq!(message(&*payload), "first");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
