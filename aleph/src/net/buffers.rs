//! [`Buffers`]: how many bytes a connection holds for its user, each way.

/// The bytes a connection may hold in memory, each way, settable per server
/// and per client.
///
/// Both bounds count bytes, not chunks, so a connection costs the same
/// whether its peer sends one byte at a time or 64 KiB. Besides them, a
/// connection holds at most one chunk (of at most `read_ahead` bytes) in its
/// stream each way, the chunk a crossing of the high-water mark let in, and a
/// read buffer of `read_ahead` bytes. So the seed echo
/// (`connect(conn.clone(), conn)`, whose link holds one more chunk in hand)
/// with a peer that sends and never reads holds at most `6 × read_ahead +
/// write_high_water` (448 KiB by default); about 480 KiB of resident memory
/// per such connection was measured, the allocator's slack included, where
/// chunk-counted queues held 1.4 MB.
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
