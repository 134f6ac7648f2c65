//! aleph: asynchronous communication for Rust.
//!
//! One library in which every protocol has the same shape: data from the
//! network is a **backpressured stream** ([`stream`]), an eventual result is
//! a **future** ([`deferred`]), and bytes convert freely between the forms
//! code wants ([`bytes`]). It is the Rust counterpart of Clojure's
//! [Aleph](https://github.com/clj-commons/aleph), built on tokio.
//!
//! Today aleph has its core (streams, deferreds, byte conversions and one
//! error type), the seam every protocol stands on ([`net`], with [`tls`]),
//! and two protocols on it: [`tcp`] and [`udp`]. HTTP, WebSocket and DNS
//! build on the same parts next; [`net`] says which layer may import which.
//!
//! # Streams
//!
//! A [`Channel`](stream::Channel) is Manifold's stream: a cloneable handle
//! that is both sink and source, bounded, closable, describable. A send waits
//! while the buffer is full; that is how backpressure reaches a producer.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use aleph::stream::{self, Channel, ConnectOptions};
//!
//! let source = Channel::buffered(16);
//! let sink = Channel::buffered(16);
//! stream::connect(source.clone(), sink.clone(), ConnectOptions::default());
//!
//! source.send("hello").await.unwrap();
//! source.close();
//! assert_eq!(sink.recv().await, Some("hello"));
//! assert_eq!(sink.recv().await, None); // the close travelled downstream
//! # }
//! ```
//!
//! # Deferreds
//!
//! A [`Deferred`](deferred::Deferred) is completed once and awaited by many.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use aleph::deferred;
//!
//! let answer = deferred::spawn(async { Ok(6 * 7) });
//! let (a, b) = (answer.clone(), answer.clone());
//! assert_eq!(a.await.unwrap(), 42);
//! assert_eq!(b.await.unwrap(), 42);
//! # }
//! ```
//!
//! # HTTP
//!
//! [`http::start_server`] serves a Ring-style handler (a function of a
//! request, plain or `async`, or any tower service) over HTTP/1.1 and
//! HTTP/2 on one port; bodies stream with backpressure.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::http::{self, Request, ServerOptions};
//!
//! let server = http::start_server(|_req: Request| "hello!", ServerOptions::default()).await?;
//! assert_ne!(server.port(), 0);
//! server.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Result`]: one [`Error`] type, one pointer
//! wide and cloneable, with `is_*` predicates and a [`kind()`](Error::kind).
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod bytes;
pub mod deferred;
mod error;
pub mod http;
pub mod net;
mod panic;
pub mod stream;
pub mod tcp;
pub mod tls;
pub mod udp;

pub use error::{Error, ErrorKind, Result};
pub use net::Server;
