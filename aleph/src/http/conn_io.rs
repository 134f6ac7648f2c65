//! The connection's socket as hyper drives it, with the write timeout (a
//! client that stops reading cannot hold its connection, and the handler's
//! producer, forever) and a read-ahead that notices a client leaving while
//! hyper is not reading (a handler holding an unread request body).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;
use tokio::time::{Instant, Sleep};

use crate::net::RawStream;

/// The most bytes read ahead of hyper to look for the client's leaving; past
/// it, the leaving is noticed once the handler reads (or drops) the body.
pub(crate) const READ_AHEAD: usize = 16 * 1024;

/// How long a lingering connection waits for the client's next bytes (or
/// its close) before closing: a client that has read its response and
/// sends nothing more does not hold the connection for the whole linger.
pub(crate) const LINGER_GAP: Duration = Duration::from_secs(1);

/// The socket and what was read from it ahead of hyper. Shared by hyper's
/// side ([`ConnIo`]) and the connection's watch ([`ReadAhead`]); both run on
/// the connection's one task, so the lock is never contended.
struct Socket {
    io: RawStream,
    ahead: BytesMut,
    /// How the client's side ended, once the read-ahead saw it: hyper gets
    /// it after the bytes before it.
    end: Option<io::Result<()>>,
    /// Writes that took bytes, for the connection's watch (flushes do not
    /// count: hyper flushes at every turn, even with nothing to send):
    /// a response still on its way to a slow client keeps it from counting
    /// the connection as waiting for a request.
    writes: u64,
    /// Whether the last write could not go on (the client is not reading).
    write_stalled: bool,
    /// Whether a write failed (or timed out): what the server sent did not
    /// all reach the client, so a lingering close has nothing to save.
    write_failed: bool,
}

fn lock(socket: &Mutex<Socket>) -> MutexGuard<'_, Socket> {
    socket.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connection's watch on its socket while hyper is not reading it.
pub(crate) struct ReadAhead(Arc<Mutex<Socket>>);

/// Where a connection's writes stand: see [`ReadAhead::writes`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Writes {
    /// Writes that took bytes so far.
    pub(crate) done: u64,
    /// Whether a write waits for the client to take bytes.
    pub(crate) stalled: bool,
}

impl ReadAhead {
    /// Where the connection's writes stand: a connection whose writes moved
    /// or wait is still answering, not waiting for a request.
    pub(crate) fn writes(&self) -> Writes {
        let socket = lock(&self.0);
        Writes {
            done: socket.writes,
            stalled: socket.write_stalled,
        }
    }

    /// Reads what the client sent (up to [`READ_AHEAD`] bytes, kept for
    /// hyper, in order), and says whether the client closed its side (or
    /// the connection failed) or bytes came that hyper should be polled for.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> ReadAheadState {
        let mut socket = lock(&self.0);
        let socket = &mut *socket;
        let mut took = false;
        loop {
            if socket.end.is_some() {
                return ReadAheadState::ClientLeft;
            }
            if socket.ahead.len() >= READ_AHEAD {
                // hyper drains it when the body is read; until then no more
                // can be looked at without holding unbounded bytes.
                break;
            }
            socket.ahead.reserve(READ_AHEAD - socket.ahead.len());
            match tokio_util::io::poll_read_buf(Pin::new(&mut socket.io), cx, &mut socket.ahead) {
                Poll::Ready(Ok(0)) => socket.end = Some(Ok(())),
                Poll::Ready(Ok(_)) => took = true,
                Poll::Ready(Err(error)) => socket.end = Some(Err(error)),
                Poll::Pending => break,
            }
        }
        if took {
            ReadAheadState::Took
        } else {
            ReadAheadState::Waiting
        }
    }
}

impl ReadAhead {
    /// The lingering close, once hyper is done with the connection: sends
    /// the server's end (FIN; over TLS a `close_notify` first, if hyper has
    /// not), then reads and discards what the client still sends until it
    /// closes its side, nothing came for [`LINGER_GAP`], `time` passes, or
    /// more than `bytes` were discarded. Closing with those bytes unread
    /// would make the kernel reset the connection, and the reset would
    /// throw away the response the client has not read yet. Returns how
    /// many bytes it discarded.
    ///
    /// Does nothing while hyper's side still holds the socket (a connection
    /// upgraded, to a WebSocket say, is its new owner's), nor after a write
    /// failed or timed out: the response did not reach the client whole.
    pub(crate) async fn linger(&self, time: Duration, bytes: u64) -> u64 {
        if Arc::strong_count(&self.0) > 1 || lock(&self.0).write_failed {
            return 0;
        }
        let mut shut = false;
        let mut discarded = 0u64;
        let gap = LINGER_GAP.min(time);
        let quiet = tokio::time::sleep(gap);
        tokio::pin!(quiet);
        let drain = std::future::poll_fn(|cx| {
            let before = discarded;
            if self
                .poll_linger(cx, &mut shut, &mut discarded, bytes)
                .is_ready()
            {
                return Poll::Ready(());
            }
            if discarded != before {
                quiet.as_mut().reset(Instant::now() + gap);
            }
            quiet.as_mut().poll(cx)
        });
        let _ = tokio::time::timeout(time, drain).await;
        discarded
    }

    fn poll_linger(
        &self,
        cx: &mut Context<'_>,
        shut: &mut bool,
        discarded: &mut u64,
        bytes: u64,
    ) -> Poll<()> {
        let mut socket = lock(&self.0);
        let socket = &mut *socket;
        if socket.end.is_some() {
            // The client already closed its side (or the connection broke).
            return Poll::Ready(());
        }
        if !*shut {
            // A second shutdown after hyper's is harmless; one that fails
            // leaves the reads below to find out whether anything is left.
            if Pin::new(&mut socket.io).poll_shutdown(cx).is_pending() {
                return Poll::Pending;
            }
            *shut = true;
        }
        *discarded += socket.ahead.len() as u64;
        loop {
            socket.ahead.clear();
            if *discarded > bytes {
                return Poll::Ready(());
            }
            socket.ahead.reserve(READ_AHEAD);
            match tokio_util::io::poll_read_buf(Pin::new(&mut socket.io), cx, &mut socket.ahead) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(n)) => *discarded += n as u64,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// What a look at the socket found.
pub(crate) enum ReadAheadState {
    /// The client closed its side, or the connection failed.
    ClientLeft,
    /// Bytes came, kept for hyper.
    Took,
    /// Nothing new.
    Waiting,
}

/// A connection's stream as hyper uses it: what the read-ahead took comes
/// first; a write that has made no progress for the write timeout fails
/// (hyper then closes the connection).
///
/// The write timer costs nothing while writes go through: it is armed only
/// when the socket refuses bytes, and disarmed by the next write that takes
/// some.
pub(crate) struct ConnIo {
    socket: Arc<Mutex<Socket>>,
    timeout: Option<Duration>,
    /// Kept between stalls so that a connection that stalls often
    /// allocates its timer once.
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer counts down a stall now.
    armed: bool,
}

impl ConnIo {
    pub(crate) fn new(stream: RawStream, timeout: Option<Duration>) -> (ConnIo, ReadAhead) {
        let socket = Arc::new(Mutex::new(Socket {
            io: stream,
            ahead: BytesMut::new(),
            end: None,
            writes: 0,
            write_stalled: false,
            write_failed: false,
        }));
        let io = ConnIo {
            socket: socket.clone(),
            timeout,
            timer: None,
            armed: false,
        };
        (io, ReadAhead(socket))
    }

    /// A write to the socket, under the write timeout; `took` tells
    /// whether its outcome moved bytes.
    fn write<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut RawStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
        took: impl FnOnce(&io::Result<T>) -> bool,
    ) -> Poll<io::Result<T>> {
        let polled = {
            let mut socket = lock(&self.socket);
            let polled = op(Pin::new(&mut socket.io), cx);
            socket.write_stalled = polled.is_pending();
            if let Poll::Ready(result) = &polled {
                socket.write_failed |= result.is_err();
                if took(result) {
                    socket.writes = socket.writes.wrapping_add(1);
                }
            }
            polled
        };
        match polled {
            Poll::Ready(result) => self.went(result),
            Poll::Pending => self.stalled(cx),
        }
    }

    /// What a write that made progress (or failed) returns: the stall, if
    /// any, is over.
    fn went<T>(&mut self, result: io::Result<T>) -> Poll<io::Result<T>> {
        self.armed = false;
        Poll::Ready(result)
    }

    /// A write that cannot go on: waits, unless it has waited the whole
    /// timeout, which fails it.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let Some(timeout) = self.timeout else {
            return Poll::Pending;
        };
        if !self.armed {
            let deadline = Instant::now() + timeout;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        let Some(timer) = self.timer.as_mut() else {
            return Poll::Pending;
        };
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.armed = false;
                lock(&self.socket).write_failed = true;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client took no bytes for {timeout:?} (write timeout)"),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Read for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut socket = lock(&self.socket);
        let socket = &mut *socket;
        if !socket.ahead.is_empty() {
            let n = socket.ahead.len().min(buf.remaining());
            buf.put_slice(&socket.ahead[..n]);
            socket.ahead.advance(n);
            return Poll::Ready(Ok(()));
        }
        match socket.end.take() {
            // The end is told once; the socket tells it again after.
            Some(end) => Poll::Ready(end),
            None => Pin::new(&mut TokioIo::new(&mut socket.io)).poll_read(cx, buf),
        }
    }
}

impl Write for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write(cx, |io, cx| io.poll_write(cx, buf), took_bytes)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write(cx, |io, cx| io.poll_write_vectored(cx, bufs), took_bytes)
    }

    fn is_write_vectored(&self) -> bool {
        lock(&self.socket).io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .write(cx, |io, cx| io.poll_flush(cx), |_| false)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .write(cx, |io, cx| io.poll_shutdown(cx), |_| false)
    }
}

fn took_bytes(result: &io::Result<usize>) -> bool {
    matches!(result, Ok(n) if *n > 0)
}
