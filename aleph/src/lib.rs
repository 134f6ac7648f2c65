//! aleph: asynchronous communication for Rust.
#![deny(missing_docs)]

pub mod deferred;
mod error;
pub mod stream;

pub use error::{Error, ErrorKind, Result};
