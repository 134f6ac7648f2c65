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
//! and the protocols on it: [`tcp`], [`udp`] and [`http`]'s server. The
//! HTTP client, WebSocket and DNS build on the same parts next; [`net`] says
//! which layer may import which.
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
//! # Operators and the bus
//!
//! Operators are free functions over any stream ([`stream::batch`],
//! [`stream::throttle`], [`stream::buffer`], [`stream::zip`], ...); a
//! [`Bus`](stream::Bus) fans each message out to a topic's subscribers, and
//! a slow subscriber slows the publisher.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use aleph::stream::{self, Bus};
//!
//! let batches = stream::batch(stream::from_iter(1..=5), 2, std::time::Duration::MAX);
//! assert_eq!(stream::fold(batches, Vec::new(), |mut all, b| { all.push(b); all }).await.unwrap(),
//!            [vec![1, 2], vec![3, 4], vec![5]]);
//!
//! let bus: Bus<&str, String> = Bus::new();
//! let chat = bus.subscribe("chat");
//! assert_eq!(bus.publish("chat", "hi".to_owned()).await, 1); // one subscriber took it
//! assert_eq!(chat.recv().await.as_deref(), Some("hi"));
//! # }
//! ```
//!
//! # Bytes
//!
//! [`bytes`] converts between the forms a byte source takes: a channel of
//! chunks, an `AsyncRead`, a `String`. An error that ended the source comes
//! back from the conversion: a truncated body is never `Ok`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::bytes::{self, Bytes};
//! use aleph::stream::Channel;
//!
//! let body = Channel::buffered(4);
//! body.send(Bytes::from("hello, ")).await.unwrap();
//! body.send(Bytes::from("world")).await.unwrap();
//! body.close();
//! assert_eq!(bytes::to_string(body).await?, "hello, world");
//! # Ok(())
//! # }
//! ```
//!
//! # TCP and TLS
//!
//! A connection is a [`Duplex`](stream::Duplex) of bytes: what arrives is its
//! stream, what is sent goes out, with backpressure both ways. The echo
//! server is one line; [`tls`] adds rustls on either side.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::bytes::Bytes;
//! use aleph::stream::{self, ConnectOptions};
//! use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
//!
//! let server = tcp::start_server(
//!     |conn, _info| { stream::connect(conn.clone(), conn, ConnectOptions::default()); },
//!     TcpServerOptions::default(), // 127.0.0.1, a free port
//! )
//! .await?;
//! let conn = tcp::client(TcpClientOptions::new("127.0.0.1", server.port())).await?;
//! conn.send(Bytes::from("ping")).await.unwrap();
//! assert_eq!(conn.recv().await, Some(Bytes::from("ping")));
//! server.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # UDP
//!
//! A [`udp::Socket`] is a stream of [`Packet`](udp::Packet)s, each with its
//! peer's address; its receive queue is bounded and drops, never blocks.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::udp::{self, Packet, UdpOptions};
//!
//! let a = udp::socket(UdpOptions::default()).await?;
//! let b = udp::socket(UdpOptions::default()).await?;
//! a.send_to(Packet::new(b.local_addr(), "hello")).await?;
//! let got = b.recv().await.expect("a datagram");
//! assert_eq!(&got.message[..], b"hello");
//! assert_eq!(got.addr(), Some(a.local_addr()));
//! # Ok(())
//! # }
//! ```
//!
//! # HTTP
//!
//! [`http::start_server`] serves a Ring-style handler (a function of a
//! request, plain or `async`, or any tower service such as an axum
//! `Router`) over HTTP/1.1 and HTTP/2 on one port; bodies stream with
//! backpressure.
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

pub use error::{Error, ErrorKind, Result, TimeoutKind};
pub use net::Server;
