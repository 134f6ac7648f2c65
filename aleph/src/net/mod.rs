//! The seam every protocol stands on: listening, dialling, the connection
//! handler's shape, what a connection knows of itself, raw streams, the byte
//! pumps and the [`Server`] handle.
//!
//! TCP is a thin protocol over these parts (`tcp::start_server` is the
//! [listener](self#listening) plus the byte pumps); the HTTP server and client
//! will be two more. What two protocols need lives here, once.
//!
//! # Layers
//!
//! aleph's modules form layers, and imports only point down:
//!
//! ```text
//! core       stream, deferred, bytes, error   imports nothing above it
//! seam       net, tls                         imports the core
//! protocols  tcp, udp, http, dns              import net, tls and the core; never each other
//! users      the aleph command, the benchmarks    only the public API
//! ```
//!
//! The core carries nothing for a protocol (no protocol field in a stream,
//! no downcast back to a socket); a protocol never imports another (HTTP
//! stands on `net`, not on `tcp`); what two protocols share moves down here.
//! A test (`aleph/tests/layers.rs`) reads every module's `crate::` paths and
//! fails the build's tests when an import points the wrong way.
//!
//! # Listening
//!
//! A server binds TCP, a Unix socket or an adopted [`ListenSocket`]; its
//! accept loop caps open connections when asked (the next clients wait in
//! the kernel's backlog), logs accept errors and backs off from 5 ms up to
//! 1 s while they last, and runs each TLS handshake under its timeout in the
//! connection's own task, so a slow client holds up nobody else. Only then
//! does the protocol see the connection, as a [`RawStream`] and its
//! [`ConnectionInfo`].
//!
//! # Dialling
//!
//! A client resolves the host, tries its addresses in happy-eyeballs order
//! (the families alternating, RFC 8305 §4; each attempt given 250 ms before
//! the next starts alongside it), then does the TLS handshake; one
//! deadline covers all of it and the error names the step it cut short.
//!
//! # Raw mode
//!
//! Every protocol function that hands out aleph streams has a twin named
//! `<name>_raw` with the same options that hands out the tokio object instead
//! ([`RawStream`], tokio's `UdpSocket`): `tcp::start_server_raw`,
//! `tcp::client_raw`, `udp::socket_raw`. One suffix, so that each pair sits
//! together in the docs' index and in completion lists, and a reader sees at
//! the call which layer a line works at.

mod buffers;
pub(crate) mod connector;
mod handler;
mod info;
pub(crate) mod listener;
pub(crate) mod pump;
mod raw;
mod server;
mod socket;

pub use buffers::Buffers;
#[doc(hidden)]
pub use handler::markers;
pub(crate) use handler::run_handler;
pub use handler::HandlerOutput;
pub use info::ConnectionInfo;
pub use raw::RawStream;
pub use server::Server;
pub(crate) use server::Signal;
pub use socket::{ListenSocket, Socket};
