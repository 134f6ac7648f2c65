//! UDP sockets as streams of packets.
//!
//! [`socket`] binds a UDP socket and hands it out as a [`Socket`]: what
//! arrives is a stream of [`Packet`]s (the sender's address and the message);
//! [`Socket::send_to`] sends one and returns the system's answer; and
//! [`Socket::into_duplex`] gives the socket as a [`Duplex<Packet, Packet>`]
//! for [`stream::connect`](crate::stream::connect) and the stream operators.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::udp::{self, Packet, UdpOptions};
//!
//! let server = udp::socket(UdpOptions::default()).await?; // 127.0.0.1, a free port
//! let client = udp::socket(UdpOptions::default()).await?;
//!
//! client.send_to(Packet::new(server.local_addr(), "ping")).await?;
//! let packet = server.recv().await.unwrap();
//! assert_eq!(packet.message, "ping");
//! assert_eq!(packet.addr(), Some(client.local_addr()));
//! # Ok(())
//! # }
//! ```
//!
//! # A bounded receive queue
//!
//! UDP cannot push back on a sender, so a consumer slower than the network
//! must lose packets somewhere. aleph loses them in one visible place: the
//! receive queue holds at most [`UdpOptions::recv_queue`] packets, and when
//! it is full the [`UdpOptions::overflow`] policy drops the newest (default)
//! or the oldest packet. Every drop is counted in the socket's
//! [`description()`](Socket::description) (`dropped`). Memory stays bounded
//! whatever the network sends.
//!
//! # Sending, and send errors
//!
//! [`Socket::send_to`] sends at once and returns the operating system's
//! answer (message too large, network unreachable, ...) as its own error.
//! Packets sent through the duplex are queued (at most
//! [`UdpOptions::send_queue`]) and sent in order by the socket's task; their
//! errors are logged and counted, and the socket keeps working either way.
//!
//! # Raw mode
//!
//! [`socket_raw`] takes the same options and hands out tokio's `UdpSocket`
//! with every option applied (see [`net`](crate::net#raw-mode) for the naming).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;

use crate::net::connector::resolve;
use crate::stream::{Channel, Duplex, Receiver, Sender};
use crate::{Error, ErrorKind, Result};

mod options;
mod socket;

pub use options::UdpOptions;
pub use socket::Socket;

/// Where a packet comes from or goes to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A socket address.
    Addr(SocketAddr),
    /// A host name and port, resolved when the packet is sent (outgoing only).
    Host(String, u16),
}

/// A datagram: its peer and its message.
///
/// Incoming packets carry the sender's address in [`Peer::Addr`]; outgoing
/// ones carry a destination address or a host name to resolve. Plain data:
/// two packets are equal when their peers and messages are.
///
/// # Examples
///
/// ```
/// use aleph::udp::{Packet, Peer};
///
/// let packet = Packet { peer: Peer::Host("localhost".into(), 9), message: "hi".into() };
/// assert_eq!(packet, Packet::to_host("localhost", 9, "hi"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The sender (incoming) or the destination (outgoing).
    pub peer: Peer,
    /// The datagram's payload.
    pub message: Bytes,
}

impl Packet {
    /// A packet for `addr`; the message is anything that converts to [`Bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::udp::Packet;
    ///
    /// let p = Packet::new("127.0.0.1:9".parse().unwrap(), "hello");
    /// assert_eq!(p.message, "hello");
    /// ```
    pub fn new(addr: SocketAddr, message: impl Into<Bytes>) -> Packet {
        Packet {
            peer: Peer::Addr(addr),
            message: message.into(),
        }
    }

    /// A packet for `host:port`, the host resolved as the TCP client resolves it.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::udp::{Packet, Peer};
    ///
    /// let p = Packet::to_host("localhost", 8125, "hits:1|c");
    /// assert_eq!(p.peer, Peer::Host("localhost".into(), 8125));
    /// ```
    pub fn to_host(host: impl Into<String>, port: u16, message: impl Into<Bytes>) -> Packet {
        Packet {
            peer: Peer::Host(host.into(), port),
            message: message.into(),
        }
    }

    /// The peer's address, when it is one (always, for incoming packets).
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::udp::Packet;
    ///
    /// let addr = "127.0.0.1:9".parse().unwrap();
    /// assert_eq!(Packet::new(addr, "x").addr(), Some(addr));
    /// assert_eq!(Packet::to_host("localhost", 9, "x").addr(), None);
    /// ```
    pub fn addr(&self) -> Option<SocketAddr> {
        match self.peer {
            Peer::Addr(addr) => Some(addr),
            Peer::Host(..) => None,
        }
    }
}

/// Which packet the receive queue drops when it is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the packet that just arrived, keeping the older ones. The default.
    #[default]
    DropNewest,
    /// Drop the oldest packet waiting, keeping the newest ones.
    DropOldest,
}

/// A multicast group to join when the socket is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Multicast {
    /// The group's address: IPv4 (224.0.0.0/4) or IPv6 (ff00::/8).
    pub group: IpAddr,
    /// For IPv4, the local interface's address (unspecified: the system's
    /// choice); ignored for IPv6.
    pub interface_v4: Ipv4Addr,
    /// For IPv6, the interface index (0: the system's choice); ignored for IPv4.
    pub interface_v6: u32,
}

impl Multicast {
    /// The group on the system's default interface.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::udp::Multicast;
    ///
    /// let group = Multicast::group("239.255.0.1".parse().unwrap());
    /// assert!(group.interface_v4.is_unspecified());
    /// ```
    pub fn group(group: IpAddr) -> Multicast {
        Multicast {
            group,
            interface_v4: Ipv4Addr::UNSPECIFIED,
            interface_v6: 0,
        }
    }
}

/// Binds a UDP socket with `options`, every option applied, and hands out
/// tokio's `UdpSocket` itself: raw mode.
///
/// # Errors
///
/// [`Io`](ErrorKind::Io) naming the address when binding or an option fails
/// (address in use, a group that is not multicast, ...).
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// Cancel safe: the socket is bound in the future's first poll, which also
/// completes it; a future dropped before that binds nothing.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use aleph::udp::{self, UdpOptions};
///
/// let raw = udp::socket_raw(UdpOptions { broadcast: true, ..Default::default() }).await?;
/// assert!(raw.broadcast()?);
/// raw.send_to(b"to myself", raw.local_addr()?).await?;
/// let mut buf = [0u8; 16];
/// let (n, _from) = raw.recv_from(&mut buf).await?;
/// assert_eq!(&buf[..n], b"to myself");
/// # Ok(())
/// # }
/// ```
pub async fn socket_raw(options: UdpOptions) -> Result<UdpSocket> {
    let addr = SocketAddr::new(options.host, options.port);
    let fail = |what: &str, e: std::io::Error| {
        Error::from_io(e, format!("UDP socket on {addr}: {what} failed"))
    };
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
        .map_err(|e| fail("creating it", e))?;
    socket
        .set_reuse_address(options.reuse_address)
        .map_err(|e| fail("setting SO_REUSEADDR", e))?;
    if options.broadcast {
        socket
            .set_broadcast(true)
            .map_err(|e| fail("setting SO_BROADCAST", e))?;
    }
    if let Some(size) = options.recv_buffer_size {
        socket
            .set_recv_buffer_size(size)
            .map_err(|e| fail("setting SO_RCVBUF", e))?;
    }
    if let Some(size) = options.send_buffer_size {
        socket
            .set_send_buffer_size(size)
            .map_err(|e| fail("setting SO_SNDBUF", e))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| fail("setting non-blocking mode", e))?;
    socket.bind(&addr.into()).map_err(|e| fail("binding", e))?;
    let socket =
        UdpSocket::from_std(socket.into()).map_err(|e| fail("registering it with tokio", e))?;
    for join in &options.multicast {
        match join.group {
            IpAddr::V4(group) => socket.join_multicast_v4(group, join.interface_v4),
            IpAddr::V6(group) => socket.join_multicast_v6(&group, join.interface_v6),
        }
        .map_err(|e| fail(&format!("joining multicast group {}", join.group), e))?;
    }
    if let Some(ttl) = options.multicast_ttl {
        match options.host {
            IpAddr::V4(_) => socket.set_multicast_ttl_v4(ttl),
            IpAddr::V6(_) => socket2::SockRef::from(&socket).set_multicast_hops_v6(ttl),
        }
        .map_err(|e| fail("setting the multicast TTL", e))?;
    }
    if let Some(on) = options.multicast_loop {
        match options.host {
            IpAddr::V4(_) => socket.set_multicast_loop_v4(on),
            IpAddr::V6(_) => socket.set_multicast_loop_v6(on),
        }
        .map_err(|e| fail("setting multicast loop", e))?;
    }
    Ok(socket)
}

/// Binds a UDP socket and yields it as a [`Socket`]: a stream of the packets
/// that arrive, and a way to send.
///
/// Received packets wait in a bounded queue (see the [module docs](self)).
/// The socket closes when [`close`](Socket::close) is called or every clone
/// (and every duplex made from one) is dropped.
///
/// # Errors
///
/// As [`socket_raw`].
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// Cancel safe: the socket is bound in the future's first poll, which also
/// completes it; a future dropped before that binds nothing.
///
/// # Examples
///
/// An echo: every packet that arrives goes back to its sender, through
/// [`stream::connect`](crate::stream::connect).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::stream::{self, ConnectOptions};
/// use aleph::udp::{self, Packet, UdpOptions};
///
/// let echo = udp::socket(UdpOptions::default()).await?;
/// let echo_addr = echo.local_addr();
/// let duplex = echo.into_duplex();
/// stream::connect(duplex.clone(), duplex, ConnectOptions::default());
///
/// let client = udp::socket(UdpOptions::default()).await?;
/// client.send_to(Packet::new(echo_addr, "marco")).await?;
/// let reply = client.recv().await.unwrap();
/// assert_eq!((reply.addr(), reply.message.as_ref()), (Some(echo_addr), &b"marco"[..]));
/// # Ok(())
/// # }
/// ```
pub async fn socket(options: UdpOptions) -> Result<Socket> {
    let recv_queue = options.recv_queue.max(1);
    let send_queue = options.send_queue.max(1);
    let (overflow, max_datagram_size) = (options.overflow, options.max_datagram_size.max(1));
    let socket = Arc::new(socket_raw(options).await?);
    let local_addr = socket
        .local_addr()
        .map_err(|e| Error::from_io(e, "cannot read the UDP socket's address"))?;
    let inbound = match overflow {
        Overflow::DropNewest => Channel::dropping(recv_queue),
        Overflow::DropOldest => Channel::sliding(recv_queue),
    };
    let outbound = Channel::buffered(send_queue);
    for channel in [&inbound, &outbound] {
        channel.describe_as("udp", Some(local_addr), None);
    }
    let (in_tx, in_rx) = inbound.split();
    let (out_tx, out_rx) = outbound.split();
    tokio::spawn(receive(socket.clone(), in_tx, max_datagram_size));
    tokio::spawn(transmit(socket.clone(), out_rx));
    Ok(Socket::new(
        socket,
        local_addr,
        Duplex::from_parts(in_rx, out_tx),
    ))
}

async fn receive(socket: Arc<UdpSocket>, inbound: Sender<Packet>, max: usize) {
    // One reused buffer, each datagram copied out at its own size: slices of
    // a shared buffer would keep `max` bytes alive per queued packet.
    let mut scratch = vec![0u8; max];
    let closed = inbound.closed();
    let mut closed = std::pin::pin!(closed);
    loop {
        let received = tokio::select! {
            biased;
            received = socket.recv_from(&mut scratch) => received,
            () = &mut closed => return,
        };
        match received {
            Ok((n, from)) => {
                let packet = Packet {
                    peer: Peer::Addr(from),
                    message: Bytes::copy_from_slice(&scratch[..n]),
                };
                // A full queue drops by its policy and counts it: never waits.
                if inbound.try_send(packet).is_err() {
                    return;
                }
            }
            // ICMP errors from earlier sends surface here on some systems
            // (connection refused); they are about sends, not this socket.
            Err(error) => tracing::debug!(%error, "UDP receive error"),
        }
    }
}

async fn transmit(socket: Arc<UdpSocket>, outbound: Receiver<Packet>) {
    let failures = AtomicU64::new(0);
    while let Some(packet) = outbound.recv().await {
        if let Err(error) = send_one(&socket, &packet).await {
            let n = failures.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(%error, failures = n, "UDP send failed");
        }
    }
}

pub(super) async fn send_one(socket: &UdpSocket, packet: &Packet) -> Result<()> {
    let addr = match &packet.peer {
        Peer::Addr(addr) => *addr,
        Peer::Host(host, port) => pick(resolve(host, *port).await?, socket, host)?,
    };
    match socket.send_to(&packet.message, addr).await {
        Ok(_) => Ok(()),
        Err(error) => Err(Error::from_io(
            error,
            format!(
                "UDP send of {} bytes to {addr} failed",
                packet.message.len()
            ),
        )),
    }
}

/// The first resolved address of the socket's family.
fn pick(addrs: Vec<SocketAddr>, socket: &UdpSocket, host: &str) -> Result<SocketAddr> {
    let v4 = socket.local_addr().map(|a| a.is_ipv4()).unwrap_or(true);
    addrs
        .into_iter()
        .find(|a| a.is_ipv4() == v4)
        .ok_or_else(|| {
            let family = if v4 { "IPv4" } else { "IPv6" };
            Error::new(
                ErrorKind::Dns,
                format!("{host} has no {family} address for this socket"),
            )
        })
}
