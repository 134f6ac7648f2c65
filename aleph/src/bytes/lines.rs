//! Splitting a source into lines, with a bound on how long one may be.

use std::pin::Pin;
use std::task::{Context, Poll};

use ::bytes::{Buf, Bytes};
use futures_core::stream::{FusedStream, Stream};

use super::collect::invalid_utf8;
use super::{ByteSource, ByteStream};
use crate::{Error, ErrorKind, Result};

/// The longest line [`lines`] accepts: 1 MiB (1,048,576 bytes), not counting
/// its line ending.
///
/// A longer line is an error rather than a buffer that grows without bound;
/// [`lines_with_max`] sets another limit.
pub const MAX_LINE: usize = 1024 * 1024;

/// Splits a source into lines of UTF-8 text.
///
/// Lines end with `\n` or `\r\n`; neither is part of the line returned (a `\r`
/// not followed by `\n` is kept, as `std::io::BufRead::lines` does). The last
/// line is returned even without a line ending, but a source that ends with a
/// line ending has no empty line after it. Lines, line endings and characters
/// may be split across chunks in any way.
///
/// At most one line is buffered, and one line may be at most [`MAX_LINE`]
/// bytes long; chunks are read from the source only as lines are taken, so the
/// source's backpressure is kept. Each line is copied once, into its `String`.
///
/// # Errors
///
/// Items of the stream are errors, after which it ends:
/// - of kind [`Decode`](crate::ErrorKind::Decode), "invalid UTF-8 at byte
///   offset N", for a line that is not UTF-8 (N counts from the start of the
///   source);
/// - of kind `Decode`, "line longer than N bytes at byte offset M", for a line
///   over the limit (M is where the line starts);
/// - the error that ended the source, if it did not end cleanly (the partial
///   line before it is dropped).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aleph::Result<()> {
/// use aleph::bytes::{self, Bytes};
/// use aleph::stream::Channel;
/// use futures::TryStreamExt;
///
/// let ch = Channel::buffered(4);
/// ch.send(Bytes::from("first\r\nsec")).await.unwrap();
/// ch.send(Bytes::from("ond\n\nlast")).await.unwrap();
/// ch.close();
/// let lines: Vec<String> = bytes::lines(ch).try_collect().await?;
/// assert_eq!(lines, ["first", "second", "", "last"]);
/// # Ok(())
/// # }
/// ```
pub fn lines(src: impl ByteSource) -> Lines {
    lines_with_max(src, MAX_LINE)
}

/// Splits a source into lines of at most `max` bytes each.
///
/// As [`lines`], with `max` in place of [`MAX_LINE`]. A line of exactly `max`
/// bytes (not counting its line ending) is accepted.
///
/// # Errors
///
/// As [`lines`]; a line longer than `max` is an error of kind
/// [`Decode`](crate::ErrorKind::Decode).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aleph::bytes;
/// use futures::StreamExt;
///
/// let mut lines = bytes::lines_with_max("short\nmuch too long\n", 5);
/// assert_eq!(lines.next().await.unwrap().unwrap(), "short");
/// let err = lines.next().await.unwrap().unwrap_err();
/// assert_eq!(err.to_string(), "line longer than 5 bytes at byte offset 6");
/// assert!(lines.next().await.is_none());
/// # }
/// ```
pub fn lines_with_max(src: impl ByteSource, max: usize) -> Lines {
    Lines {
        source: src.into_byte_stream(),
        chunk: Bytes::new(),
        line: Vec::new(),
        line_start: 0,
        max,
        done: false,
    }
}

/// The stream of [`lines`] and [`lines_with_max`]: a
/// [`futures::Stream`](futures_core::Stream) of `aleph::Result<String>`.
///
/// It ends after the source ends or after its first error.
pub struct Lines {
    source: ByteStream,
    /// What is left of the chunk being split.
    chunk: Bytes,
    /// The start of the current line, from earlier chunks.
    line: Vec<u8>,
    /// Where the current line starts, counted from the start of the source.
    line_start: u64,
    max: usize,
    done: bool,
}

impl Lines {
    /// Moves bytes of the current chunk into the current line; returns the
    /// line once it is complete, or an error once it is too long.
    fn split_chunk(&mut self) -> Option<Result<String>> {
        match self.chunk.iter().position(|&byte| byte == b'\n') {
            Some(at) => {
                let last = match at {
                    0 => self.line.last().copied(),
                    _ => Some(self.chunk[at - 1]),
                };
                if content_len(self.line.len() + at, last) > self.max {
                    return Some(Err(self.too_long()));
                }
                self.line.extend_from_slice(&self.chunk[..at]);
                self.chunk.advance(at + 1);
                let start = self.line_start;
                self.line_start += self.line.len() as u64 + 1;
                if last == Some(b'\r') {
                    self.line.pop();
                }
                Some(self.decode(start))
            }
            None => {
                // Checked before the copy, so the line never holds more than
                // `max` bytes and a trailing '\r' that may start a "\r\n".
                let len = self.line.len() + self.chunk.len();
                if content_len(len, self.chunk.last().copied()) > self.max {
                    return Some(Err(self.too_long()));
                }
                self.line.extend_from_slice(&self.chunk);
                self.chunk = Bytes::new();
                None
            }
        }
    }

    /// The current line as a `String`, which leaves the line empty.
    fn decode(&mut self, start: u64) -> Result<String> {
        String::from_utf8(std::mem::take(&mut self.line)).map_err(|error| {
            let error = error.utf8_error();
            self.fail(invalid_utf8(start + error.valid_up_to() as u64, error))
        })
    }

    fn too_long(&mut self) -> Error {
        let message = format!(
            "line longer than {} bytes at byte offset {}",
            self.max, self.line_start
        );
        self.fail(Error::new(ErrorKind::Decode, message))
    }

    /// Ends the stream with `error`, releasing the source and the buffers.
    fn fail(&mut self, error: Error) -> Error {
        self.done = true;
        self.source = ByteStream::empty();
        self.chunk = Bytes::new();
        self.line = Vec::new();
        error
    }
}

/// The length of a line of `len` bytes ending in `last`, without the '\r'
/// of a "\r\n" line ending.
fn content_len(len: usize, last: Option<u8>) -> usize {
    len - usize::from(last == Some(b'\r'))
}

impl Stream for Lines {
    type Item = Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<String>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if !this.chunk.is_empty() {
                match this.split_chunk() {
                    Some(line) => return Poll::Ready(Some(line)),
                    None => continue,
                }
            }
            match std::task::ready!(Pin::new(&mut this.source).poll_next(cx)) {
                Some(Ok(chunk)) => this.chunk = chunk,
                Some(Err(error)) => return Poll::Ready(Some(Err(this.fail(error)))),
                None => {
                    this.done = true;
                    if this.line.is_empty() {
                        return Poll::Ready(None);
                    }
                    // The last line has no line ending, so a '\r' is its own.
                    if this.line.len() > this.max {
                        return Poll::Ready(Some(Err(this.too_long())));
                    }
                    let start = this.line_start;
                    return Poll::Ready(Some(this.decode(start)));
                }
            }
        }
    }
}

impl FusedStream for Lines {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines")
            .field("source", &self.source)
            .field("line_start", &self.line_start)
            .field("buffered", &(self.line.len() + self.chunk.len()))
            .field("max", &self.max)
            .field("done", &self.done)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::Chunks;

    /// Every line of `chunks`, with `max`, polled without a runtime.
    fn split(chunks: &[&'static [u8]], max: usize) -> Vec<Result<String>> {
        let chunks: Vec<Result<Bytes>> = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        let mut lines = lines_with_max(Chunks(futures_util::stream::iter(chunks)), max);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(line)) = Pin::new(&mut lines).poll_next(&mut cx) {
            out.push(line);
        }
        out
    }

    fn ok(lines: &[Result<String>]) -> Vec<&str> {
        lines
            .iter()
            .map(|l| l.as_deref().expect("a line"))
            .collect()
    }

    #[test]
    fn every_split_of_a_text_gives_the_same_lines() {
        let text: &'static [u8] = "a\r\nbé\n\nc\rd\n€ end".as_bytes();
        let want = ["a", "bé", "", "c\rd", "€ end"];
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let got = split(&[&text[..i], &text[i..j], &text[j..]], 64);
                assert_eq!(ok(&got), want, "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn a_line_at_the_limit_passes_with_either_ending_in_any_split() {
        let text: &'static [u8] = b"abcd\r\nefgh\nijkl";
        for i in 0..=text.len() {
            let got = split(&[&text[..i], &text[i..]], 4);
            assert_eq!(ok(&got), ["abcd", "efgh", "ijkl"], "split at {i}");
        }
    }

    #[test]
    fn a_line_over_the_limit_fails_in_any_split() {
        for text in [
            &b"ok\nabcde\r\n"[..],
            b"ok\nabcde\n",
            b"ok\nabcde",
            b"ok\nabcd\r",
        ] {
            for i in 0..=text.len() {
                let got = split(&[&text[..i], &text[i..]], 4);
                assert_eq!(got.len(), 2, "split at {i}");
                let err = got[1].as_ref().expect_err("too long");
                assert_eq!(err.to_string(), "line longer than 4 bytes at byte offset 3");
            }
        }
    }
}
