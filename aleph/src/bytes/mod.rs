//! Byte streams: turning any source of bytes into the shape you need.
//!
//! The Rust counterpart of Clojure's byte-streams. A [`ByteSource`] is
//! anything that can become a stream of [`Bytes`] chunks: an in-memory value
//! (`Bytes`, `Vec<u8>`, `String`, `&'static str`, ...), an aleph stream handle
//! carrying `Bytes` (a [`Channel`](crate::stream::Channel), a
//! [`Receiver`](crate::stream::Receiver), the receiving side of a
//! [`Duplex`](crate::stream::Duplex) such as a TCP connection), or a foreign
//! source wrapped in [`Chunks`] (any `TryStream`) or [`Reader`] (any
//! `AsyncRead`). Free functions turn a source into what you need:
//!
//! | function | gives |
//! |---|---|
//! | [`to_bytes`] | one [`Bytes`] with everything |
//! | [`to_vec`] | a `Vec<u8>` |
//! | [`to_string`] | a `String`, strictly UTF-8 |
//! | [`lines`] | a stream of lines |
//! | [`into_stream`] | a [`ByteStream`] of chunks |
//! | [`into_async_read`] | a tokio `AsyncRead` |
//! | [`into_blocking_reader`] | a `std::io::Read`, for threads off the runtime |
//!
//! They are free functions rather than methods so that they never take over
//! std's `to_string`, `to_vec` or `lines` on `String`, `Vec<u8>` or `Bytes`.
//!
//! # Copies
//!
//! In-memory conversions do not copy: a single chunk is handed through as it
//! is, and [`to_bytes`] of a one-chunk source returns that very chunk. Several
//! chunks are concatenated once, into a buffer sized by their total.
//!
//! # Errors
//!
//! A source that ended because of an error (a connection reset mid-body, a
//! channel closed with [`close_with_error`](crate::stream::Channel::close_with_error),
//! a failed read) makes every conversion fail with that error: a truncated
//! stream is never returned as if it were whole.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::bytes::{self, Bytes};
//! use aleph::stream::Channel;
//!
//! let ch = Channel::buffered(4);
//! ch.send(Bytes::from("hello, ")).await.unwrap();
//! ch.send(Bytes::from("world")).await.unwrap();
//! ch.close();
//! assert_eq!(bytes::to_string(ch).await?, "hello, world");
//!
//! assert_eq!(bytes::to_vec("abc").await?, b"abc");
//! # Ok(())
//! # }
//! ```

mod collect;
mod lines;
mod read;
mod source;

pub use ::bytes::{Buf, BufMut, Bytes, BytesMut};

pub use collect::{into_stream, to_bytes, to_string, to_vec};
pub use lines::{lines, lines_with_max, Lines, MAX_LINE};
pub use read::{into_async_read, into_blocking_reader, BlockingReader, IntoAsyncRead};
pub use source::{ByteSource, ByteStream, Chunks, Reader};
