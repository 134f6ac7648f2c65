//! Errors of stream operations. Each one that failed to deliver a value hands it back.

use std::fmt;

/// A [`send`](super::Channel::send) on a closed stream; the value is handed back.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::stream::{Channel, SendError};
///
/// let ch = Channel::buffered(1);
/// ch.close();
/// let SendError(value) = ch.send("hello").await.unwrap_err();
/// assert_eq!(value, "hello");
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// A [`send_timeout`](super::Channel::send_timeout) that could not deliver; the value is handed back.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use aleph::stream::{Channel, SendTimeoutError};
///
/// let ch = Channel::buffered(1);
/// ch.send("first").await.unwrap();
/// match ch.send_timeout("second", Duration::from_secs(1)).await {
///     Ok(()) => unreachable!("the buffer is full and nobody reads"),
///     Err(SendTimeoutError::Timeout(value)) => assert_eq!(value, "second"),
///     Err(SendTimeoutError::Closed(_)) => unreachable!("nobody closed it"),
/// }
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// The stream did not accept the value within the time limit.
    Timeout(T),
    /// The stream was closed.
    Closed(T),
}

/// A [`try_send`](super::Channel::try_send) that could not deliver at once; the value is handed back.
///
/// # Examples
///
/// ```
/// use aleph::stream::{Channel, TrySendError};
///
/// let ch = Channel::buffered(1);
/// ch.try_send(1).unwrap();
/// match ch.try_send(2) {
///     Ok(()) => unreachable!("the buffer holds one value"),
///     Err(TrySendError::Full(value)) => assert_eq!(value, 2), // keep it, try later
///     Err(TrySendError::Closed(_)) => unreachable!("nobody closed it"),
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The buffer is full (or, unbuffered, no receiver is waiting).
    Full(T),
    /// The stream was closed.
    Closed(T),
}

/// A [`recv_timeout`](super::Channel::recv_timeout) that got no value.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use aleph::stream::{Channel, RecvTimeoutError};
///
/// let ch = Channel::<u8>::buffered(1);
/// let limit = Duration::from_secs(1);
/// assert_eq!(ch.recv_timeout(limit).await, Err(RecvTimeoutError::Timeout));
/// ch.close();
/// assert_eq!(ch.recv_timeout(limit).await, Err(RecvTimeoutError::Drained));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// No value arrived within the time limit.
    Timeout,
    /// The stream is closed and everything it buffered has been taken.
    Drained,
}

/// A [`try_recv`](super::Channel::try_recv) that got no value.
///
/// # Examples
///
/// ```
/// use aleph::stream::{Channel, TryRecvError};
///
/// let ch = Channel::<u8>::buffered(1);
/// assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
/// ch.close();
/// assert_eq!(ch.try_recv(), Err(TryRecvError::Drained));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is buffered right now.
    Empty,
    /// The stream is closed and everything it buffered has been taken.
    Drained,
}

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::buffered(1);
    /// ch.send("first").await.unwrap();
    /// let err = ch.send_timeout("second", Duration::from_secs(1)).await.unwrap_err();
    /// assert_eq!(ch.recv().await, Some("first")); // make room, then send it again
    /// ch.send(err.into_inner()).await.unwrap();
    /// assert_eq!(ch.recv().await, Some("second"));
    /// # }
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(value) | SendTimeoutError::Closed(value) => value,
        }
    }

    /// True if the time limit passed (the stream may still be open).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::new(); // unbuffered, and nobody receives
    /// let err = ch.send_timeout(1, Duration::from_secs(1)).await.unwrap_err();
    /// assert!(err.is_timeout());
    /// assert!(!ch.is_closed());
    /// # }
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// True if the stream was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::buffered(1);
    /// ch.close();
    /// let err = ch.send_timeout(1, Duration::from_secs(1)).await.unwrap_err();
    /// assert!(err.is_closed()); // at once: there is nothing to wait for
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SendTimeoutError::Closed(_))
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::buffered(1);
    /// ch.try_send(String::from("first")).unwrap();
    /// let err = ch.try_send(String::from("second")).unwrap_err();
    /// let second: String = err.into_inner();
    /// assert_eq!(second, "second");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }

    /// True if the stream had no room (it is still open).
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::new(); // unbuffered: a try_send needs a waiting receiver
    /// assert!(ch.try_send(1).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True if the stream was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::stream::Channel;
    ///
    /// let ch = Channel::buffered(1);
    /// ch.close();
    /// let err = ch.try_send(1).unwrap_err();
    /// assert!(err.is_closed() && !err.is_full());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

// Debug without `T: Debug`, as tokio's channel errors: the value is elided.
impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send on a closed stream")
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => {
                f.write_str("send timed out: the stream did not accept the value in time")
            }
            SendTimeoutError::Closed(_) => f.write_str("send on a closed stream"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("stream is full"),
            TrySendError::Closed(_) => f.write_str("send on a closed stream"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("receive timed out"),
            RecvTimeoutError::Drained => f.write_str("stream is closed and drained"),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("stream is empty"),
            TryRecvError::Drained => f.write_str("stream is closed and drained"),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}
impl<T> std::error::Error for SendTimeoutError<T> {}
impl<T> std::error::Error for TrySendError<T> {}
impl std::error::Error for RecvTimeoutError {}
impl std::error::Error for TryRecvError {}

impl<T> From<SendError<T>> for crate::Error {
    fn from(_: SendError<T>) -> crate::Error {
        crate::Error::new(crate::ErrorKind::Closed, "send on a closed stream")
    }
}
