//! What a stream says about itself, for debugging a stuck pipeline.

use std::fmt;
use std::net::SocketAddr;

/// A snapshot of a stream's state: what it is, how full, who waits, whether it ended.
///
/// Returned by every handle's `description()`. Printing it (`{}`) gives one
/// line suitable for a log; the fields are there for code.
///
/// # Examples
///
/// ```
/// use aleph::stream::Channel;
///
/// let ch = Channel::<u32>::buffered(8);
/// ch.try_send(1).unwrap();
/// let d = ch.description();
/// assert_eq!((d.capacity, d.buffered, d.closed), (8, 1, false));
/// assert_eq!(d.to_string(), "channel: 1/8 buffered, 0 sends and 0 receives waiting, 1 sending and 1 receiving handles, open");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Description {
    /// What the stream is: `"channel"`, or the protocol that feeds it (`"tcp"`, ...).
    pub kind: &'static str,
    /// A label given by the user (for example through `ConnectOptions::label`).
    pub label: Option<String>,
    /// The buffer's capacity; 0 for an unbuffered (rendezvous) stream.
    pub capacity: usize,
    /// Values buffered now.
    pub buffered: usize,
    /// Sends parked, waiting for room.
    pub pending_sends: usize,
    /// Receives parked, waiting for a value.
    pub pending_recvs: usize,
    /// Live handles that can send.
    pub senders: usize,
    /// Live handles that can receive.
    pub receivers: usize,
    /// Closed: no more values will be accepted.
    pub closed: bool,
    /// Closed and everything buffered has been taken.
    pub drained: bool,
    /// Why the stream closed, if not cleanly.
    pub error: Option<String>,
    /// The remote address, for a stream fed by a connection.
    pub peer_addr: Option<SocketAddr>,
    /// The local address, for a stream fed by a connection.
    pub local_addr: Option<SocketAddr>,
    /// Values dropped because the stream was full: always 0 unless it was made
    /// to drop rather than wait ([`Channel::sliding`](super::Channel::sliding),
    /// [`Channel::dropping`](super::Channel::dropping)).
    pub dropped: u64,
    /// For a [`Duplex`](super::Duplex): the sending direction's description
    /// (this one describes the receiving direction).
    pub sink: Option<Box<Description>>,
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)?;
        if let Some(label) = &self.label {
            write!(f, " {label:?}")?;
        }
        if let Some(peer) = self.peer_addr {
            write!(f, " with {peer}")?;
        }
        if self.capacity == 0 {
            write!(f, ": unbuffered ({} held)", self.buffered)?;
        } else {
            write!(f, ": {}/{} buffered", self.buffered, self.capacity)?;
        }
        write!(
            f,
            ", {} sends and {} receives waiting, {} sending and {} receiving handles, ",
            self.pending_sends, self.pending_recvs, self.senders, self.receivers
        )?;
        if self.dropped > 0 {
            write!(f, "{} dropped, ", self.dropped)?;
        }
        f.write_str(match (self.closed, self.drained) {
            (false, _) => "open",
            (true, false) => "closed",
            (true, true) => "drained",
        })?;
        if let Some(error) = &self.error {
            write!(f, " ({error})")?;
        }
        if let Some(sink) = &self.sink {
            write!(f, "; sending: {sink}")?;
        }
        Ok(())
    }
}
