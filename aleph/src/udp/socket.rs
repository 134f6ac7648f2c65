//! [`Socket`]: a bound UDP socket as a stream of packets, with a way to send.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::net::UdpSocket;

use super::{send_one, Multicast, Packet};
use crate::stream::{ChannelSink, Description, Duplex, TryRecvError};
use crate::{Error, ErrorKind, Result};

/// A UDP socket made by [`socket`](super::socket): a stream of the packets that arrive
/// (`futures::Stream<Item = Packet>`), a way to send, and the socket's
/// multicast memberships.
///
/// Cloning is cheap; every clone is the same socket, and receives take turns
/// on one queue.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::udp::{self, Packet, UdpOptions};
/// use futures::StreamExt;
///
/// let mut socket = udp::socket(UdpOptions::default()).await?;
/// let me = socket.local_addr();
/// socket.send_to(Packet::new(me, "one")).await?;
/// socket.send_to(Packet::new(me, "two")).await?;
/// let first_two: Vec<Packet> = (&mut socket).take(2).collect().await;
/// assert_eq!(first_two, [Packet::new(me, "one"), Packet::new(me, "two")]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Socket {
    socket: Arc<UdpSocket>,
    local_addr: SocketAddr,
    duplex: Duplex<Packet, Packet>,
}

impl Socket {
    pub(super) fn new(
        socket: Arc<UdpSocket>,
        local_addr: SocketAddr,
        duplex: Duplex<Packet, Packet>,
    ) -> Socket {
        Socket {
            socket,
            local_addr,
            duplex,
        }
    }

    /// The address the socket is bound to (with the port chosen for port 0).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// assert!(socket.local_addr().ip().is_loopback());
    /// assert_ne!(socket.local_addr().port(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends `packet` now and returns the system's answer.
    ///
    /// It does not go through the send queue of the duplex (so it is not
    /// ordered with packets sent there).
    ///
    /// # Errors
    ///
    /// This send's own failure: [`Closed`](ErrorKind::Closed) once the
    /// socket was [closed](Socket::close), [`Dns`](ErrorKind::Dns) for a host that
    /// does not resolve (or has no address of the socket's family), and the
    /// operating system's refusal ([`Io`](ErrorKind::Io): message too long,
    /// network unreachable, permission denied for a broadcast without
    /// `broadcast`). The socket keeps working after an error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a `send_to` dropped before it completes sends nothing,
    /// or the whole datagram (UDP never sends part of one).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, Packet, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// socket.send_to(Packet::to_host("localhost", socket.local_addr().port(), "hi")).await?;
    /// let huge = Packet::new(socket.local_addr(), vec![0u8; 70_000]);
    /// let err = socket.send_to(huge).await.unwrap_err(); // over UDP's 65,507 bytes
    /// assert!(err.is_io());
    /// assert_eq!(socket.recv().await.unwrap().message, "hi"); // still working
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_to(&self, packet: Packet) -> Result<()> {
        if self.duplex.is_closed() {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("send on the closed UDP socket {}", self.local_addr),
            ));
        }
        send_one(&self.socket, &packet).await
    }

    /// The next packet that arrived, waiting for one; `None` once the socket
    /// has stopped receiving and its queue is drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a `recv` dropped before it completes loses no packet.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, Packet, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// socket.send_to(Packet::new(socket.local_addr(), "loop")).await?;
    /// assert_eq!(socket.recv().await.map(|p| p.message), Some("loop".into()));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&self) -> Option<Packet> {
        self.duplex.recv().await
    }

    /// A packet already queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is queued, [`TryRecvError::Drained`]
    /// once the socket is closed and its queue drained.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::stream::TryRecvError;
    /// use aleph::udp::{self, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// assert_eq!(socket.try_recv(), Err(TryRecvError::Empty));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_recv(&self) -> std::result::Result<Packet, TryRecvError> {
        self.duplex.try_recv()
    }

    /// Joins a multicast group on the running socket.
    ///
    /// # Errors
    ///
    /// [`Io`](ErrorKind::Io) naming the group when the system refuses (not a
    /// multicast address, no such interface).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, Multicast, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions { host: "0.0.0.0".parse().unwrap(), ..Default::default() }).await?;
    /// let group = Multicast { interface_v4: "127.0.0.1".parse().unwrap(), ..Multicast::group("239.255.0.7".parse().unwrap()) };
    /// socket.join(&group)?;
    /// socket.leave(&group)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn join(&self, group: &Multicast) -> Result<()> {
        match group.group {
            IpAddr::V4(addr) => self.socket.join_multicast_v4(addr, group.interface_v4),
            IpAddr::V6(addr) => self.socket.join_multicast_v6(&addr, group.interface_v6),
        }
        .map_err(|e| Error::from_io(e, format!("cannot join multicast group {}", group.group)))
    }

    /// Leaves a multicast group joined at start or with [`join`](Socket::join).
    ///
    /// # Errors
    ///
    /// [`Io`](ErrorKind::Io) naming the group when the system refuses (a
    /// group not joined).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, Multicast, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// let group = Multicast::group("239.255.0.8".parse().unwrap());
    /// assert!(socket.leave(&group).unwrap_err().is_io()); // never joined
    /// # Ok(())
    /// # }
    /// ```
    pub fn leave(&self, group: &Multicast) -> Result<()> {
        match group.group {
            IpAddr::V4(addr) => self.socket.leave_multicast_v4(addr, group.interface_v4),
            IpAddr::V6(addr) => self.socket.leave_multicast_v6(&addr, group.interface_v6),
        }
        .map_err(|e| Error::from_io(e, format!("cannot leave multicast group {}", group.group)))
    }

    /// What the socket's receive queue holds and dropped (`dropped`), with
    /// the send queue's state in `sink`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions { recv_queue: 8, ..Default::default() }).await?;
    /// let d = socket.description();
    /// assert_eq!((d.kind, d.capacity, d.dropped), ("udp", 8, 0));
    /// assert_eq!(d.local_addr, Some(socket.local_addr()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn description(&self) -> Description {
        self.duplex.description()
    }

    /// Closes the sending side for every clone, as a duplex's `close` does:
    /// packets already queued still go out, later sends fail. Packets still
    /// arrive until every handle is dropped, which closes the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, Packet, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// socket.close();
    /// assert!(socket.send_to(Packet::new(socket.local_addr(), "late")).await.unwrap_err().is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn close(&self) {
        self.duplex.close();
    }

    /// True once the sending side was [closed](Socket::close).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// assert!(!socket.is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.duplex.is_closed()
    }

    /// A [`futures::Sink`](futures_sink::Sink) of packets, queued as the
    /// duplex's sends are.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, Packet, UdpOptions};
    /// use futures::SinkExt;
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// let mut sink = socket.sink();
    /// sink.send(Packet::new(socket.local_addr(), "via a sink")).await?;
    /// assert_eq!(socket.recv().await.unwrap().message, "via a sink");
    /// # Ok(())
    /// # }
    /// ```
    pub fn sink(&self) -> ChannelSink<Packet> {
        self.duplex.sink()
    }

    /// The socket as a [`Duplex<Packet, Packet>`]: what arrives is its
    /// stream; a packet sent is queued and sent in order by the socket's task
    /// (failures logged and counted, the socket working on). For
    /// [`stream::connect`](crate::stream::connect) and the operators.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aleph::Result<()> {
    /// use aleph::udp::{self, Packet, UdpOptions};
    ///
    /// let socket = udp::socket(UdpOptions::default()).await?;
    /// let me = socket.local_addr();
    /// let duplex = socket.into_duplex();
    /// duplex.send(Packet::new(me, "queued")).await.unwrap();
    /// assert_eq!(duplex.recv().await.unwrap().message, "queued");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_duplex(self) -> Duplex<Packet, Packet> {
        self.duplex
    }
}

impl Stream for Socket {
    type Item = Packet;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Packet>> {
        Pin::new(&mut self.get_mut().duplex).poll_next(cx)
    }
}
