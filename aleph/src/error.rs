//! One error type for the whole crate.
//!
//! [`Error`] is one pointer wide and cheap to clone: many awaiters of a
//! [`Deferred`](crate::deferred::Deferred) and every clone of a closed stream
//! handle each receive the same error. What went wrong is told three ways:
//! a predicate (`is_timeout()`, `is_connect()`, ...), a [`kind()`](Error::kind)
//! to match on, and a message that says what failed and where, with the
//! underlying cause behind [`source()`](std::error::Error::source).

use std::any::Any;
use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// `Result<T, aleph::Error>`, the return type of every fallible aleph call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error of every aleph operation.
///
/// One pointer wide (an `Arc` inside) and [`Clone`], so a failure can be handed
/// to every awaiter of a deferred or every handle of a stream. Match on
/// [`kind()`](Error::kind) or use the `is_*` predicates; the message says what
/// failed and where, and [`source()`](std::error::Error::source) gives the cause.
///
/// Only aleph builds its errors, with one door for user code that must fail a
/// deferred or a stream with its own error: [`Error::other`].
///
/// # Examples
///
/// ```
/// use aleph::{Error, ErrorKind};
///
/// let io = std::io::Error::new(std::io::ErrorKind::Other, "disk on fire");
/// let err = Error::other(io);
/// assert!(err.is_other());
/// assert_eq!(err.kind(), ErrorKind::Other);
/// assert_eq!(err.to_string(), "disk on fire");
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    source: Option<BoxError>,
    /// A user's error wrapped by [`Error::other`]: it speaks for itself
    /// (its text is the message, its source the source), as `io::Error::other`.
    transparent: bool,
    /// Which time limit passed, for errors of kind [`ErrorKind::Timeout`]
    /// that know it.
    timeout: Option<TimeoutKind>,
    /// What a protocol attaches for its own accessors (the HTTP client's
    /// status and response); the core neither reads nor names it.
    payload: Option<Box<dyn Any + Send + Sync>>,
}

/// Which time limit an error of kind [`ErrorKind::Timeout`] is about.
///
/// Each of a client's limits is its own kind, so that a caller can retry a
/// connect timeout and report a slow server differently.
///
/// # Examples
///
/// ```
/// use aleph::TimeoutKind;
///
/// fn retryable(kind: Option<TimeoutKind>) -> bool {
///     matches!(kind, Some(TimeoutKind::Connect | TimeoutKind::PoolWait))
/// }
/// assert!(retryable(Some(TimeoutKind::Connect)));
/// assert!(!retryable(Some(TimeoutKind::Read)));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// Resolving, connecting and the TLS handshake took too long.
    Connect,
    /// No connection of the pool became free in time.
    PoolWait,
    /// The peer did not send the response's head in time.
    ResponseHeaders,
    /// The peer sent nothing for too long while a body was read.
    Read,
    /// The whole request (every redirect, the body included) took too long.
    Request,
}

/// Declares the error kinds: one line per kind gives the variant, its
/// predicate and its short description.
macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident => $is:ident, $what:literal;)*) => {
        /// What kind of failure an [`Error`] is.
        ///
        /// New kinds are added as aleph grows, so a `match` needs a `_` arm.
        ///
        /// # Examples
        ///
        /// ```
        /// use aleph::ErrorKind;
        ///
        /// fn advice(error: &aleph::Error) -> &'static str {
        ///     match error.kind() {
        ///         ErrorKind::Timeout | ErrorKind::Connect => "try again later",
        ///         ErrorKind::Tls => "check the certificate",
        ///         _ => "give up",
        ///     }
        /// }
        ///
        /// assert_eq!(advice(&aleph::Error::other("bad input")), "give up");
        /// ```
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $($(#[$doc])* $kind,)*
        }

        impl ErrorKind {
            /// A short description of the kind, such as `"timed out"`.
            ///
            /// It is also what the kind's `Display` writes.
            ///
            /// # Examples
            ///
            /// ```
            /// use aleph::ErrorKind;
            ///
            /// assert_eq!(ErrorKind::Timeout.as_str(), "timed out");
            /// assert_eq!(ErrorKind::Closed.to_string(), ErrorKind::Closed.as_str());
            /// ```
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $what,)*
                }
            }
        }

        impl Error {
            $(
                #[doc = concat!("True if this error is of kind [`ErrorKind::", stringify!($kind), "`].")]
                pub fn $is(&self) -> bool {
                    self.inner.kind == ErrorKind::$kind
                }
            )*
        }
    };
}

kinds! {
    /// An operation did not finish within its time limit.
    Timeout => is_timeout, "timed out";
    /// A connection could not be established (refused, unreachable, reset during connect).
    Connect => is_connect, "connect failed";
    /// The stream, connection or deferred was closed before the operation could finish.
    Closed => is_closed, "closed";
    /// An I/O error on an established connection or a file.
    Io => is_io, "i/o error";
    /// A TLS handshake or certificate failure.
    Tls => is_tls, "tls error";
    /// A host name could not be resolved.
    Dns => is_dns, "dns resolution failed";
    /// The peer broke the protocol (malformed or oversized input).
    Protocol => is_protocol, "protocol error";
    /// Data could not be decoded (invalid UTF-8, an over-long line, bad JSON).
    Decode => is_decode, "decode error";
    /// A task or callback panicked; the panic message is in the error's message.
    Panic => is_panic, "panicked";
    /// A message body was cut short or could not be sent or read.
    Body => is_body, "body error";
    /// A client followed more redirects than it allows.
    Redirect => is_redirect, "too many redirects";
    /// A client's pool had as many requests waiting as it allows.
    PoolFull => is_pool_full, "pool queue full";
    /// The server answered with an error status (HTTP: 400 and above).
    Status => is_status, "error status";
    /// An argument was malformed (a URL, a header value).
    InvalidInput => is_invalid_input, "invalid input";
    /// An error raised by user code through [`Error::other`].
    Other => is_other, "error";
}

impl Error {
    /// Wraps an error of user code, for failing a deferred or a stream with it.
    ///
    /// An `aleph::Error` passed in (even boxed) is returned as it is rather than
    /// wrapped twice. As with `std::io::Error::other`, the wrapped error speaks
    /// for itself: its text is the message, its `source()` the source, and
    /// [`get_ref`](Error::get_ref) reaches it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::error::Error as _;
    ///
    /// let err = aleph::Error::other("upstream said no");
    /// assert!(err.is_other());
    /// assert_eq!(err.to_string(), "upstream said no");
    /// assert!(err.source().is_none()); // the text is not repeated as a cause
    /// ```
    pub fn other<E>(error: E) -> Error
    where
        E: Into<Box<dyn StdError + Send + Sync + 'static>>,
    {
        Error::from_boxed(error.into())
    }

    /// The user's error wrapped by [`Error::other`], to downcast; `None` for
    /// the errors aleph makes itself (their cause is behind `source()`).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Debug)]
    /// struct Quota(u32);
    /// impl std::fmt::Display for Quota {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         write!(f, "over quota by {}", self.0)
    ///     }
    /// }
    /// impl std::error::Error for Quota {}
    ///
    /// let err = aleph::Error::other(Quota(3));
    /// let quota = err.get_ref().and_then(|e| e.downcast_ref::<Quota>());
    /// assert_eq!(quota.map(|q| q.0), Some(3));
    /// ```
    pub fn get_ref(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match (&self.inner.source, self.inner.transparent) {
            (Some(wrapped), true) => Some(&**wrapped),
            _ => None,
        }
    }

    /// The kind of failure, to `match` on.
    ///
    /// # Examples
    ///
    /// ```
    /// use aleph::ErrorKind;
    ///
    /// let err = aleph::Error::other("nope");
    /// match err.kind() {
    ///     ErrorKind::Timeout => println!("try again later"),
    ///     other => println!("failed: {other:?}"),
    /// }
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// A new error of `kind` with a message that says what failed and where.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                source: None,
                transparent: false,
                timeout: None,
                payload: None,
            }),
        }
    }

    /// A new error of `kind` with a message and the underlying cause.
    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                source: Some(source.into()),
                transparent: false,
                timeout: None,
                payload: None,
            }),
        }
    }

    /// Which time limit passed, for a timeout that knows it; `None` for
    /// other errors and for timeouts of operations with one limit only.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = aleph::Error::other("not a timeout");
    /// assert_eq!(err.timeout_kind(), None);
    /// ```
    pub fn timeout_kind(&self) -> Option<TimeoutKind> {
        self.inner.timeout
    }

    /// A timeout error naming which limit passed.
    pub(crate) fn timeout(which: TimeoutKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Timeout, message).with_timeout_kind(which)
    }

    /// This error marked as the passing of limit `which`; a freshly made
    /// error is changed in place, a shared one copied.
    pub(crate) fn with_timeout_kind(self, which: TimeoutKind) -> Error {
        self.rebuilt(|inner| inner.timeout = Some(which))
    }

    /// An error carrying a protocol's payload for its own accessors.
    pub(crate) fn with_payload(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        payload: Box<dyn Any + Send + Sync>,
    ) -> Error {
        Error::new(kind, message).rebuilt(|inner| inner.payload = Some(payload))
    }

    /// The payload attached by [`Error::with_payload`].
    pub(crate) fn payload(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.inner.payload.as_deref()
    }

    /// This error with `change` applied to its own copy of the inner data.
    fn rebuilt(mut self, change: impl FnOnce(&mut Inner)) -> Error {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            change(inner);
            return self;
        }
        let kind = self.inner.kind;
        let message = self.inner.message.clone();
        let mut inner = Inner {
            kind,
            message,
            // The cause is shared by the original: it is kept behind it.
            source: Some(Box::new(self.clone())),
            transparent: false,
            timeout: self.inner.timeout,
            payload: None,
        };
        change(&mut inner);
        Error {
            inner: Arc::new(inner),
        }
    }

    /// Keeps an `aleph::Error` as it is; wraps anything else as [`ErrorKind::Other`].
    pub(crate) fn from_boxed(error: BoxError) -> Error {
        match error.downcast::<Error>() {
            Ok(own) => *own,
            Err(foreign) => Error {
                inner: Arc::new(Inner {
                    kind: ErrorKind::Other,
                    message: Cow::Borrowed(""),
                    source: Some(foreign),
                    transparent: true,
                    timeout: None,
                    payload: None,
                }),
            },
        }
    }

    /// Converts an `io::Error` that carries an `aleph::Error` back to it, and
    /// any other `io::Error` to [`ErrorKind::Io`] with `context` as its message.
    pub(crate) fn from_io(error: std::io::Error, context: impl Into<Cow<'static, str>>) -> Error {
        if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = error.into_inner() {
                return Error::from_boxed(inner);
            }
            unreachable!("an io::Error with a custom payload has an inner error");
        }
        let kind = match error.kind() {
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Error::with_source(kind, context, error)
    }

    /// Wraps this error in an `io::Error`, for `AsyncRead` / `Read` adapters;
    /// [`Error::from_io`] takes it back out unchanged.
    pub(crate) fn into_io(self) -> std::io::Error {
        let kind = match self.kind() {
            ErrorKind::Timeout => std::io::ErrorKind::TimedOut,
            ErrorKind::Closed => std::io::ErrorKind::BrokenPipe,
            ErrorKind::Decode | ErrorKind::Protocol => std::io::ErrorKind::InvalidData,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(wrapped), true) = (&self.inner.source, self.inner.transparent) {
            fmt::Display::fmt(wrapped, f)
        } else if self.inner.message.is_empty() {
            f.write_str(self.inner.kind.as_str())
        } else {
            f.write_str(&self.inner.message)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("aleph::Error");
        d.field("kind", &self.inner.kind);
        if !self.inner.transparent {
            d.field("message", &self.inner.message);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let source = self.inner.source.as_deref()?;
        if self.inner.transparent {
            source.source()
        } else {
            Some(source as &(dyn StdError + 'static))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Option<Error>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn error_is_send_sync_clone() {
        fn assert<T: Send + Sync + Clone + 'static>() {}
        assert::<Error>();
    }

    #[test]
    fn predicates_follow_the_kind() {
        let err = Error::new(
            ErrorKind::Timeout,
            "connect to 127.0.0.1:9 timed out after 1s",
        );
        assert!(err.is_timeout());
        assert!(!err.is_connect());
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(err.to_string(), "connect to 127.0.0.1:9 timed out after 1s");
    }

    #[test]
    fn source_chain_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::with_source(ErrorKind::Connect, "connect to 127.0.0.1:9 refused", io);
        let source = err.source().expect("a source");
        assert_eq!(source.to_string(), "refused");
    }

    #[test]
    fn other_does_not_wrap_an_aleph_error_twice() {
        let inner = Error::new(ErrorKind::Closed, "stream closed");
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(inner.clone());
        let err = Error::other(boxed);
        assert!(err.is_closed());
        assert!(Arc::ptr_eq(&err.inner, &inner.inner));
    }

    #[test]
    fn io_round_trip_keeps_the_error() {
        let err = Error::new(ErrorKind::Decode, "invalid UTF-8 at byte 3");
        let io = err.clone().into_io();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
        let back = Error::from_io(io, "reading");
        assert!(Arc::ptr_eq(&back.inner, &err.inner));
    }

    #[test]
    fn empty_message_falls_back_to_the_kind() {
        let err = Error::new(ErrorKind::Closed, "");
        assert_eq!(err.to_string(), "closed");
    }
}
