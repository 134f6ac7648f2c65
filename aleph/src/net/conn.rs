//! A byte connection as a `Duplex<Bytes, Bytes>`: one task reads, one writes.
//!
//! The reader fills chunks of at most [`READ_CHUNK`] bytes and sends them into
//! the inbound channel of [`INBOUND_CHUNKS`]; while that is full it does not
//! read, so the kernel's receive window closes and the peer is slowed down —
//! backpressure reaches the network. The writer takes chunks from the outbound
//! channel of [`OUTBOUND_CHUNKS`], writes them in order and flushes whenever it
//! has nothing more at hand. When the outbound channel is closed and drained
//! the writer shuts the write side down (a FIN on TCP) after everything sent
//! was written; the reader goes on until the peer closes its side.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::stream::{Channel, Duplex, Meta, Receiver, Sender};
use crate::{Error, ErrorKind};

/// The most bytes one read hands on as a chunk: 64 KiB.
pub const READ_CHUNK: usize = 64 * 1024;

/// Chunks read ahead of the consumer before reading stops: 4, so at most
/// `(4 + 1) × READ_CHUNK` = 320 KiB of received data is held per connection.
pub const INBOUND_CHUNKS: usize = 4;

/// Chunks queued for writing before a send waits: 16.
pub const OUTBOUND_CHUNKS: usize = 16;

/// Where a connection's stream says it comes from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Peer {
    pub(crate) kind: &'static str,
    pub(crate) remote: Option<SocketAddr>,
    pub(crate) local: Option<SocketAddr>,
    /// How the peer is named in errors and logs ("127.0.0.1:4000", a socket path).
    pub(crate) name: Arc<str>,
}

/// A connection as a duplex, and the future that moves its bytes.
pub(crate) struct Pumps<F> {
    pub(crate) duplex: Duplex<Bytes, Bytes>,
    /// Reads and writes until both directions are done with the socket. One
    /// future for both, so a connection costs one task, not two.
    pub(crate) run: F,
}

/// Turns `reader` and `writer` (the two halves of one connection) into a
/// duplex and the future that serves it.
pub(crate) fn pumps<R, W>(
    reader: R,
    writer: W,
    peer: Peer,
) -> Pumps<impl std::future::Future<Output = ()> + Send>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let meta = |capacity| {
        Channel::<Bytes>::with_meta(
            capacity,
            Meta {
                kind: peer.kind,
                peer_addr: peer.remote,
                local_addr: peer.local,
                ..Meta::default()
            },
        )
    };
    let (in_tx, in_rx) = meta(INBOUND_CHUNKS).split();
    let (out_tx, out_rx) = meta(OUTBOUND_CHUNKS).split();
    let duplex = Duplex::from_parts(in_rx, out_tx);
    let read = read_loop(reader, in_tx, peer.name.clone());
    let write = write_loop(writer, out_rx, peer.name);
    let run = async move {
        tokio::join!(read, write);
    };
    Pumps { duplex, run }
}

async fn read_loop<R>(mut reader: R, inbound: Sender<Bytes>, peer: Arc<str>)
where
    R: AsyncRead + Unpin,
{
    // A reused scratch buffer, with each chunk copied out at its exact size:
    // handing out slices of a shared allocation instead keeps it alive while
    // chunks are in flight, and every read then costs a fresh allocation
    // (page faults included), which measured slower.
    let guard = EndsWithError::new(&inbound, &peer);
    let mut scratch = vec![0u8; READ_CHUNK];
    // Every receiving handle gone closes the channel: nobody will read what
    // comes. One future for the connection's life keeps one registration.
    let closed = inbound.closed();
    let mut closed = std::pin::pin!(closed);
    loop {
        // The read first: the channel's lock is only taken when it is pending.
        let read = tokio::select! {
            biased;
            read = reader.read(&mut scratch) => read,
            () = &mut closed => return,
        };
        match read {
            Ok(0) => {
                guard.disarm();
                inbound.close();
                return;
            }
            Ok(n) => {
                let chunk = Bytes::copy_from_slice(&scratch[..n]);
                if inbound.send(chunk).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "read failed");
                inbound
                    .close_with_error(Error::from_io(error, format!("reading from {peer} failed")));
                return;
            }
        }
    }
}

async fn write_loop<W>(mut writer: W, outbound: Receiver<Bytes>, peer: Arc<str>)
where
    W: AsyncWrite + Unpin,
{
    let guard = EndsWithError::new(&outbound, &peer);
    let result: std::io::Result<()> = async {
        while let Some(chunk) = outbound.recv().await {
            writer.write_all(&chunk).await?;
            // Keep writing what is already queued; flush once we run dry so
            // that buffering layers (TLS) send it.
            while let Ok(chunk) = outbound.try_recv() {
                writer.write_all(&chunk).await?;
            }
            writer.flush().await?;
        }
        writer.shutdown().await
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
/// it finished (the server's shutdown timeout aborting it): a stream cut short
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
