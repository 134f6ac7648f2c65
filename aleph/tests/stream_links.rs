//! The close, error and panic rules through the stream layer: `connect`, the
//! operators, the adapters and the byte io views. One test per rule (issue 8).

mod support;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aleph::bytes::{self, Bytes};
use aleph::stream::{self, Channel, ConnectOptions, Duplex, Receiver};
use futures::{SinkExt, StreamExt};
use support::{at_most, settle, within, SHORT};
use tokio::io::AsyncWriteExt;

fn upstream() -> ConnectOptions {
    ConnectOptions {
        upstream: true,
        ..ConnectOptions::default()
    }
}

/// Sends `values` into a new channel, hands a clone of it to `link` (which
/// returns the output to read), then drops the producer's last handle without
/// closing it, and returns everything the output yields until its end.
async fn after_the_producer_drops<T, F>(values: &[u8], link: F) -> (Vec<T>, Receiver<T>)
where
    F: FnOnce(Channel<u8>) -> Receiver<T>,
{
    let src = Channel::buffered(8);
    let out = link(src.clone());
    for &v in values {
        src.send(v).await.unwrap();
    }
    drop(src);
    let mut got = Vec::new();
    while let Some(v) = within(out.recv()).await {
        got.push(v);
    }
    (got, out)
}

// ---- the drop rule holds through every link --------------------------------

#[tokio::test]
async fn connect_ends_when_the_producer_drops_its_last_source_handle() {
    let (got, out) = after_the_producer_drops(&[1], |src| {
        let dst = Channel::buffered(8);
        stream::connect(src, dst.clone(), ConnectOptions::default());
        dst.receiver()
    })
    .await;
    assert_eq!(got, [1]);
    assert!(out.error().is_none());
}

#[tokio::test]
async fn buffer_ends_when_the_producer_drops_its_last_source_handle() {
    let (got, _) = after_the_producer_drops(&[1, 2], |src| stream::buffer(src, 4)).await;
    assert_eq!(got, [1, 2]);
}

#[tokio::test]
async fn batch_ends_when_the_producer_drops_its_last_source_handle() {
    let (got, _) = after_the_producer_drops(&[1, 2], |src| {
        stream::batch(src, 10, Duration::from_secs(3600))
    })
    .await;
    assert_eq!(got, [vec![1, 2]]);
}

#[tokio::test]
async fn zip_pairs_then_ends_when_both_producers_drop() {
    let (a, b) = (Channel::buffered(4), Channel::buffered(4));
    let pairs = stream::zip(a.clone(), b.clone());
    a.send(1u8).await.unwrap();
    b.send("one").await.unwrap();
    drop((a, b));
    assert_eq!(within(pairs.recv()).await, Some((1, "one")));
    assert_eq!(within(pairs.recv()).await, None);
}

#[tokio::test]
async fn flatten_ends_when_the_producer_drops_its_last_source_handle() {
    let src = Channel::buffered(4);
    let flat = stream::flatten(src.clone());
    src.send(vec![1, 2]).await.unwrap();
    drop(src);
    assert_eq!(within(flat.recv()).await, Some(1));
    assert_eq!(within(flat.recv()).await, Some(2));
    assert_eq!(within(flat.recv()).await, None);
}

#[tokio::test]
async fn throttle_ends_when_the_producer_drops_its_last_source_handle() {
    let (got, _) = after_the_producer_drops(&[1, 2], |src| stream::throttle(src, 1000.0)).await;
    assert_eq!(got, [1, 2]);
}

#[tokio::test]
async fn into_mpsc_ends_when_the_producer_drops_its_last_source_handle() {
    let src = Channel::buffered(4);
    let mut rx = stream::into_mpsc(src.clone(), 4);
    src.send(1u8).await.unwrap();
    drop(src);
    assert_eq!(within(rx.recv()).await, Some(1));
    assert_eq!(within(rx.recv()).await, None);
}

#[tokio::test]
async fn a_duplex_used_as_a_source_ends_when_its_producer_drops_it() {
    // A loopback duplex: what is sent into it comes back out of it.
    let wire = Channel::buffered(4);
    let duplex: Duplex<u8, u8> = stream::splice(wire.clone(), wire.clone());
    drop(wire);
    let dst = Channel::buffered(4);
    stream::connect(duplex.clone(), dst.clone(), ConnectOptions::default());
    duplex.send(1).await.unwrap();
    drop(duplex);
    assert_eq!(within(dst.recv()).await, Some(1));
    assert_eq!(within(dst.recv()).await, None);
}

// ---- dropping an operator's output closes its aleph source ------------------

#[tokio::test]
async fn dropping_the_output_of_batch_closes_its_source() {
    let src = Channel::<u8>::buffered(4);
    drop(stream::batch(src.clone(), 4, Duration::from_secs(1)));
    within(src.closed()).await;
}

#[tokio::test]
async fn dropping_the_output_of_throttle_closes_its_source() {
    let src = Channel::<u8>::buffered(4);
    drop(stream::throttle(src.clone(), 10.0));
    within(src.closed()).await;
}

#[tokio::test]
async fn dropping_the_output_of_zip_closes_both_sources() {
    let (a, b) = (Channel::<u8>::buffered(4), Channel::<u8>::buffered(4));
    drop(stream::zip(a.clone(), b.clone()));
    within(a.closed()).await;
    within(b.closed()).await;
}

#[tokio::test]
async fn dropping_the_output_of_flatten_closes_its_source() {
    let src = Channel::<Vec<u8>>::buffered(4);
    drop(stream::flatten(src.clone()));
    within(src.closed()).await;
}

// ---- upstream propagation takes nothing and closes only the source ----------

#[tokio::test]
async fn connect_into_a_closed_sink_takes_nothing_from_the_source() {
    let src = Channel::buffered(4);
    src.try_send(1).unwrap();
    src.try_send(2).unwrap();
    let dst = Channel::<u8>::buffered(4);
    dst.close();
    let link = stream::connect(src.clone(), dst, ConnectOptions::default());
    let ended = within(link).await;
    assert_eq!(
        src.try_recv(),
        Ok(1),
        "the first value is still in the source"
    );
    assert!(!src.is_closed(), "upstream: false leaves the source open");
    assert!(ended.is_ok(), "nothing was lost: {ended:?}");
}

/// A foreign stream that never yields and panics when dropped.
struct PanicsOnDrop;

impl futures::Stream for PanicsOnDrop {
    type Item = u8;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<u8>> {
        Poll::Pending
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("source drop panics");
    }
}

#[tokio::test]
async fn a_source_whose_drop_panics_is_contained_and_leaves_no_state_behind() {
    let dst = Channel::<u8>::buffered(4);
    let link = stream::connect(PanicsOnDrop, dst.clone(), upstream());
    settle().await;
    dst.close();
    let ended = within(link).await;
    // The link ran on this thread (a current-thread runtime): dropping an
    // unrelated clone here must follow the ordinary rules.
    let unrelated = Channel::<u8>::buffered(1);
    drop(unrelated.clone());
    assert!(!unrelated.is_closed());
    assert!(
        ended.is_ok(),
        "the sink closed with nothing lost: {ended:?}"
    );
}

#[tokio::test]
async fn upstream_close_closes_only_the_sources_own_channel_not_what_it_captured() {
    let src = Channel::<u8>::buffered(4);
    let log = Channel::<u8>::buffered(16);
    let producer = src.sender();
    let logger = log.clone();
    let mapped = src.receiver().map(move |v| {
        let _ = logger.try_send(v);
        v
    });
    drop(src);
    let dst = Channel::buffered(4);
    let link = stream::connect(mapped, dst.clone(), upstream());
    producer.send(1).await.unwrap();
    assert_eq!(within(dst.recv()).await, Some(1));
    dst.close();
    within(link).await.unwrap();
    within(producer.closed()).await;
    assert!(!log.is_closed(), "a channel the source captured stays open");
    assert_eq!(log.try_recv(), Ok(1));
}

// ---- a panic in user code ends the stream with an error ----------------------

fn panics_at_two(i: u32) -> u32 {
    if i == 2 {
        panic!("user code fails at two");
    }
    i
}

/// Reads `out` to its end: the values, then the end must carry a panic error.
async fn ends_with_a_panic<T: std::fmt::Debug>(out: Receiver<T>) -> Vec<T> {
    let mut got = Vec::new();
    while let Some(v) = within(out.recv()).await {
        got.push(v);
    }
    let error = out.error().expect("a panic is never a clean end");
    assert!(error.is_panic(), "{error}");
    assert!(error.to_string().contains("fails at two"), "{error}");
    got
}

#[tokio::test]
async fn a_panicking_iterator_ends_from_iter_with_a_panic_error() {
    let got = ends_with_a_panic(stream::from_iter((0..5).map(panics_at_two))).await;
    assert_eq!(got, [0, 1]);
}

#[tokio::test]
async fn a_panicking_stream_ends_from_stream_with_a_panic_error() {
    let source = futures::stream::iter(0..5).map(panics_at_two);
    let got = ends_with_a_panic(stream::from_stream(source)).await;
    assert_eq!(got, [0, 1]);
}

#[tokio::test]
async fn a_panicking_stream_ends_an_operator_output_with_a_panic_error() {
    let source = futures::stream::iter(0..5).map(panics_at_two);
    let got = ends_with_a_panic(stream::buffer(source, 4)).await;
    assert_eq!(got, [0, 1]);
}

#[tokio::test]
async fn a_panicking_collection_iterator_ends_flatten_with_a_panic_error() {
    let panicking = stream::flatten(stream::from_iter([(0..4u32).map(panics_at_two)]));
    assert_eq!(ends_with_a_panic(panicking).await, [0, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_function_ends_periodically_with_a_panic_error() {
    let mut calls = 0;
    let ticks = stream::periodically(Duration::from_millis(10), move || {
        calls += 1;
        panics_at_two(calls)
    });
    assert_eq!(ends_with_a_panic(ticks).await, [1]);
}

#[tokio::test]
async fn to_bytes_of_a_panicked_source_is_an_error_not_a_truncated_ok() {
    let chunks =
        stream::from_iter((0..5).map(|i| Bytes::from(vec![b'a'; panics_at_two(i) as usize])));
    let error = within(bytes::to_bytes(chunks)).await.unwrap_err();
    assert!(error.is_panic(), "{error}");
}

#[tokio::test]
async fn connect_whose_source_panics_closes_the_sink_even_with_other_senders() {
    let dst = Channel::buffered(4);
    let other_sender = dst.sender();
    let source = futures::stream::iter(0..5).map(panics_at_two);
    let link = stream::connect(source, dst.clone(), ConnectOptions::default());
    let got = ends_with_a_panic(dst.receiver()).await;
    assert_eq!(got, [0, 1]);
    assert!(other_sender.is_closed());
    assert!(within(link).await.unwrap_err().is_panic());
}

// ---- durations too large for the clock mean "never" -------------------------

#[tokio::test(start_paused = true)]
async fn batch_with_an_endless_latency_emits_only_full_or_final_batches() {
    let batches = stream::batch(stream::from_iter(0..3), 10, Duration::MAX);
    assert_eq!(within(batches.recv()).await, Some(vec![0, 1, 2]));
    assert_eq!(within(batches.recv()).await, None);
    assert!(batches.error().is_none());
}

#[tokio::test(start_paused = true)]
async fn periodically_with_an_endless_period_never_ticks_and_never_panics() {
    let ticks = stream::periodically(Duration::MAX, || 1);
    assert_eq!(at_most(SHORT, ticks.recv()).await, None, "no tick, no end");
    assert!(!ticks.is_closed());
}

#[tokio::test(start_paused = true)]
async fn throttle_with_a_tiny_rate_clamps_instead_of_panicking() {
    let slow = stream::throttle(stream::from_iter(0..3), 1e-300);
    assert_eq!(within(slow.recv()).await, Some(0));
    assert_eq!(
        at_most(SHORT, slow.recv()).await,
        None,
        "the next is far away"
    );
    assert!(!slow.is_closed());
}

// ---- byte io and sinks never lose an accepted value silently ----------------

#[tokio::test]
async fn duplex_io_never_ends_cleanly_with_a_written_chunk_missing() {
    let (tx, rx) = Channel::<Bytes>::buffered(1).split();
    let inbound = Channel::<Bytes>::buffered(1);
    let mut io = Duplex::from_parts(inbound.receiver(), tx).into_io();
    let writer = tokio::spawn(async move {
        io.write_all(b"one;").await?;
        io.write_all(b"two;").await?;
        drop(io);
        std::io::Result::Ok(())
    });
    settle().await;
    match within(bytes::to_vec(rx)).await {
        Ok(all) => assert_eq!(all, b"one;two;"),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    within(writer).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_channel_sink_dropped_holding_a_value_never_ends_cleanly_without_it() {
    let (tx, rx) = Channel::buffered(1).split();
    let mut sink = tx.sink();
    drop(tx);
    sink.feed(1u8).await.unwrap();
    sink.feed(2u8).await.unwrap(); // no room: the sink holds it
    drop(sink);
    let mut got = Vec::new();
    while let Some(v) = within(rx.recv()).await {
        got.push(v);
    }
    if rx.error().is_none() {
        assert_eq!(got, [1, 2], "a clean end means nothing was lost");
    } else {
        assert_eq!(got, [1]);
    }
}

// ---- periodically keeps what it produced -----------------------------------

#[tokio::test(start_paused = true)]
async fn periodically_closed_unread_still_delivers_the_values_it_produced() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let ticks = stream::periodically(Duration::from_millis(20), move || {
        counter.fetch_add(1, Ordering::SeqCst)
    });
    tokio::time::sleep(Duration::from_millis(65)).await;
    ticks.close();
    let got: Vec<usize> = within(ticks.collect()).await;
    assert!(!got.is_empty(), "a value was produced by 65 ms");
    assert_eq!(
        got.len(),
        calls.load(Ordering::SeqCst),
        "every value produced is received"
    );
}

#[tokio::test(start_paused = true)]
async fn periodically_after_waits_its_initial_delay_then_ticks_every_period() {
    let start = tokio::time::Instant::now();
    let mut n = 0;
    let ticks = stream::periodically_after(
        Duration::from_millis(5),
        Duration::from_secs(1),
        move || {
            n += 1;
            n
        },
    );
    assert_eq!(within(ticks.recv()).await, Some(1));
    let first = start.elapsed();
    assert!(
        first >= Duration::from_millis(5) && first < Duration::from_secs(1),
        "{first:?}"
    );
    assert_eq!(within(ticks.recv()).await, Some(2));
    assert!(start.elapsed() >= first + Duration::from_secs(1));
}

#[tokio::test]
async fn a_link_whose_sink_fails_ends_with_the_sinks_error() {
    let src = Channel::<u8>::buffered(4);
    let dst = Channel::<u8>::buffered(4);
    let link = stream::connect(src.clone(), dst.clone(), upstream());
    dst.close_with_error(aleph::Error::other("connection reset"));
    let error = within(link).await.unwrap_err();
    assert_eq!(error.to_string(), "connection reset");
    within(src.closed()).await;
}

// ---- edges ------------------------------------------------------------------

/// Yields its values, then ends, and panics when dropped.
struct EndsThenPanicsOnDrop(Vec<u8>);

impl futures::Stream for EndsThenPanicsOnDrop {
    type Item = u8;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<u8>> {
        Poll::Ready(self.0.pop())
    }
}

impl Drop for EndsThenPanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropped after its end");
    }
}

#[tokio::test]
async fn a_source_that_ended_then_panics_on_drop_still_ends_the_sink_cleanly() {
    let dst = Channel::buffered(4);
    let link = stream::connect(EndsThenPanicsOnDrop(vec![2, 1]), dst.clone(), upstream());
    assert_eq!(within(dst.recv()).await, Some(1));
    assert_eq!(within(dst.recv()).await, Some(2));
    assert_eq!(within(dst.recv()).await, None);
    assert!(
        dst.error().is_none(),
        "it said it ended before its drop panicked"
    );
    assert!(within(link).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn periodically_with_a_zero_period_ticks_without_panicking() {
    let mut n = 0;
    let ticks = stream::periodically(Duration::ZERO, move || {
        n += 1;
        n
    });
    for expected in 1..=3 {
        assert_eq!(within(ticks.recv()).await, Some(expected));
    }
}

#[tokio::test(start_paused = true)]
async fn throttle_with_a_rate_that_is_not_positive_passes_values_on_at_once() {
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let start = tokio::time::Instant::now();
        let all: Vec<i32> = within(stream::throttle(stream::from_iter(0..3), rate).collect()).await;
        assert_eq!(all, [0, 1, 2], "rate {rate}");
        assert_eq!(start.elapsed(), Duration::ZERO, "rate {rate}");
    }
}

#[tokio::test]
async fn a_channel_sink_dropped_holding_a_value_delivers_it_when_there_is_room() {
    let (tx, rx) = Channel::buffered(1).split();
    let mut sink = tx.sink();
    drop(tx);
    sink.feed(1u8).await.unwrap();
    sink.feed(2u8).await.unwrap(); // held: no room
    assert_eq!(rx.try_recv(), Ok(1)); // room now
    drop(sink);
    assert_eq!(within(rx.recv()).await, Some(2));
    assert_eq!(within(rx.recv()).await, None);
    assert!(rx.error().is_none());
}

#[tokio::test]
async fn a_duplex_io_write_waiting_for_room_fails_when_the_peer_closes() {
    let (tx, rx) = Channel::<Bytes>::buffered(1).split();
    let inbound = Channel::<Bytes>::buffered(1);
    let mut io = Duplex::from_parts(inbound.receiver(), tx).into_io();
    io.write_all(b"fills it").await.unwrap();
    let writer = tokio::spawn(async move { io.write_all(b"waits").await });
    settle().await;
    rx.close();
    let error = within(writer).await.unwrap().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
    assert_eq!(rx.try_recv().unwrap(), "fills it");
    assert!(rx.try_recv().is_err(), "the waiting write put nothing in");
}

#[tokio::test]
async fn a_link_with_a_panicking_source_and_downstream_off_leaves_the_sink_open() {
    let dst = Channel::buffered(4);
    let source = futures::stream::iter(0..5).map(panics_at_two);
    let link = stream::connect(
        source,
        dst.clone(),
        ConnectOptions {
            downstream: false,
            ..ConnectOptions::default()
        },
    );
    assert!(within(link).await.unwrap_err().is_panic());
    assert!(!dst.is_closed(), "downstream: false never closes the sink");
    assert_eq!(dst.try_recv(), Ok(0));
    assert_eq!(dst.try_recv(), Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_chained_end_with_the_first_error_and_close_upstream_when_dropped() {
    let src = Channel::<u32>::buffered(4);
    let out = stream::flatten(stream::batch(
        stream::buffer(src.clone(), 2),
        3,
        Duration::from_secs(3600),
    ));
    for v in 0..5 {
        src.send(v).await.unwrap();
    }
    src.close_with_error(aleph::Error::other("cut"));
    let mut got = Vec::new();
    while let Some(v) = within(out.recv()).await {
        got.push(v);
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(out.error().unwrap().to_string(), "cut");

    let src = Channel::<u32>::buffered(4);
    let out = stream::flatten(stream::batch(
        stream::buffer(src.clone(), 2),
        3,
        Duration::from_secs(3600),
    ));
    drop(out);
    within(src.closed()).await;
}

#[test]
fn a_link_stopped_by_runtime_shutdown_never_ends_its_sink_cleanly() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = Channel::<u8>::buffered(1).split();
    let out = runtime.block_on(async {
        stream::connect(
            futures::stream::pending::<u8>(),
            tx,
            ConnectOptions::default(),
        );
        stream::from_stream(futures::stream::pending::<u8>())
    });
    drop(runtime);
    assert!(rx.is_closed());
    assert!(rx.error().is_some(), "a link cut short is not a clean end");
    assert!(out.is_closed());
    assert!(
        out.error().is_some(),
        "a bridge cut short is not a clean end"
    );
}

#[test]
fn a_blocking_iter_ends_when_the_producer_drops_its_last_source_handle() {
    let src = Channel::buffered(4);
    let values = stream::into_blocking_iter(src.clone());
    let (done, all) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(values.collect::<Vec<u8>>()));
    src.try_send(1).unwrap();
    drop(src);
    let got = all
        .recv_timeout(support::LIMIT)
        .expect("the iterator ended");
    assert_eq!(got, [1]);
}

#[tokio::test]
async fn a_duplex_io_write_retried_with_other_bytes_sends_the_new_bytes() {
    let (tx, rx) = Channel::<Bytes>::buffered(1).split();
    let inbound = Channel::<Bytes>::buffered(1);
    let mut io = Duplex::from_parts(inbound.receiver(), tx).into_io();
    io.write_all(b"first").await.unwrap();
    assert!(
        futures::FutureExt::now_or_never(io.write(b"abandoned")).is_none(),
        "no room: the write waits"
    );
    assert_eq!(rx.try_recv().unwrap(), "first");
    assert_eq!(within(io.write(b"other")).await.unwrap(), 5);
    assert_eq!(rx.try_recv().unwrap(), "other");
    assert!(futures::FutureExt::now_or_never(io.write(b"same")).is_some());
    assert!(futures::FutureExt::now_or_never(io.write(b"same")).is_none());
    assert_eq!(rx.try_recv().unwrap(), "same");
    assert_eq!(within(io.write(b"same")).await.unwrap(), 4);
    assert_eq!(
        rx.try_recv().unwrap(),
        "same",
        "written once per successful call"
    );
    assert!(rx.try_recv().is_err());
}
