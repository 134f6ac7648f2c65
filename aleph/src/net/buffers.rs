//! [`Buffers`]: how many bytes a connection holds for its user, each way.

/// The bytes a connection may hold in memory, each way, settable per server
/// and per client.
///
/// Both bounds count bytes, not chunks, so a connection costs the same
/// whether its peer sends one byte at a time or 64 KiB: a server with many
/// stuck peers holds at most about `read_ahead + write_high_water` (plus one
/// chunk in hand each way) for each of them.
///
/// - Reading: the connection reads ahead of its consumer until `read_ahead`
///   bytes wait, then stops reading, so the kernel's receive window closes
///   and the peer slows down.
/// - Writing: sends are accepted until `write_high_water` bytes wait to be
///   written; then a send waits until the socket has taken enough that fewer
///   than `write_low_water` bytes wait (Netty's water marks, with Netty's
///   defaults).
///
/// # Examples
///
/// A server for many mostly idle clients, holding little for each:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::net::Buffers;
/// use aleph::tcp::{self, TcpServerOptions};
///
/// let buffers = Buffers { read_ahead: 8 * 1024, write_low_water: 4 * 1024, write_high_water: 8 * 1024 };
/// let server = tcp::start_server(|_conn, _info| {}, TcpServerOptions { buffers, ..Default::default() }).await?;
/// server.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffers {
    /// Bytes read from the socket and not yet taken by the consumer before
    /// reading stops; it is also the largest chunk one read hands on.
    /// Default: 64 KiB. At least 1 is used.
    pub read_ahead: usize,
    /// Once a send has filled the write queue past `write_high_water`, sends
    /// wait until it is below this. Default: 32 KiB.
    pub write_low_water: usize,
    /// Bytes queued for writing before sends wait. Default: 64 KiB. At least
    /// 1 is used; a `write_low_water` above it counts as `write_high_water`.
    pub write_high_water: usize,
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers {
            read_ahead: 64 * 1024,
            write_low_water: 32 * 1024,
            write_high_water: 64 * 1024,
        }
    }
}

impl Buffers {
    /// The bounds with their floors applied.
    pub(crate) fn normalized(self) -> Buffers {
        let read_ahead = self.read_ahead.max(1);
        let write_high_water = self.write_high_water.max(1);
        Buffers {
            read_ahead,
            write_low_water: self.write_low_water.min(write_high_water),
            write_high_water,
        }
    }
}
