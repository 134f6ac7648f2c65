//! Deferred values: a result completed once and awaited by many.
