//! UDP sockets as duplex streams of packets.
//!
//! [`socket`] binds a UDP socket and hands it out as a [`Duplex<Packet,
//! Packet>`]: what arrives is a stream of [`Packet`]s (the sender's address
//! and the message), and a packet sent goes to its address or host name.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aleph::Result<()> {
//! use aleph::udp::{self, Packet, UdpOptions};
//!
//! let server = udp::socket(UdpOptions { port: Some(0), host: "127.0.0.1".parse().unwrap(), ..Default::default() }).await?;
//! let server_addr = udp::local_addr(&server).unwrap();
//! let client = udp::socket(UdpOptions { host: "127.0.0.1".parse().unwrap(), ..Default::default() }).await?;
//!
//! udp::send(&client, Packet::new(server_addr, "ping")).await?;
//! let packet = server.recv().await.unwrap();
//! assert_eq!(packet.message, "ping");
//! # Ok(())
//! # }
//! ```
//!
//! # A bounded receive queue
//!
//! UDP cannot push back on a sender, so a consumer slower than the network
//! must lose packets somewhere. aleph loses them in one visible place: the
//! receive queue holds at most [`UdpOptions::queue`] packets, and when it is
//! full the [`UdpOptions::overflow`] policy drops the newest (default) or the
//! oldest packet. Every drop is counted in the stream's
//! [`description()`](crate::stream::Duplex::description) (`dropped`).
//! Memory stays bounded whatever the network sends.
//!
//! # Send errors
//!
//! A packet sent through the duplex is queued; the socket's task sends it.
//! [`send`] waits for that and returns the operating system's answer (message
//! too large, network unreachable, ...) as an error on that send. Errors of
//! packets sent through the duplex directly are logged and counted, and the
//! socket keeps working either way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;

use crate::deferred::Deferred;
use crate::stream::{Channel, Duplex, Meta, Overflow as ChannelOverflow, Receiver, Sender};
use crate::{Error, ErrorKind, Result};

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
/// ones carry a destination address or a host name to resolve.
#[derive(Clone, Debug)]
pub struct Packet {
    /// The sender (incoming) or the destination (outgoing).
    pub peer: Peer,
    /// The datagram's payload.
    pub message: Bytes,
    /// Realized with the send's outcome, for [`send`].
    receipt: Option<Deferred<()>>,
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
            receipt: None,
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
            receipt: None,
        }
    }

    /// The peer's address, when it is one (always, for incoming packets).
    pub fn addr(&self) -> Option<SocketAddr> {
        match self.peer {
            Peer::Addr(addr) => Some(addr),
            Peer::Host(..) => None,
        }
    }
}

impl PartialEq for Packet {
    fn eq(&self, other: &Packet) -> bool {
        self.peer == other.peer && self.message == other.message
    }
}

impl Eq for Packet {}

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
    pub fn group(group: IpAddr) -> Multicast {
        Multicast {
            group,
            interface_v4: Ipv4Addr::UNSPECIFIED,
            interface_v6: 0,
        }
    }
}

/// Options of [`socket`]. The default binds an ephemeral port on all IPv4
/// interfaces, as Aleph's socket without a port.
#[derive(Clone, Debug)]
pub struct UdpOptions {
    /// The port to bind; `None` binds an ephemeral port (a client socket that
    /// sends, and receives the replies). Default: none.
    pub port: Option<u16>,
    /// The address to bind. Default: 0.0.0.0 (use `::` for IPv6).
    pub host: IpAddr,
    /// Allow sending to broadcast addresses (`SO_BROADCAST`). Default: false.
    pub broadcast: bool,
    /// Multicast groups to join. Default: none.
    pub multicast: Vec<Multicast>,
    /// Multicast TTL (IPv4) or hop limit (IPv6) of packets sent. Default: the
    /// system's (1).
    pub multicast_ttl: Option<u32>,
    /// Whether multicast packets sent loop back to this host. Default: the
    /// system's (on).
    pub multicast_loop: Option<bool>,
    /// `SO_REUSEADDR`, so several sockets may bind one multicast port. Default: false.
    pub reuse_address: bool,
    /// The kernel's receive buffer size (`SO_RCVBUF`). Default: the system's.
    pub recv_buffer_size: Option<usize>,
    /// The kernel's send buffer size (`SO_SNDBUF`). Default: the system's.
    pub send_buffer_size: Option<usize>,
    /// The largest datagram received whole; longer ones are cut to this size
    /// by the system. Default: 65 536.
    pub max_datagram_size: usize,
    /// Packets held for the consumer before [`overflow`](Self::overflow)
    /// applies. Default: 1024.
    pub queue: usize,
    /// Which packet a full receive queue drops. Default: the newest.
    pub overflow: Overflow,
}

impl Default for UdpOptions {
    fn default() -> UdpOptions {
        UdpOptions {
            port: None,
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            broadcast: false,
            multicast: Vec::new(),
            multicast_ttl: None,
            multicast_loop: None,
            reuse_address: false,
            recv_buffer_size: None,
            send_buffer_size: None,
            max_datagram_size: 65_536,
            queue: 1024,
            overflow: Overflow::DropNewest,
        }
    }
}

/// Packets queued for sending before a send waits: 64.
const OUTBOUND_PACKETS: usize = 64;

/// Binds a UDP socket with `options`, every option applied: raw mode, for
/// code that wants tokio's `UdpSocket` itself.
///
/// # Errors
///
/// [`Io`](ErrorKind::Io) naming the address when binding or an option fails
/// (address in use, a group that is not multicast, ...).
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn bind(options: &UdpOptions) -> Result<UdpSocket> {
    let addr = SocketAddr::new(options.host, options.port.unwrap_or(0));
    let fail =
        |what: &str, e: std::io::Error| Error::from_io(e, format!("UDP socket on {addr}: {what}"));
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
        .map_err(|e| fail("cannot create", e))?;
    socket
        .set_reuse_address(options.reuse_address)
        .map_err(|e| fail("SO_REUSEADDR", e))?;
    if options.broadcast {
        socket
            .set_broadcast(true)
            .map_err(|e| fail("SO_BROADCAST", e))?;
    }
    if let Some(size) = options.recv_buffer_size {
        socket
            .set_recv_buffer_size(size)
            .map_err(|e| fail("SO_RCVBUF", e))?;
    }
    if let Some(size) = options.send_buffer_size {
        socket
            .set_send_buffer_size(size)
            .map_err(|e| fail("SO_SNDBUF", e))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| fail("non-blocking mode", e))?;
    socket
        .bind(&addr.into())
        .map_err(|e| fail("cannot bind", e))?;
    let socket = UdpSocket::from_std(socket.into()).map_err(|e| fail("cannot register", e))?;
    for join in &options.multicast {
        match join.group {
            IpAddr::V4(group) => socket.join_multicast_v4(group, join.interface_v4),
            IpAddr::V6(group) => socket.join_multicast_v6(&group, join.interface_v6),
        }
        .map_err(|e| fail(&format!("cannot join multicast group {}", join.group), e))?;
    }
    if let Some(ttl) = options.multicast_ttl {
        match options.host {
            IpAddr::V4(_) => socket.set_multicast_ttl_v4(ttl),
            IpAddr::V6(_) => socket2::SockRef::from(&socket).set_multicast_hops_v6(ttl),
        }
        .map_err(|e| fail("multicast TTL", e))?;
    }
    if let Some(on) = options.multicast_loop {
        match options.host {
            IpAddr::V4(_) => socket.set_multicast_loop_v4(on),
            IpAddr::V6(_) => socket.set_multicast_loop_v6(on),
        }
        .map_err(|e| fail("multicast loop", e))?;
    }
    Ok(socket)
}

/// Binds a UDP socket and yields it as a duplex stream of packets.
///
/// Received packets wait in a bounded queue (see the [module docs](self));
/// packets sent are queued (at most 64) and sent in order by the socket's
/// task. Closing the duplex stops sending once the queue is sent; dropping
/// every clone closes the socket.
///
/// # Errors
///
/// As [`bind`].
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn socket(options: UdpOptions) -> Result<Duplex<Packet, Packet>> {
    let socket = Arc::new(bind(&options).await?);
    let local = socket.local_addr().ok();
    let overflow = match options.overflow {
        Overflow::DropNewest => ChannelOverflow::DropNewest,
        Overflow::DropOldest => ChannelOverflow::DropOldest,
    };
    let meta = |overflow| Meta {
        kind: "udp",
        overflow,
        local_addr: local,
        ..Meta::default()
    };
    let (in_tx, in_rx) = Channel::with_meta(options.queue.max(1), meta(overflow)).split();
    // The outbound channel keeps the socket, so udp::join / leave reach it.
    let outbound_meta = Meta {
        attachment: Some(socket.clone()),
        ..meta(ChannelOverflow::Wait)
    };
    let (out_tx, out_rx) = Channel::with_meta(OUTBOUND_PACKETS, outbound_meta).split();
    tokio::spawn(receive(
        socket.clone(),
        in_tx,
        options.max_datagram_size.max(1),
    ));
    tokio::spawn(transmit(socket, out_rx));
    Ok(Duplex::from_parts(in_rx, out_tx))
}

/// The tokio socket behind a duplex made by [`socket`].
fn inner(socket: &Duplex<Packet, Packet>) -> Result<Arc<UdpSocket>> {
    socket
        .sender()
        .shared()
        .attachment()
        .and_then(|any| any.downcast::<UdpSocket>().ok())
        .ok_or_else(|| Error::new(ErrorKind::Io, "not a UDP socket made by udp::socket"))
}

/// Joins a multicast group on a running socket.
///
/// # Errors
///
/// [`Io`](ErrorKind::Io) naming the group when the system refuses (not a
/// multicast address, no such interface), or when `socket` was not made by
/// [`socket`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::udp::{self, Multicast, UdpOptions};
///
/// let socket = udp::socket(UdpOptions { reuse_address: true, ..Default::default() }).await?;
/// let group = Multicast { interface_v4: "127.0.0.1".parse().unwrap(), ..Multicast::group("239.255.0.7".parse().unwrap()) };
/// udp::join(&socket, &group)?;
/// udp::leave(&socket, &group)?;
/// # Ok(())
/// # }
/// ```
pub fn join(socket: &Duplex<Packet, Packet>, group: &Multicast) -> Result<()> {
    let inner = inner(socket)?;
    match group.group {
        IpAddr::V4(addr) => inner.join_multicast_v4(addr, group.interface_v4),
        IpAddr::V6(addr) => inner.join_multicast_v6(&addr, group.interface_v6),
    }
    .map_err(|e| Error::from_io(e, format!("cannot join multicast group {}", group.group)))
}

/// Leaves a multicast group joined at start or with [`join`].
///
/// # Errors
///
/// [`Io`](ErrorKind::Io) naming the group when the system refuses (a group
/// not joined), or when `socket` was not made by [`socket`].
pub fn leave(socket: &Duplex<Packet, Packet>, group: &Multicast) -> Result<()> {
    let inner = inner(socket)?;
    match group.group {
        IpAddr::V4(addr) => inner.leave_multicast_v4(addr, group.interface_v4),
        IpAddr::V6(addr) => inner.leave_multicast_v6(&addr, group.interface_v6),
    }
    .map_err(|e| Error::from_io(e, format!("cannot leave multicast group {}", group.group)))
}

/// The local address of a socket made by [`socket`].
pub fn local_addr(socket: &Duplex<Packet, Packet>) -> Option<SocketAddr> {
    socket.description().local_addr
}

/// Sends `packet` through `socket` and waits until the system took it.
///
/// # Errors
///
/// The send's own failure: [`Closed`](ErrorKind::Closed) once the socket is
/// closed, [`Dns`](ErrorKind::Dns) for a host that does not resolve, and the
/// operating system's refusal ([`Io`](ErrorKind::Io): message too long,
/// network unreachable, permission denied for a broadcast without
/// `broadcast`). The socket keeps working after an error.
///
/// # Cancel safety
///
/// Not cancel safe: once queued, a dropped `send` still goes out.
pub async fn send(socket: &Duplex<Packet, Packet>, mut packet: Packet) -> Result<()> {
    let receipt = Deferred::new();
    packet.receipt = Some(receipt.clone());
    if socket.send(packet).await.is_err() {
        return Err(Error::new(ErrorKind::Closed, "send on a closed UDP socket"));
    }
    receipt.await
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
                    receipt: None,
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
        let outcome = send_one(&socket, &packet).await;
        match (packet.receipt, outcome) {
            (Some(receipt), outcome) => {
                let _ = match outcome {
                    Ok(()) => receipt.success(()),
                    Err(error) => receipt.error(error),
                };
            }
            (None, Ok(())) => {}
            (None, Err(error)) => {
                let n = failures.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(%error, failures = n, "UDP send failed");
            }
        }
    }
}

async fn send_one(socket: &UdpSocket, packet: &Packet) -> Result<()> {
    let addr = match &packet.peer {
        Peer::Addr(addr) => *addr,
        Peer::Host(host, port) => pick(crate::net::resolve(host, *port).await?, socket, host)?,
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
