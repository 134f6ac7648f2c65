//! Collecting a whole source: `to_bytes`, `to_vec`, `to_string`.

use ::bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::{ByteSource, ByteStream};
use crate::{Error, ErrorKind, Result};

/// Reads a whole source into one [`Bytes`].
///
/// A source of one chunk (every in-memory source, a channel that carried one
/// chunk) gives that very chunk back, without a copy. Several chunks are
/// copied once into a buffer sized by their total. The whole content is held
/// in memory: for a source of unknown size, bound it first (a body size limit)
/// or consume it as a stream ([`into_stream`], [`lines`](super::lines)).
///
/// # Errors
///
/// The error that ended the source, if it did not end cleanly (a channel
/// closed with an error, a connection reset, a failed read): what was read
/// before it is dropped, never returned as if it were whole.
///
/// # Cancel safety
///
/// Not cancel safe: the source is consumed, and what was read is lost if the
/// future is dropped.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::Channel;
///
/// let one = Bytes::from("no copy");
/// let same = bytes::to_bytes(one.clone()).await?;
/// assert_eq!(same.as_ptr(), one.as_ptr());
///
/// let ch = Channel::buffered(2);
/// ch.send(Bytes::from("ab")).await.unwrap();
/// ch.send(Bytes::from("cd")).await.unwrap();
/// ch.close();
/// assert_eq!(bytes::to_bytes(ch).await?, "abcd");
/// # Ok(())
/// # }
/// ```
pub async fn to_bytes(src: impl ByteSource) -> Result<Bytes> {
    let mut stream = src.into_byte_stream();
    if let Some(whole) = stream.take_in_memory() {
        return Ok(whole);
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
    }
    if chunks.len() <= 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    let total = chunks.iter().map(Bytes::len).sum();
    let mut whole = BytesMut::with_capacity(total);
    for chunk in &chunks {
        whole.extend_from_slice(chunk);
    }
    Ok(whole.freeze())
}

/// Reads a whole source into a `Vec<u8>`.
///
/// As [`to_bytes`], then the bytes are moved into the vector without a copy
/// when their allocation is not shared (a `Vec<u8>` or `String` source, a
/// source of several chunks); a shared or static chunk is copied.
///
/// # Errors
///
/// The error that ended the source, if it did not end cleanly.
///
/// # Cancel safety
///
/// Not cancel safe: the source is consumed.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes;
///
/// assert_eq!(bytes::to_vec(vec![1u8, 2, 3]).await?, [1, 2, 3]);
/// # Ok(())
/// # }
/// ```
pub async fn to_vec(src: impl ByteSource) -> Result<Vec<u8>> {
    Ok(Vec::from(to_bytes(src).await?))
}

/// Reads a whole source into a `String`, which must be valid UTF-8.
///
/// As [`to_vec`], then validated without another copy. A character split
/// across chunks is fine: the whole is validated at once.
///
/// # Errors
///
/// The error that ended the source, if it did not end cleanly; or an error of
/// kind [`Decode`](crate::ErrorKind::Decode) saying "invalid UTF-8 at byte
/// offset N", where N is the offset of the first byte that is not valid UTF-8.
///
/// # Cancel safety
///
/// Not cancel safe: the source is consumed.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::bytes;
///
/// assert_eq!(bytes::to_string("grüß dich").await.unwrap(), "grüß dich");
///
/// let err = bytes::to_string(vec![b'a', b'b', 0xff]).await.unwrap_err();
/// assert!(err.is_decode());
/// assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 2");
/// # }
/// ```
pub async fn to_string(src: impl ByteSource) -> Result<String> {
    String::from_utf8(to_vec(src).await?).map_err(|error| {
        let error = error.utf8_error();
        invalid_utf8(error.valid_up_to() as u64, error)
    })
}

/// The error for bytes that are not UTF-8, `offset` bytes into the source.
pub(super) fn invalid_utf8(offset: u64, cause: std::str::Utf8Error) -> Error {
    Error::with_source(
        ErrorKind::Decode,
        format!("invalid UTF-8 at byte offset {offset}"),
        cause,
    )
}

/// Turns a source into a [`ByteStream`] of its chunks.
///
/// Chunks come through as the source gives them, without a copy, and only
/// as fast as they are taken: the backpressure of the source is kept. A source
/// that ended with an error yields it as its last item.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::Channel;
/// use futures::TryStreamExt;
///
/// let ch = Channel::buffered(2);
/// ch.send(Bytes::from("a")).await.unwrap();
/// ch.close_with_error(aleph::Error::other("reset"));
/// let got: aleph::Result<Vec<Bytes>> = bytes::into_stream(ch).try_collect().await;
/// assert_eq!(got.unwrap_err().to_string(), "reset");
/// # }
/// ```
pub fn into_stream(src: impl ByteSource) -> ByteStream {
    src.into_byte_stream()
}
