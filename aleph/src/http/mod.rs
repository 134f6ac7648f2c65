//! HTTP: a Ring-style server on hyper (HTTP/1.0, HTTP/1.1 and HTTP/2 on one
//! port), with streaming bodies, server-sent events, limits and graceful
//! shutdown.
//!
//! A handler is a function of a [`Request`] that returns anything
//! [`IntoResponse`], plain or `async`, or a deferred completed later, or any
//! tower service (an axum `Router` serves unchanged). [`start_server`] runs
//! it and hands back the same [`Server`](crate::Server) as TCP.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::http::{self, Request, ServerOptions};
//!
//! fn hello(_req: Request) -> &'static str {
//!     "hello!"
//! }
//!
//! let server = http::start_server(hello, ServerOptions::default()).await?;
//! println!("listening on http://127.0.0.1:{}/", server.port());
//! server.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Bodies and backpressure
//!
//! A request body is read from the connection only as the handler reads it
//! ([`Body`] is an `http_body::Body` and a [`ByteSource`](crate::bytes::ByteSource)).
//! A response body can stream: each message of an aleph channel or a
//! `futures::Stream` is one chunk on HTTP/1.1 and one DATA frame on HTTP/2,
//! taken only when the connection can send it, so a slow client slows the
//! producer; when the client goes away the channel is closed.
//!
//! # Limits
//!
//! Every limit is a field of [`ServerOptions`] with its default documented
//! there: header read timeout (slowloris), body read timeout, idle timeout,
//! request-target and header sizes (414 / 431), body size (413), connection
//! count (503).
//!
//! # Raw mode
//!
//! [`start_server_raw`] hands the handler hyper's own request, with hyper's
//! body, on the same listener and shutdown.

mod body;
pub mod client;
mod conn_io;
pub(crate) mod decode;
mod handler;
mod incoming;
mod options;
mod params;
mod request;
mod respond;
mod response;
mod server;
pub mod sse;

pub use body::Body;
pub use client::{
    delete, get, head, options, patch, post, put, request, Client, ClientOptions, ClientResponse,
    EventSource, HostStats, IntoUrl, PoolStats, RequestBuilder, RequestOptions, SentRequest,
    Timings,
};
#[doc(hidden)]
pub use handler::markers;
pub use handler::Handler;
pub use options::{HttpVersion, RejectHandler, ServerOptions};
pub use params::Params;
pub use request::Request;
pub use response::{IntoResponse, Response};
pub use server::{start_server, start_server_raw};

pub use crate::net::ConnectionInfo;
pub use ::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
