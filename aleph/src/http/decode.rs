//! Content decoding of a response body (RFC 9110 §8.4): gzip, deflate, br
//! and zstd, streamed.
//!
//! Each coding named in `Content-Encoding` wraps the body in a decoder that
//! reads compressed chunks only as decoded ones are taken, and hands out at
//! most [`CHUNK`] bytes at a time, so a small compressed body that inflates
//! to gigabytes never sits in memory at once. Corrupt or truncated input is
//! an error of kind [`Decode`](crate::ErrorKind::Decode), never a clean end;
//! an error of the body underneath comes through as it was.

use std::pin::Pin;

use async_compression::tokio::bufread::{
    BrotliDecoder, DeflateDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder,
};
use bytes::Bytes;
use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt};
use http::HeaderValue;
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use super::Body;
use crate::bytes::ByteSource;
use crate::{Error, ErrorKind, Result};

/// What a client that decodes with [`decode`] sends as `Accept-Encoding`.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// The most decoded bytes handed out in one chunk.
const CHUNK: usize = 16 * 1024;

/// The most codings one body is decoded through. Each is a decoder with
/// its buffers, polled inside the one before: a hostile header naming
/// thousands would take memory and overflow the stack (curl's
/// CVE-2022-32206; curl's own limit is 5 as well).
const MAX_CODINGS: usize = 5;

/// The largest zstd window accepted: 8 MiB, as RFC 9659 §3 asks of HTTP
/// decoders, so a hostile frame header cannot make us reserve gigabytes.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// One content coding this module decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Gzip,
    /// `deflate`: the zlib format (RFC 1950) by the standard, but raw deflate
    /// (RFC 1951) from servers that got it wrong is taken too, as browsers do.
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// The codings of a `Content-Encoding` value, in the order they were
/// applied; `identity` is left out. `None` if one of them is unknown (or the
/// value is not text).
fn codings(value: &HeaderValue) -> Option<Vec<Coding>> {
    let text = value.to_str().ok()?;
    let mut codings = Vec::new();
    for name in text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let coding = match name.to_ascii_lowercase().as_str() {
            // RFC 9110 §8.4.1.3: x-gzip is gzip.
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Brotli,
            "zstd" => Coding::Zstd,
            "identity" => continue,
            _ => return None,
        };
        codings.push(coding);
    }
    Some(codings)
}

/// The body decoded from the codings its `Content-Encoding` names, or, if a
/// coding is unknown, `Err` with the body given back untouched (the caller
/// then keeps it as it came).
///
/// Several codings are undone in the reverse of the order they are listed
/// in, as they were applied in that order (RFC 9110 §8.4). An empty body
/// stays empty whatever the coding (a `HEAD` answer, a 204).
///
/// # Errors
///
/// The decoded body fails with [`ErrorKind::Decode`] on corrupt input, on
/// input that ends before the compressed stream does, and at once when
/// more than 5 codings are named.
pub(crate) fn decode(body: Body, content_encoding: &HeaderValue) -> Result<Body, Body> {
    let Some(codings) = codings(content_encoding) else {
        return Err(body);
    };
    if codings.len() > MAX_CODINGS {
        let error = Error::new(
            ErrorKind::Decode,
            format!(
                "{} content codings in one body (at most {MAX_CODINGS} are decoded)",
                codings.len()
            ),
        );
        return Ok(Body::from_stream(futures_util::stream::once(async move {
            Err::<Bytes, Error>(error)
        })));
    }
    Ok(codings.into_iter().rev().fold(body, |body, coding| {
        Body::from_stream(decoded(body, coding))
    }))
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// The decoded chunks of `body`. The first bytes are looked at before a
/// decoder is chosen: they tell zlib from raw deflate, and whether there is
/// anything to decode at all.
fn decoded(body: Body, coding: Coding) -> ChunkStream {
    let mut source = body.into_byte_stream();
    futures_util::stream::once(async move {
        let mut head: Vec<Bytes> = Vec::new();
        let mut seen = 0;
        while seen < 2 {
            match source.next().await {
                Some(Ok(chunk)) => {
                    seen += chunk.len();
                    head.push(chunk);
                }
                Some(Err(error)) => {
                    return Box::pin(futures_util::stream::once(async { Err(error) }))
                        as ChunkStream
                }
                None => break,
            }
        }
        if seen == 0 {
            return Box::pin(futures_util::stream::empty()) as ChunkStream;
        }
        let first = head
            .iter()
            .flat_map(|chunk| chunk.iter().copied())
            .take(2)
            .collect::<Vec<u8>>();
        let input = futures_util::stream::iter(head.into_iter().map(Ok))
            .chain(source)
            .map_err(Error::into_io);
        let reader = StreamReader::new(input);
        let decoder: Pin<Box<dyn AsyncRead + Send>> = match coding {
            Coding::Gzip => {
                let mut decoder = GzipDecoder::new(reader);
                decoder.multiple_members(true);
                Box::pin(decoder)
            }
            Coding::Deflate if is_zlib(&first) => Box::pin(ZlibDecoder::new(reader)),
            Coding::Deflate => Box::pin(DeflateDecoder::new(reader)),
            Coding::Brotli => Box::pin(BrotliDecoder::new(reader)),
            Coding::Zstd => Box::pin(ZstdDecoder::with_params(
                reader,
                &[async_compression::zstd::DParameter::window_log_max(
                    ZSTD_WINDOW_LOG_MAX,
                )],
            )),
        };
        Box::pin(
            ReaderStream::with_capacity(decoder, CHUNK)
                .map_err(move |error| decode_error(error, coding)),
        ) as ChunkStream
    })
    .flatten()
    .boxed()
}

/// True if `head` starts a zlib stream (RFC 1950 §2.2): compression method 8
/// with a window of at most 32 KiB, and a header check that is a multiple of
/// 31. Raw deflate rarely looks like that, and never with a valid stream
/// after it, so a wrong guess is still a decode error rather than garbage.
fn is_zlib(head: &[u8]) -> bool {
    match head {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// The error of a decoder: the body's own error if it is one (a reset
/// connection stays what it was), else the decoder's complaint about the data.
fn decode_error(error: std::io::Error, coding: Coding) -> Error {
    if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::from_io(error, "reading the body");
    }
    let name = coding.name();
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::with_source(
            ErrorKind::Decode,
            format!("{name} body ended before its compressed stream did"),
            error,
        )
    } else {
        Error::with_source(ErrorKind::Decode, format!("corrupt {name} body"), error)
    }
}

#[cfg(test)]
mod tests {
    //! Compressed inputs come from the real tools (`gzip`, `brotli`, `zstd`,
    //! Python's `zlib`), installed by `scripts/install-test-peers.sh`.

    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// `program args` with `input` on stdin; its stdout.
    fn tool(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{program} is not installed ({error}): run scripts/install-test-peers.sh")
            });
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let output = child.wait_with_output().expect("the tool runs");
        writer
            .join()
            .expect("writer thread")
            .expect("stdin takes the input");
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            output.status
        );
        output.stdout
    }

    fn python(code: &str, input: &[u8]) -> Vec<u8> {
        tool("python3", &["-c", code], input)
    }

    const ZLIB: &str =
        "import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))";
    const RAW_DEFLATE: &str = "import sys, zlib; c = zlib.compressobj(6, zlib.DEFLATED, -15); \
        sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read()) + c.flush())";

    /// Each coding's name and its encoding of `plain`, made by a real tool.
    fn encoded_by_tools(plain: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("gzip", tool("gzip", &["-c"], plain)),
            ("deflate", python(ZLIB, plain)),
            ("deflate", python(RAW_DEFLATE, plain)),
            ("br", tool("brotli", &["-c"], plain)),
            ("zstd", tool("zstd", &["-c", "-q"], plain)),
        ]
    }

    /// Text that compresses, but not to nothing.
    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| {
                b"the quick brown fox jumps over the lazy dog 0123456789\n"[i % 55]
                    ^ (i / 997) as u8 & 3
            })
            .collect()
    }

    /// A body streamed in chunks of `size` bytes.
    fn chunked(data: &[u8], size: usize) -> Body {
        let chunks: Vec<Bytes> = data.chunks(size).map(Bytes::copy_from_slice).collect();
        Body::from_stream(futures_util::stream::iter(
            chunks.into_iter().map(Ok::<_, std::io::Error>),
        ))
    }

    async fn decode_all(body: Body, coding: &str) -> Result<Vec<u8>> {
        let body = decode(body, &HeaderValue::from_str(coding).unwrap())
            .unwrap_or_else(|_| panic!("{coding} is a known coding"));
        crate::bytes::to_vec(body).await
    }

    #[tokio::test]
    async fn bodies_encoded_by_real_tools_decode_whatever_the_chunking() {
        let plain = sample(200_000);
        for (coding, encoded) in encoded_by_tools(&plain) {
            for size in [1, 7, 4096, encoded.len()] {
                if size == 1 && encoded.len() > 20_000 {
                    // One byte at a time, but on a shorter input.
                    let short = &plain[..3000];
                    let small = match encoded_by_tools(short)
                        .into_iter()
                        .find(|(c, _)| *c == coding)
                    {
                        Some((_, small)) => small,
                        None => unreachable!(),
                    };
                    let decoded = decode_all(chunked(&small, 1), coding).await.unwrap();
                    assert_eq!(decoded, short, "{coding} in 1-byte chunks");
                    continue;
                }
                let decoded = decode_all(chunked(&encoded, size), coding).await.unwrap();
                assert_eq!(decoded.len(), plain.len(), "{coding} in {size}-byte chunks");
                assert!(decoded == plain, "{coding} in {size}-byte chunks");
            }
        }
    }

    #[tokio::test]
    async fn several_codings_are_undone_last_first() {
        let plain = sample(10_000);
        let gzipped = tool("gzip", &["-c"], &plain);
        let both = tool("brotli", &["-c"], &gzipped);
        let decoded = decode_all(Body::from(both), "gzip, br").await.unwrap();
        assert!(decoded == plain);
        let zstd_then_deflate = python(ZLIB, &tool("zstd", &["-c", "-q"], &plain));
        let decoded = decode_all(Body::from(zstd_then_deflate), "ZSTD,identity , Deflate")
            .await
            .unwrap();
        assert!(decoded == plain);
    }

    #[tokio::test]
    async fn concatenated_gzip_members_are_one_body() {
        let mut two = tool("gzip", &["-c"], b"first, ");
        two.extend(tool("gzip", &["-c"], b"second"));
        assert_eq!(
            decode_all(Body::from(two), "x-gzip").await.unwrap(),
            b"first, second"
        );
    }

    #[tokio::test]
    async fn unknown_codings_are_not_decoded_and_the_body_comes_back_whole() {
        for value in ["compress", "gzip, snappy", "br;q=1"] {
            let Err(body) = decode(Body::from("kept"), &HeaderValue::from_static(value)) else {
                panic!("{value} was taken as a known coding");
            };
            assert_eq!(
                crate::bytes::to_string(body).await.unwrap(),
                "kept",
                "{value}"
            );
        }
        let identity = decode(Body::from("as is"), &HeaderValue::from_static("identity"));
        assert!(identity.is_ok());
    }

    #[tokio::test]
    async fn identity_and_empty_bodies_pass_through() {
        let body = decode(Body::from("as is"), &HeaderValue::from_static("identity")).unwrap();
        assert_eq!(crate::bytes::to_string(body).await.unwrap(), "as is");
        for coding in ["gzip", "deflate", "br", "zstd"] {
            assert_eq!(
                decode_all(Body::empty(), coding).await.unwrap(),
                b"",
                "{coding}"
            );
        }
    }

    #[tokio::test]
    async fn corrupt_bodies_are_decode_errors() {
        let plain = sample(50_000);
        // Raw deflate has no check value: damage there is garbage out, as
        // with every client, so only the formats that carry one are tried.
        let checked = encoded_by_tools(&plain)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != 2);
        for (_, (coding, mut encoded)) in checked {
            // Past every header: the damage is in the compressed data.
            let middle = encoded.len() / 2;
            for byte in &mut encoded[middle..middle + 16] {
                *byte ^= 0x5a;
            }
            let result = decode_all(chunked(&encoded, 1000), coding).await;
            let error = result.map(|out| out.len()).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Decode, "{coding}: {error}");
        }
        let error = decode_all(Body::from("not gzip at all"), "gzip")
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "corrupt gzip body");
    }

    #[tokio::test]
    async fn truncated_bodies_are_errors_never_a_clean_end() {
        let plain = sample(50_000);
        for (coding, encoded) in encoded_by_tools(&plain) {
            for keep in [encoded.len() - 1, encoded.len() - 5, encoded.len() / 2, 3] {
                let cut = encoded[..keep].to_vec();
                let result = decode_all(chunked(&cut, 999), coding)
                    .await
                    .map(|out| out.len());
                let error = result.expect_err(&format!("{coding} cut to {keep} bytes"));
                assert_eq!(
                    error.kind(),
                    ErrorKind::Decode,
                    "{coding} cut to {keep}: {error}"
                );
            }
        }
    }

    #[tokio::test]
    async fn an_error_of_the_body_underneath_comes_through_unchanged() {
        let encoded = tool("gzip", &["-c"], &sample(100_000));
        let half = Bytes::copy_from_slice(&encoded[..encoded.len() / 2]);
        let failing = futures_util::stream::iter([
            Ok(half),
            Err(Error::new(ErrorKind::Io, "connection reset mid-body")),
        ]);
        let error = decode_all(Body::from_stream(failing), "gzip")
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Io);
        assert_eq!(error.to_string(), "connection reset mid-body");
    }

    #[tokio::test]
    async fn decoding_reads_the_source_only_as_output_is_taken() {
        // 64 MiB of zeros compress to about 64 KiB.
        let zeros = vec![0u8; 64 << 20];
        for (coding, encoded) in [
            ("gzip", tool("gzip", &["-c"], &zeros)),
            ("zstd", tool("zstd", &["-c", "-q"], &zeros)),
            ("br", tool("brotli", &["-c"], &zeros)),
        ] {
            let pulled = Arc::new(AtomicUsize::new(0));
            let counter = pulled.clone();
            // About 64 input chunks, whatever the ratio.
            let size = (encoded.len() / 64).max(1);
            let chunks: Vec<Bytes> = encoded.chunks(size).map(Bytes::copy_from_slice).collect();
            let total = chunks.len();
            let source = futures_util::stream::iter(chunks).map(move |chunk| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(chunk)
            });
            let body =
                decode(Body::from_stream(source), &HeaderValue::from_static(coding)).unwrap();
            let mut stream = body.into_byte_stream();
            let mut taken = 0;
            for _ in 0..4 {
                let chunk = stream.next().await.unwrap().unwrap();
                assert!(chunk.len() <= CHUNK, "{coding}: a chunk of {}", chunk.len());
                taken += chunk.len();
            }
            assert!(taken > 0);
            let read = pulled.load(Ordering::SeqCst);
            assert!(
                read < total / 2,
                "{coding}: {read} of {total} input chunks read for 4 output chunks"
            );
            let mut rest = 0;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.unwrap();
                assert!(chunk.len() <= CHUNK);
                assert!(chunk.iter().all(|&b| b == 0));
                rest += chunk.len();
            }
            assert_eq!(taken + rest, zeros.len(), "{coding}");
        }
    }

    #[tokio::test]
    async fn zstd_windows_over_8_mib_are_refused_as_rfc_9659_allows() {
        let zeros = vec![0u8; 32 << 20];
        let small_window = tool("zstd", &["-c", "-q", "--long=23"], &zeros);
        let decoded = decode_all(Body::from(small_window), "zstd").await.unwrap();
        assert_eq!(decoded.len(), zeros.len());
        let large_window = tool("zstd", &["-c", "-q", "--long=25"], &zeros);
        let error = decode_all(Body::from(large_window), "zstd")
            .await
            .map(|out| out.len())
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode, "{error}");
    }

    #[test]
    fn zlib_headers_are_told_from_raw_deflate() {
        assert!(is_zlib(&[0x78, 0x9c]));
        assert!(is_zlib(&[0x78, 0x01]));
        assert!(is_zlib(&[0x78, 0xda]));
        assert!(!is_zlib(&[0x78, 0x9d]));
        assert!(!is_zlib(&[0xcb, 0x48]));
        assert!(!is_zlib(&[0x78]));
    }
}
