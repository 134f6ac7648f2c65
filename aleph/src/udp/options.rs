//! [`UdpOptions`]: how a UDP socket is bound and what it holds.

use std::net::{IpAddr, Ipv4Addr};

use super::{Multicast, Overflow};

/// Options of [`socket`](super::socket) and [`socket_raw`](super::socket_raw). The default binds a free port on
/// 127.0.0.1, as a TCP server's options do.
///
/// # Examples
///
/// A socket other hosts can reach, on a port of its own, with a deeper
/// receive queue:
///
/// ```
/// use aleph::udp::UdpOptions;
///
/// let options = UdpOptions {
///     host: "0.0.0.0".parse().unwrap(),
///     port: 5353,
///     recv_queue: 4096,
///     ..Default::default()
/// };
/// assert!(options.reuse_address); // as for TCP
/// ```
#[derive(Clone, Debug)]
pub struct UdpOptions {
    /// The port to bind; 0 picks a free one (a client socket that sends and
    /// receives the replies). Default: 0.
    pub port: u16,
    /// The address to bind. Default: 127.0.0.1 (loopback only; use `0.0.0.0`
    /// or `::` to receive from other hosts).
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
    /// `SO_REUSEADDR`. For UDP it lets several sockets that all set it bind
    /// one port (sharing a multicast port); set it to false to make a port
    /// clash an error. Default: true, as for TCP.
    pub reuse_address: bool,
    /// The kernel's receive buffer size (`SO_RCVBUF`). Default: the system's.
    pub recv_buffer_size: Option<usize>,
    /// The kernel's send buffer size (`SO_SNDBUF`). Default: the system's.
    pub send_buffer_size: Option<usize>,
    /// The largest datagram received whole; longer ones are cut to this size
    /// by the system. Default: 65 536.
    pub max_datagram_size: usize,
    /// Packets held for the consumer before [`overflow`](Self::overflow)
    /// applies. Default: 1024. At least 1 is used.
    pub recv_queue: usize,
    /// Which packet a full receive queue drops. Default: the newest.
    pub overflow: Overflow,
    /// Packets sent through the duplex queued for the socket's task before a
    /// send waits. Default: 64. At least 1 is used.
    pub send_queue: usize,
}

impl Default for UdpOptions {
    fn default() -> UdpOptions {
        UdpOptions {
            port: 0,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            broadcast: false,
            multicast: Vec::new(),
            multicast_ttl: None,
            multicast_loop: None,
            reuse_address: true,
            recv_buffer_size: None,
            send_buffer_size: None,
            max_datagram_size: 65_536,
            recv_queue: 1024,
            overflow: Overflow::DropNewest,
            send_queue: 64,
        }
    }
}
