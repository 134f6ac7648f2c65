//! Behaviour of `aleph::bytes` (byte sources and their conversions) and of
//! `aleph::stream::DuplexIo` (a duplex of chunks as tokio's io traits).

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

use aleph::bytes::{self, ByteSource, Bytes, BytesMut, Chunks, Reader};
use aleph::stream::{Channel, Duplex};
use aleph::{Error, ErrorKind};
use futures::{FutureExt, SinkExt, StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};

mod support;

use support::within;

/// A closed channel that carried `chunks`.
fn channel_of(chunks: &[&'static [u8]]) -> Channel<Bytes> {
    let ch = Channel::buffered(chunks.len().max(1));
    for chunk in chunks {
        ch.try_send(Bytes::from_static(chunk))
            .expect("room for every chunk");
    }
    ch.close();
    ch
}

/// A channel that carried `chunks` and then closed with an error.
fn failed_channel_of(chunks: &[&'static [u8]]) -> (Channel<Bytes>, Error) {
    let ch = Channel::buffered(chunks.len().max(1));
    for chunk in chunks {
        ch.try_send(Bytes::from_static(chunk))
            .expect("room for every chunk");
    }
    let error = Error::other("connection reset by peer");
    ch.close_with_error(error.clone());
    (ch, error)
}

/// The aleph error an `io::Error` made by aleph carries.
fn aleph_error_in(io: &std::io::Error) -> &Error {
    io.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .expect("an io::Error carrying an aleph::Error")
}

async fn all_lines(src: impl ByteSource) -> Vec<aleph::Result<String>> {
    within(bytes::lines(src).collect()).await
}

fn ok_lines(lines: &[aleph::Result<String>]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l.as_deref().expect("a line, not an error"))
        .collect()
}

// ---- sources ---------------------------------------------------------------------

#[tokio::test]
async fn a_single_bytes_chunk_is_returned_without_a_copy() {
    let chunk = Bytes::from(vec![7u8; 1000]);
    let got = bytes::to_bytes(chunk.clone()).await.unwrap();
    assert_eq!(got.as_ptr(), chunk.as_ptr());
    assert_eq!(got.len(), 1000);
}

#[tokio::test]
async fn in_memory_sources_convert_without_a_copy() {
    let vec = b"from a vec".to_vec();
    let vec_ptr = vec.as_ptr();
    assert_eq!(bytes::to_bytes(vec).await.unwrap().as_ptr(), vec_ptr);

    let string = String::from("from a string");
    let string_ptr = string.as_ptr();
    assert_eq!(bytes::to_bytes(string).await.unwrap().as_ptr(), string_ptr);

    let text: &'static str = "from a static str";
    assert_eq!(bytes::to_bytes(text).await.unwrap().as_ptr(), text.as_ptr());

    let slice: &'static [u8] = b"from a static slice";
    assert_eq!(
        bytes::to_bytes(slice).await.unwrap().as_ptr(),
        slice.as_ptr()
    );

    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"from a BytesMut");
    let buf_ptr = buf.as_ptr();
    assert_eq!(bytes::to_bytes(buf).await.unwrap().as_ptr(), buf_ptr);
}

#[tokio::test]
async fn to_vec_reuses_the_allocation_of_a_vec() {
    let vec = vec![1u8, 2, 3, 4];
    let ptr = vec.as_ptr();
    let back = bytes::to_vec(vec).await.unwrap();
    assert_eq!(back, [1, 2, 3, 4]);
    assert_eq!(back.as_ptr(), ptr);
}

#[tokio::test]
async fn every_in_memory_source_gives_its_content() {
    assert_eq!(
        bytes::to_string(Bytes::from("bytes")).await.unwrap(),
        "bytes"
    );
    assert_eq!(
        bytes::to_string(BytesMut::from("mut")).await.unwrap(),
        "mut"
    );
    assert_eq!(bytes::to_string(b"vec".to_vec()).await.unwrap(), "vec");
    assert_eq!(
        bytes::to_string(String::from("string")).await.unwrap(),
        "string"
    );
    assert_eq!(bytes::to_string("str").await.unwrap(), "str");
    assert_eq!(bytes::to_string(&b"slice"[..]).await.unwrap(), "slice");
    assert_eq!(bytes::to_bytes(Bytes::new()).await.unwrap(), "");
    assert_eq!(bytes::to_string("").await.unwrap(), "");
}

#[tokio::test]
async fn a_channel_is_a_source_of_its_chunks() {
    let got = within(bytes::to_bytes(channel_of(&[b"ab", b"cd", b"ef"]))).await;
    assert_eq!(got.unwrap(), "abcdef");
}

#[tokio::test]
async fn a_receiver_is_a_source_of_its_chunks() {
    let ch = channel_of(&[b"one ", b"two"]);
    let got = within(bytes::to_string(ch.receiver())).await;
    assert_eq!(got.unwrap(), "one two");
}

#[tokio::test]
async fn a_duplex_is_a_source_of_what_it_receives() {
    let inbound = channel_of(&[b"from ", b"the peer"]);
    let outbound = Channel::<()>::buffered(1);
    let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    let got = within(bytes::to_string(duplex)).await;
    assert_eq!(got.unwrap(), "from the peer");
}

#[tokio::test]
async fn converting_the_last_sending_handle_of_a_channel_does_not_wait_forever() {
    let ch = Channel::buffered(2);
    ch.send(Bytes::from("sent before")).await.unwrap();
    let got = within(bytes::to_string(ch)).await;
    assert_eq!(got.unwrap(), "sent before");
}

#[tokio::test]
async fn a_channel_fed_by_a_task_is_read_to_its_end() {
    let ch = Channel::new();
    let feeder = ch.clone();
    tokio::spawn(async move {
        for i in 0..100 {
            feeder.send(Bytes::from(format!("{i},"))).await.unwrap();
        }
        feeder.close();
    });
    let got = within(bytes::to_string(ch.receiver())).await.unwrap();
    let want: String = (0..100).map(|i| format!("{i},")).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_single_chunk_from_a_channel_is_returned_without_a_copy() {
    let chunk = Bytes::from(vec![1u8; 64]);
    let ch = Channel::buffered(1);
    ch.send(chunk.clone()).await.unwrap();
    ch.close();
    let got = within(bytes::to_bytes(ch)).await.unwrap();
    assert_eq!(got.as_ptr(), chunk.as_ptr());
}

#[tokio::test]
async fn many_chunks_are_concatenated_in_order() {
    let ch = Channel::buffered(1000);
    let mut want = Vec::new();
    for i in 0..1000u32 {
        let chunk = i.to_be_bytes().to_vec();
        want.extend_from_slice(&chunk);
        ch.send(Bytes::from(chunk)).await.unwrap();
    }
    ch.close();
    let got = within(bytes::to_vec(ch)).await.unwrap();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_byte_stream_is_its_own_source() {
    let stream = bytes::into_stream(channel_of(&[b"a", b"b"]));
    let again = stream.into_byte_stream();
    assert_eq!(within(bytes::to_bytes(again)).await.unwrap(), "ab");
}

#[tokio::test]
async fn into_stream_yields_the_chunks_as_they_were_sent() {
    let chunks: Vec<Bytes> = within(bytes::into_stream(channel_of(&[b"x", b"yz"])).try_collect())
        .await
        .unwrap();
    assert_eq!(chunks, [Bytes::from("x"), Bytes::from("yz")]);
}

#[tokio::test]
async fn chunks_wraps_a_stream_of_results() {
    let ok = futures::stream::iter([Ok::<_, std::io::Error>(b"ab".to_vec()), Ok(b"cd".to_vec())]);
    assert_eq!(bytes::to_string(Chunks(ok)).await.unwrap(), "abcd");
}

#[tokio::test]
async fn chunks_ends_with_the_first_error_of_its_stream() {
    let items = [
        Ok(b"ab".to_vec()),
        Err(std::io::Error::other("disk gone")),
        Ok(b"never".to_vec()),
    ];
    let err = bytes::to_vec(Chunks(futures::stream::iter(items)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let source = std::error::Error::source(&err).expect("the io error as source");
    assert_eq!(source.to_string(), "disk gone");

    let items = [
        Ok(b"ab".to_vec()),
        Err(std::io::Error::other("disk gone")),
        Ok(b"never".to_vec()),
    ];
    let mut stream = bytes::into_stream(Chunks(futures::stream::iter(items)));
    assert_eq!(stream.next().await.unwrap().unwrap(), "ab");
    assert!(stream.next().await.unwrap().is_err());
    assert!(stream.next().await.is_none(), "an error is the last item");
}

#[tokio::test]
async fn chunks_keeps_an_aleph_error_as_it_is() {
    let items = [Ok(Bytes::from("a")), Err(Error::other("the reason"))];
    let err = bytes::to_bytes(Chunks(futures::stream::iter(items)))
        .await
        .unwrap_err();
    assert!(err.is_other());
    assert_eq!(err.to_string(), "the reason");
}

#[tokio::test]
async fn reader_reads_a_static_slice() {
    let data: &'static [u8] = b"read from a slice";
    assert_eq!(
        bytes::to_string(Reader(data)).await.unwrap(),
        "read from a slice"
    );
}

#[tokio::test]
async fn reader_reads_a_tokio_duplex_until_the_writer_is_gone() {
    let (mut writer, reader) = tokio::io::duplex(16);
    tokio::spawn(async move {
        for _ in 0..100 {
            writer.write_all(b"0123456789").await.unwrap();
        }
    });
    let got = within(bytes::to_vec(Reader(reader))).await.unwrap();
    assert_eq!(got, b"0123456789".repeat(100));
}

/// An `AsyncRead` that gives some bytes, then fails.
struct FailingRead {
    served: bool,
}

impl tokio::io::AsyncRead for FailingRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.served {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            )));
        }
        self.served = true;
        buf.put_slice(b"partial");
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn reader_ends_with_an_io_error_of_its_reader() {
    let err = bytes::to_bytes(Reader(FailingRead { served: false }))
        .await
        .unwrap_err();
    assert!(err.is_io());
    let source = std::error::Error::source(&err).expect("the io error as source");
    assert_eq!(source.to_string(), "reset");
}

// ---- to_string -------------------------------------------------------------------

#[tokio::test]
async fn to_string_reports_the_offset_of_invalid_utf8() {
    let err = bytes::to_string(vec![b'a', b'b', 0xff]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 2");
}

#[tokio::test]
async fn to_string_counts_the_offset_across_chunks() {
    let err = within(bytes::to_string(channel_of(&[b"abc", b"de\xc3(", b"f"])))
        .await
        .unwrap_err();
    assert!(err.is_decode());
    assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 5");
}

#[tokio::test]
async fn to_string_accepts_a_character_split_across_chunks() {
    let euro = "€".as_bytes(); // three bytes
    let ch = Channel::buffered(3);
    for byte in euro {
        ch.send(Bytes::copy_from_slice(&[*byte])).await.unwrap();
    }
    ch.close();
    assert_eq!(within(bytes::to_string(ch)).await.unwrap(), "€");
}

#[tokio::test]
async fn to_string_rejects_a_character_cut_at_the_end() {
    let err = bytes::to_string(&b"ok\xe2\x82"[..]).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 2");
}

// ---- errors of a source ----------------------------------------------------------

#[tokio::test]
async fn a_channel_closed_with_an_error_fails_to_bytes_to_vec_and_to_string() {
    let (ch, error) = failed_channel_of(&[b"partial ", b"data"]);
    let got = within(bytes::to_bytes(ch)).await;
    assert_eq!(got.unwrap_err().to_string(), error.to_string());

    let (ch, error) = failed_channel_of(&[b"partial"]);
    let got = within(bytes::to_vec(ch)).await;
    assert_eq!(got.unwrap_err().to_string(), error.to_string());

    let (ch, error) = failed_channel_of(&[b"partial"]);
    let got = within(bytes::to_string(ch.receiver())).await;
    assert_eq!(got.unwrap_err().to_string(), error.to_string());

    let (ch, error) = failed_channel_of(&[]);
    let got = within(bytes::to_string(ch)).await;
    assert_eq!(got.unwrap_err().to_string(), error.to_string());
}

#[tokio::test]
async fn a_duplex_whose_peer_failed_fails_the_conversion() {
    let (inbound, error) = failed_channel_of(&[b"half a bo"]);
    let outbound = Channel::<Bytes>::buffered(1);
    let duplex = Duplex::from_parts(inbound.receiver(), outbound.sender());
    let got = within(bytes::to_bytes(duplex)).await;
    assert_eq!(got.unwrap_err().to_string(), error.to_string());
}

#[tokio::test]
async fn a_channel_closed_with_an_error_ends_lines_with_that_error() {
    let (ch, error) = failed_channel_of(&[b"whole\npart"]);
    let got = all_lines(ch).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].as_deref().unwrap(), "whole");
    assert_eq!(got[1].as_ref().unwrap_err().to_string(), error.to_string());
}

#[tokio::test]
async fn a_channel_closed_with_an_error_fails_into_async_read() {
    let (ch, error) = failed_channel_of(&[b"partial"]);
    let mut reader = bytes::into_async_read(ch);
    let mut out = Vec::new();
    let err = within(reader.read_to_end(&mut out)).await.unwrap_err();
    assert_eq!(aleph_error_in(&err).to_string(), error.to_string());
    let again = within(reader.read(&mut [0u8; 8])).await.unwrap_err();
    assert_eq!(
        aleph_error_in(&again).to_string(),
        error.to_string(),
        "a failed reader never reads as a clean end"
    );
}

#[tokio::test]
async fn a_channel_closed_with_an_error_fails_the_blocking_reader() {
    let (ch, error) = failed_channel_of(&[b"partial"]);
    let mut reader = bytes::into_blocking_reader(ch);
    let result = within(tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let first = reader.read_to_end(&mut out);
        let again = reader.read(&mut [0u8; 8]);
        (first, again)
    }))
    .await
    .unwrap();
    let (first, again) = result;
    assert_eq!(
        aleph_error_in(&first.unwrap_err()).to_string(),
        error.to_string()
    );
    assert_eq!(
        aleph_error_in(&again.unwrap_err()).to_string(),
        error.to_string()
    );
}

// ---- lines -----------------------------------------------------------------------

#[tokio::test]
async fn lines_split_on_lf_and_crlf() {
    let got = all_lines("one\ntwo\r\nthree\n").await;
    assert_eq!(ok_lines(&got), ["one", "two", "three"]);
}

#[tokio::test]
async fn lines_yield_the_last_line_without_a_newline() {
    let got = all_lines("one\nlast").await;
    assert_eq!(ok_lines(&got), ["one", "last"]);
}

#[tokio::test]
async fn lines_do_not_yield_an_empty_trailing_line() {
    assert_eq!(ok_lines(&all_lines("one\n").await), ["one"]);
    assert_eq!(ok_lines(&all_lines("one\r\n").await), ["one"]);
    assert!(all_lines("").await.is_empty());
}

#[tokio::test]
async fn lines_keep_empty_lines_in_the_middle() {
    let got = all_lines("a\n\n\r\nb\n").await;
    assert_eq!(ok_lines(&got), ["a", "", "", "b"]);
}

#[tokio::test]
async fn lines_keep_a_lone_carriage_return() {
    let got = all_lines("a\rb\nc\r").await;
    assert_eq!(ok_lines(&got), ["a\rb", "c\r"]);
}

#[tokio::test]
async fn lines_join_a_crlf_and_a_character_split_across_chunks() {
    let text = "é\r\n€uro\n".as_bytes();
    let ch = Channel::buffered(text.len());
    for byte in text {
        ch.send(Bytes::copy_from_slice(&[*byte])).await.unwrap();
    }
    ch.close();
    let got = all_lines(ch).await;
    assert_eq!(ok_lines(&got), ["é", "€uro"]);
}

#[tokio::test]
async fn lines_report_invalid_utf8_with_its_offset_in_the_whole_stream() {
    let got = all_lines(channel_of(&[b"fine\nst", b"ill\nbad \xff line\nnever\n"])).await;
    assert_eq!(got.len(), 3, "the stream ends after its error");
    assert_eq!(ok_lines(&got[..2]), ["fine", "still"]);
    let err = got[2].as_ref().unwrap_err();
    assert!(err.is_decode());
    assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 15");
}

#[tokio::test]
async fn a_line_exactly_at_the_max_is_accepted() {
    let mut text = vec![b'x'; bytes::MAX_LINE];
    text.extend_from_slice(b"\r\nafter\n");
    let got = all_lines(text).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].as_ref().unwrap().len(), bytes::MAX_LINE);
    assert_eq!(got[1].as_deref().unwrap(), "after");
}

#[tokio::test]
async fn a_line_over_the_max_is_a_decode_error() {
    let mut text = b"short\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', bytes::MAX_LINE + 1));
    text.extend_from_slice(b"\nnever\n");
    let got = all_lines(text).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].as_deref().unwrap(), "short");
    let err = got[1].as_ref().unwrap_err();
    assert!(err.is_decode());
    assert_eq!(
        err.to_string(),
        format!(
            "line longer than {} bytes at byte offset 6",
            bytes::MAX_LINE
        )
    );
}

#[tokio::test]
async fn a_long_line_fails_before_the_source_ends() {
    // The source never ends: the error must come from the limit, not the end.
    let ch = Channel::buffered(1);
    let feeder = ch.clone();
    tokio::spawn(
        async move { while feeder.send(Bytes::from_static(&[b'x'; 1024])).await.is_ok() {} },
    );
    let mut lines = bytes::lines_with_max(ch.receiver(), 10_000);
    let err = within(lines.next()).await.unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "line longer than 10000 bytes at byte offset 0"
    );
    assert!(within(lines.next()).await.is_none());
    ch.close();
}

#[tokio::test]
async fn lines_with_max_applies_its_own_limit() {
    let got: Vec<_> = within(bytes::lines_with_max("abc\nabcd\n", 3).collect()).await;
    assert_eq!(got[0].as_deref().unwrap(), "abc");
    assert_eq!(
        got[1].as_ref().unwrap_err().to_string(),
        "line longer than 3 bytes at byte offset 4"
    );
}

// ---- readers ---------------------------------------------------------------------

#[tokio::test]
async fn into_async_read_reads_every_chunk_to_the_end() {
    let mut reader = bytes::into_async_read(channel_of(&[b"chunk one, ", b"", b"chunk two"]));
    let mut out = Vec::new();
    within(reader.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, b"chunk one, chunk two");
}

#[tokio::test]
async fn into_async_read_serves_small_reads_from_a_big_chunk() {
    let mut reader = bytes::into_async_read("abcdef");
    let mut two = [0u8; 2];
    reader.read_exact(&mut two).await.unwrap();
    assert_eq!(&two, b"ab");
    let mut rest = String::new();
    reader.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "cdef");
}

#[tokio::test]
async fn into_blocking_reader_works_inside_spawn_blocking() {
    let ch = Channel::new();
    let feeder = ch.clone();
    tokio::spawn(async move {
        for part in ["blocking ", "reads ", "work"] {
            feeder.send(Bytes::from(part)).await.unwrap();
        }
        feeder.close();
    });
    let mut reader = bytes::into_blocking_reader(ch.receiver());
    drop(ch);
    let text = within(tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        reader.read_to_string(&mut text).map(|_| text)
    }))
    .await
    .unwrap()
    .unwrap();
    assert_eq!(text, "blocking reads work");
}

#[tokio::test]
async fn into_blocking_reader_works_on_a_plain_thread_fed_from_the_runtime() {
    let ch = Channel::new();
    let feeder = ch.clone();
    tokio::spawn(async move {
        for i in 0..50 {
            feeder.send(Bytes::from(format!("{i}\n"))).await.unwrap();
        }
        feeder.close();
    });
    let mut reader = bytes::into_blocking_reader(ch.receiver());
    drop(ch);
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let read = reader.read_to_string(&mut text).map(|_| text);
        let _ = done.send(read);
    });
    let text = within(result).await.unwrap().unwrap();
    let want: String = (0..50).map(|i| format!("{i}\n")).collect();
    assert_eq!(text, want);
}

#[tokio::test]
async fn the_blocking_reader_refuses_to_block_in_async_code() {
    let mut reader = bytes::into_blocking_reader("in memory");
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut buf = [0u8; 4];
        reader.read(&mut buf)
    }));
    assert!(read.is_err(), "a read on a runtime thread panics");
}

// ---- DuplexIo --------------------------------------------------------------------

/// A `DuplexIo` over two channels, with the peer's view of them.
fn duplex_io(capacity: usize) -> (aleph::stream::DuplexIo, Channel<Bytes>, Channel<Bytes>) {
    let inbound = Channel::buffered(capacity);
    let outbound = Channel::buffered(capacity);
    let io = Duplex::from_parts(inbound.receiver(), outbound.sender()).into_io();
    (io, inbound, outbound)
}

#[tokio::test]
async fn framed_lines_codec_works_both_ways_over_two_channels() {
    let (io, inbound, outbound) = duplex_io(4);
    let mut framed = Framed::new(io, LinesCodec::new());

    let peer = tokio::spawn(async move {
        for chunk in ["hel", "lo\nwor", "ld\n"] {
            inbound.send(Bytes::from(chunk)).await.unwrap();
        }
        inbound.close();
        bytes::to_string(outbound).await.unwrap()
    });

    let mut got = Vec::new();
    while let Some(line) = within(framed.next()).await {
        got.push(line.unwrap());
    }
    assert_eq!(got, ["hello", "world"]);

    within(framed.send("first")).await.unwrap();
    within(framed.send("second")).await.unwrap();
    within(SinkExt::<&str>::close(&mut framed)).await.unwrap();
    assert_eq!(within(peer).await.unwrap(), "first\nsecond\n");
}

#[tokio::test]
async fn duplex_io_reads_eof_when_the_inbound_channel_closes() {
    let (mut io, inbound, _outbound) = duplex_io(2);
    inbound.send(Bytes::from("last words")).await.unwrap();
    inbound.close();
    let mut out = Vec::new();
    within(io.read_to_end(&mut out)).await.unwrap();
    assert_eq!(out, b"last words");
    assert_eq!(within(io.read(&mut [0u8; 8])).await.unwrap(), 0);
}

#[tokio::test]
async fn duplex_io_reads_fail_with_the_inbound_error() {
    let (mut io, inbound, _outbound) = duplex_io(2);
    inbound.send(Bytes::from("half")).await.unwrap();
    inbound.close_with_error(Error::other("connection reset"));
    let mut out = Vec::new();
    let err = within(io.read_to_end(&mut out)).await.unwrap_err();
    assert_eq!(out, b"half");
    assert_eq!(aleph_error_in(&err).to_string(), "connection reset");
}

#[tokio::test]
async fn framed_sees_the_inbound_error_of_a_duplex_io() {
    let (io, inbound, _outbound) = duplex_io(2);
    let mut framed = Framed::new(io, LinesCodec::new());
    inbound.send(Bytes::from("line\nunfinished")).await.unwrap();
    inbound.close_with_error(Error::other("reset mid-line"));
    assert_eq!(within(framed.next()).await.unwrap().unwrap(), "line");
    match within(framed.next()).await {
        Some(Err(LinesCodecError::Io(err))) => {
            assert_eq!(aleph_error_in(&err).to_string(), "reset mid-line");
        }
        other => panic!("expected the inbound error, got {other:?}"),
    }
}

#[tokio::test]
async fn duplex_io_write_after_shutdown_is_broken_pipe() {
    let (mut io, _inbound, outbound) = duplex_io(2);
    io.write_all(b"before").await.unwrap();
    within(io.shutdown()).await.unwrap();
    assert!(outbound.is_closed());
    let err = io.write_all(b"after").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    assert_eq!(within(bytes::to_string(outbound)).await.unwrap(), "before");
}

#[tokio::test]
async fn duplex_io_write_after_the_peer_closed_is_broken_pipe() {
    let (mut io, _inbound, outbound) = duplex_io(2);
    outbound.close();
    let err = io.write(b"nobody listens").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    let err = io.flush().await;
    assert!(err.is_ok(), "nothing was held, so there is nothing to lose");
}

#[tokio::test]
async fn duplex_io_write_waits_for_room_and_holds_nothing_meanwhile() {
    let (mut io, _inbound, outbound) = duplex_io(1);
    assert_eq!(io.write(b"a").await.unwrap(), 1); // in the channel
    assert!(
        io.write(b"b").now_or_never().is_none(),
        "no room: the write waits and takes nothing"
    );
    assert!(
        io.flush().now_or_never().is_some(),
        "nothing is held, so a flush has nothing to wait for"
    );
    assert_eq!(within(outbound.recv()).await.unwrap(), "a");
    // The abandoned write of "b" took nothing: a write of other bytes goes next.
    assert_eq!(within(io.write(b"c")).await.unwrap(), 1);
    assert_eq!(within(outbound.recv()).await.unwrap(), "c");
    assert!(outbound.try_recv().is_err());
}

#[tokio::test]
async fn duplex_io_shutdown_after_a_waiting_write_delivers_it_then_closes() {
    let (mut io, _inbound, outbound) = duplex_io(1);
    io.write_all(b"first").await.unwrap();
    let writer = tokio::spawn(async move {
        io.write_all(b"second").await.unwrap(); // waits for room
        io.shutdown().await.unwrap();
        io
    });
    assert_eq!(within(outbound.recv()).await.unwrap(), "first");
    assert_eq!(within(outbound.recv()).await.unwrap(), "second");
    let _io = within(writer).await.unwrap();
    assert_eq!(
        within(outbound.recv()).await,
        None,
        "closed after delivering"
    );
    assert!(outbound.error().is_none());
}

#[tokio::test]
async fn dropping_duplex_io_gives_its_turn_to_other_writers() {
    let (mut io, _inbound, outbound) = duplex_io(1);
    io.write_all(b"a").await.unwrap(); // in the channel
    assert!(
        io.write(b"b").now_or_never().is_none(),
        "parked: first in line"
    );

    let other = outbound.sender();
    let other_send = tokio::spawn(async move { other.send(Bytes::from("x")).await.is_ok() });
    tokio::task::yield_now().await; // let it park behind the waiting write

    assert_eq!(within(outbound.recv()).await.unwrap(), "a"); // wakes the waiting write
    drop(io); // ...which is dropped before it acts: its turn passes on
    assert!(within(other_send).await.unwrap());
    assert_eq!(within(outbound.recv()).await.unwrap(), "x");
}
