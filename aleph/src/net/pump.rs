//! A byte connection as a `Duplex<Bytes, Bytes>`: one future reads, one writes,
//! both in the connection's task. What each holds is bounded in bytes by
//! [`Buffers`].
//!
//! The reader hands each read on as a chunk of its exact size. While the
//! consumer has not taken the last chunk, what arrives is gathered into the
//! next one, and once [`Buffers::read_ahead`] bytes wait the reader stops
//! reading: the kernel's receive window closes and the peer slows down.
//!
//! The writer takes chunks from the duplex into its queue while fewer than
//! [`Buffers::write_high_water`] bytes wait and writes them (vectored, in
//! order); past the high-water mark it takes nothing, so sends wait, until the
//! socket has drained the queue below [`Buffers::write_low_water`]. It flushes
//! whenever the queue runs dry. When the duplex's sending side is closed and
//! drained, the writer shuts the write side down (a FIN on TCP) after
//! everything sent was written; the reader goes on until the peer closes its side.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Buffers, ConnectionInfo, RawStream, Socket};
use crate::stream::{Channel, Duplex, Receiver, Sender, TryRecvError};
use crate::{Error, ErrorKind};

/// A boxed future of nothing, as the tasks here run them.
type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The duplex of bytes of an established connection (plain, TLS, Unix) and
/// the future that serves it: how a protocol whose messages are bytes (TCP,
/// a WebSocket after its upgrade) hands a connection to its user.
pub(crate) fn duplex_of(
    stream: RawStream,
    info: &ConnectionInfo,
    buffers: Buffers,
) -> (Duplex<Bytes, Bytes>, BoxFuture) {
    let peer = Peer {
        kind: if info.tls.is_some() { "tls" } else { "tcp" },
        remote: info.remote_addr,
        local: info.local_addr,
        name: info.peer_name().into(),
    };
    fn boxed<F: std::future::Future<Output = ()> + Send + 'static>(
        pumps: Pumps<F>,
    ) -> (Duplex<Bytes, Bytes>, BoxFuture) {
        (pumps.duplex, Box::pin(pumps.run))
    }
    match stream {
        RawStream::Plain(Socket::Tcp(tcp)) => {
            let (r, w) = tcp.into_split();
            boxed(pumps(r, w, peer, buffers))
        }
        RawStream::Plain(Socket::Unix(unix)) => {
            let (r, w) = unix.into_split();
            let peer = Peer {
                kind: "unix",
                ..peer
            };
            boxed(pumps(r, w, peer, buffers))
        }
        other => {
            let (r, w) = tokio::io::split(other);
            boxed(pumps(r, w, peer, buffers))
        }
    }
}

/// Where a connection's stream says it comes from.
#[derive(Clone, Debug, Default)]
struct Peer {
    kind: &'static str,
    remote: Option<SocketAddr>,
    local: Option<SocketAddr>,
    /// How the peer is named in errors and logs ("127.0.0.1:4000", a socket path).
    name: Arc<str>,
}

/// A connection as a duplex, and the future that moves its bytes.
struct Pumps<F> {
    duplex: Duplex<Bytes, Bytes>,
    /// Reads and writes until both directions are done with the socket. One
    /// future for both, so a connection costs one task, not two.
    run: F,
}

/// Turns `reader` and `writer` (the two halves of one connection) into a
/// duplex and the future that serves it.
fn pumps<R, W>(
    reader: R,
    writer: W,
    peer: Peer,
    buffers: Buffers,
) -> Pumps<impl std::future::Future<Output = ()> + Send>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let buffers = buffers.normalized();
    // One chunk in each channel: the byte bounds live in the pumps, which
    // gather (reading) and queue (writing) on their side of it.
    let channel = || {
        let channel = Channel::<Bytes>::buffered(1);
        channel.describe_as(peer.kind, peer.local, peer.remote);
        channel
    };
    let (in_tx, in_rx) = channel().split();
    let (out_tx, out_rx) = channel().split();
    let duplex = Duplex::from_parts(in_rx, out_tx);
    let read = read_loop(reader, in_tx, peer.name.clone(), buffers.read_ahead);
    let write = write_loop(writer, out_rx, peer.name, buffers);
    let run = async move {
        tokio::join!(read, write);
    };
    Pumps { duplex, run }
}

/// What the reader waited for.
enum ReadEvent {
    Read(std::io::Result<usize>),
    HandedOver,
    Gone,
}

async fn read_loop<R>(mut reader: R, inbound: Sender<Bytes>, peer: Arc<str>, read_ahead: usize)
where
    R: AsyncRead + Unpin,
{
    let guard = EndsWithError::new(&inbound, &peer);
    // A reused scratch buffer, with each chunk copied out at its exact size:
    // handing out slices of a shared allocation instead keeps it alive while
    // chunks are in flight, and every read then costs a fresh allocation
    // (page faults included), which measured slower. Its pages are only
    // touched as far as reads reach.
    let mut scratch = vec![0u8; read_ahead];
    // The chunk the consumer has not made room for yet, and what arrived
    // after it: together at most `read_ahead` bytes.
    let mut waiting: Option<Bytes> = None;
    let mut more = BytesMut::new();
    // Every receiving handle gone closes the channel: nobody will read what
    // comes. One future for the connection's life keeps one registration.
    let closed = inbound.closed();
    let mut closed = std::pin::pin!(closed);
    loop {
        if waiting.is_none() && !more.is_empty() {
            waiting = Some(more.split().freeze());
        }
        let held = waiting.as_ref().map_or(0, Bytes::len) + more.len();
        let room = read_ahead.saturating_sub(held);
        let event = match (&waiting, room) {
            // The read first: the channel's lock is only taken when it is pending.
            (None, _) => tokio::select! {
                biased;
                read = reader.read(&mut scratch[..room]) => ReadEvent::Read(read),
                () = &mut closed => ReadEvent::Gone,
            },
            (Some(chunk), 0) => match inbound.send(chunk.clone()).await {
                Ok(()) => ReadEvent::HandedOver,
                Err(_) => ReadEvent::Gone,
            },
            // A send dropped unfinished delivers nothing, and the chunk is
            // still here: racing it against the read loses no byte.
            (Some(chunk), _) => tokio::select! {
                biased;
                sent = inbound.send(chunk.clone()) => match sent {
                    Ok(()) => ReadEvent::HandedOver,
                    Err(_) => ReadEvent::Gone,
                },
                read = reader.read(&mut scratch[..room]) => ReadEvent::Read(read),
            },
        };
        match event {
            ReadEvent::HandedOver => waiting = None,
            ReadEvent::Gone => return,
            ReadEvent::Read(Ok(0)) => {
                // The peer's end: what is held still goes to the consumer first.
                if hand_over_the_rest(&inbound, waiting.take(), &mut more).await {
                    guard.disarm();
                    inbound.close();
                }
                return;
            }
            ReadEvent::Read(Ok(n)) => {
                if waiting.is_none() && more.is_empty() {
                    match inbound.try_send(Bytes::copy_from_slice(&scratch[..n])) {
                        Ok(()) => {}
                        Err(crate::stream::TrySendError::Full(chunk)) => waiting = Some(chunk),
                        Err(crate::stream::TrySendError::Closed(_)) => return,
                    }
                } else {
                    if more.is_empty() {
                        // At most what may still be held: growing by
                        // doubling would allocate up to twice that.
                        more.reserve(room);
                    }
                    more.extend_from_slice(&scratch[..n]);
                }
            }
            ReadEvent::Read(Err(error)) => {
                tracing::debug!(%peer, %error, "read failed");
                // What arrived before the failure is delivered, then the error.
                if hand_over_the_rest(&inbound, waiting.take(), &mut more).await {
                    guard.disarm();
                    let error = Error::from_io(error, format!("reading from {peer} failed"));
                    inbound.close_with_error(error);
                }
                return;
            }
        }
    }
}

/// Sends what the reader still holds; false if nobody takes it any more.
async fn hand_over_the_rest(
    inbound: &Sender<Bytes>,
    waiting: Option<Bytes>,
    more: &mut BytesMut,
) -> bool {
    let rest = waiting.into_iter().chain(Some(more.split().freeze()));
    for chunk in rest.filter(|chunk| !chunk.is_empty()) {
        if inbound.send(chunk).await.is_err() {
            return false;
        }
    }
    true
}

/// The most chunks one vectored write hands the socket.
const MAX_SLICES: usize = 64;

/// What the writer waited for.
enum WriteEvent {
    Wrote(std::io::Result<usize>),
    Got(Option<Bytes>),
}

/// Chunks waiting to be written, and how many bytes they hold.
#[derive(Default)]
struct Queue {
    chunks: VecDeque<Bytes>,
    bytes: usize,
}

impl Queue {
    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.bytes += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Drops the first `n` bytes, which the socket took.
    fn advance(&mut self, mut n: usize) {
        self.bytes -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
    }

    async fn write_to<W: AsyncWrite + Unpin>(&self, writer: &mut W) -> std::io::Result<usize> {
        if self.chunks.len() == 1 || !writer.is_write_vectored() {
            return writer.write(&self.chunks[0]).await;
        }
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut n = 0;
        for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        writer.write_vectored(&slices[..n]).await
    }
}

async fn write_loop<W>(mut writer: W, outbound: Receiver<Bytes>, peer: Arc<str>, buffers: Buffers)
where
    W: AsyncWrite + Unpin,
{
    let guard = EndsWithError::new(&outbound, &peer);
    let result: std::io::Result<()> = async {
        let mut queue = Queue::default();
        // Below the high-water mark (or back under the low one): taking sends.
        let mut accepting = true;
        let mut ended = false;
        let mut unflushed = false;
        loop {
            while accepting && !ended {
                match outbound.try_recv() {
                    Ok(chunk) => {
                        queue.push(chunk);
                        accepting = queue.bytes < buffers.write_high_water;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Drained) => ended = true,
                }
            }
            if queue.chunks.is_empty() {
                // Flush once we run dry, so that buffering layers (TLS) send it.
                if unflushed {
                    writer.flush().await?;
                    unflushed = false;
                }
                if ended {
                    return writer.shutdown().await;
                }
                match outbound.recv().await {
                    Some(chunk) => queue.push(chunk),
                    None => ended = true,
                }
                continue;
            }
            let event = if accepting && !ended {
                tokio::select! {
                    biased;
                    wrote = queue.write_to(&mut writer) => WriteEvent::Wrote(wrote),
                    got = outbound.recv() => WriteEvent::Got(got),
                }
            } else {
                WriteEvent::Wrote(queue.write_to(&mut writer).await)
            };
            match event {
                WriteEvent::Got(Some(chunk)) => {
                    queue.push(chunk);
                    accepting = queue.bytes < buffers.write_high_water;
                }
                WriteEvent::Got(None) => ended = true,
                WriteEvent::Wrote(wrote) => {
                    let n = wrote?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    queue.advance(n);
                    unflushed = true;
                    if !accepting && queue.bytes <= buffers.write_low_water {
                        accepting = true;
                    }
                }
            }
        }
    }
    .await;
    guard.disarm();
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "write failed");
        let error = match error.kind() {
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
                Error::with_source(
                    ErrorKind::Closed,
                    format!("{peer} closed the connection"),
                    error,
                )
            }
            _ => Error::from_io(error, format!("writing to {peer} failed")),
        };
        outbound.close_with_error(error);
    }
}

/// Closes a connection's channel with an error if its pump is dropped before
/// it finished (the server's shutdown timeout cutting it): a stream cut short
/// must never look like the peer's clean end.
struct EndsWithError<'a, C: CloseWithError> {
    channel: &'a C,
    peer: &'a str,
    armed: std::cell::Cell<bool>,
}

impl<'a, C: CloseWithError> EndsWithError<'a, C> {
    fn new(channel: &'a C, peer: &'a str) -> Self {
        EndsWithError {
            channel,
            peer,
            armed: std::cell::Cell::new(true),
        }
    }

    fn disarm(&self) {
        self.armed.set(false);
    }
}

impl<C: CloseWithError> Drop for EndsWithError<'_, C> {
    fn drop(&mut self) {
        if self.armed.get() {
            self.channel.close_with(Error::new(
                ErrorKind::Closed,
                format!("the connection with {} was closed by the server", self.peer),
            ));
        }
    }
}

/// The handles a pump may close with an error.
trait CloseWithError {
    fn close_with(&self, error: Error);
}

impl CloseWithError for Sender<Bytes> {
    fn close_with(&self, error: Error) {
        self.close_with_error(error);
    }
}

impl CloseWithError for Receiver<Bytes> {
    fn close_with(&self, error: Error) {
        self.close_with_error(error);
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;
    use bytes::Bytes;

    #[test]
    fn advancing_the_write_queue_drops_whole_chunks_and_cuts_partial_ones() {
        let mut queue = Queue::default();
        for chunk in ["abc", "", "defg", "h"] {
            queue.push(Bytes::from(chunk));
        }
        assert_eq!((queue.chunks.len(), queue.bytes), (3, 8)); // empty chunks are not queued
        queue.advance(2);
        assert_eq!(queue.chunks[0], "c");
        queue.advance(3); // "c" and "de"
        assert_eq!(
            queue.chunks.iter().cloned().collect::<Vec<_>>(),
            ["fg", "h"]
        );
        assert_eq!(queue.bytes, 3);
        queue.advance(3);
        assert!(queue.chunks.is_empty());
        assert_eq!(queue.bytes, 0);
    }
}
