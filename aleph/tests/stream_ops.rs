//! connect, splice, the operators and the bridges to other stream types.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::stream::{self, Channel, ConnectOptions, Duplex};
use futures::{SinkExt, StreamExt};

mod support;

use support::within;

#[tokio::test]
async fn seed_echo_connects_a_duplex_to_itself() {
    let (wire_in, wire_out) = (Channel::buffered(4), Channel::buffered(4));
    let conn: Duplex<String, String> = stream::splice(wire_in.clone(), wire_out.clone());
    let link = stream::connect(conn.clone(), conn, ConnectOptions::default());
    for i in 0..100 {
        wire_in.send(format!("m{i}")).await.unwrap();
        assert_eq!(within(wire_out.recv()).await, Some(format!("m{i}")));
    }
    wire_in.close();
    assert_eq!(within(wire_out.recv()).await, None);
    within(link).await.expect("the echo link ends cleanly");
}

#[tokio::test]
async fn connect_closes_the_sink_when_the_source_drains() {
    let (a, b) = (Channel::buffered(2), Channel::buffered(2));
    let link = stream::connect(a.clone(), b.clone(), ConnectOptions::default());
    a.send(1).await.unwrap();
    a.close();
    assert_eq!(within(b.recv()).await, Some(1));
    assert_eq!(within(b.recv()).await, None);
    assert!(b.is_drained());
    assert!(within(link).await.is_ok());
}

#[tokio::test]
async fn connect_without_downstream_leaves_the_sink_open() {
    let (a, b) = (Channel::buffered(2), Channel::<u8>::buffered(2));
    let link = stream::connect(
        a.clone(),
        b.clone(),
        ConnectOptions {
            downstream: false,
            ..ConnectOptions::default()
        },
    );
    a.close();
    within(link).await.unwrap();
    assert!(!b.is_closed());
}

#[tokio::test]
async fn connect_upstream_closes_the_source_when_the_sink_closes() {
    let (a, b) = (Channel::<u8>::buffered(2), Channel::<u8>::buffered(2));
    let link = stream::connect(
        a.clone(),
        b.clone(),
        ConnectOptions {
            upstream: true,
            ..ConnectOptions::default()
        },
    );
    b.close();
    within(a.closed()).await;
    assert!(within(link).await.is_ok());
}

#[tokio::test]
async fn connect_by_default_does_not_close_the_source_when_the_sink_closes() {
    let (a, b) = (Channel::<u8>::buffered(2), Channel::<u8>::buffered(2));
    let link = stream::connect(a.clone(), b.clone(), ConnectOptions::default());
    b.close();
    within(link).await.unwrap();
    assert!(!a.is_closed(), "upstream is off by default");
}

#[tokio::test]
async fn connect_upstream_drops_a_foreign_source_and_its_last_receiving_handle() {
    let (a, b) = (Channel::<u8>::buffered(2), Channel::<u8>::buffered(2));
    let mapped = a.receiver().map(|v| v + 1);
    let tx = a.sender();
    drop(a);
    let a = tx; // the adapter holds the only receiving handle
    let _link = stream::connect(
        mapped,
        b.clone(),
        ConnectOptions {
            upstream: true,
            ..ConnectOptions::default()
        },
    );
    a.send(1).await.unwrap();
    assert_eq!(within(b.recv()).await, Some(2));
    b.close();
    within(a.closed()).await;
}

#[tokio::test]
async fn connect_carries_the_source_error_downstream_and_into_the_link() {
    let (a, b) = (Channel::<u8>::buffered(2), Channel::<u8>::buffered(2));
    let link = stream::connect(a.clone(), b.clone(), ConnectOptions::default());
    a.send(7).await.unwrap();
    a.close_with_error(aleph::Error::other("connection reset"));
    assert_eq!(within(b.recv()).await, Some(7));
    assert_eq!(within(b.recv()).await, None);
    assert_eq!(
        b.error().expect("an error downstream").to_string(),
        "connection reset"
    );
    let err = within(link).await.unwrap_err();
    assert_eq!(err.to_string(), "connection reset");
}

#[tokio::test(start_paused = true)]
async fn connect_timeout_closes_the_sink_and_fails_the_link() {
    let (a, b) = (Channel::<u8>::buffered(4), Channel::<u8>::buffered(1));
    let link = stream::connect(
        a.clone(),
        b.clone(),
        ConnectOptions {
            timeout: Some(Duration::from_secs(1)),
            upstream: true,
            label: Some("slow".into()),
            ..ConnectOptions::default()
        },
    );
    a.send(1).await.unwrap();
    a.send(2).await.unwrap(); // b holds 1; 2 waits for room that never comes
    let err = within(link).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains("slow"), "{err}");
    assert!(b.is_closed());
    assert!(b.error().unwrap().is_timeout());
    assert!(a.is_closed(), "upstream closes the source too");
    assert_eq!(b.recv().await, Some(1), "what was delivered stays");
}

#[tokio::test]
async fn connect_accepts_foreign_streams_and_sinks() {
    let (tx, mut rx) = futures::channel::mpsc::channel::<u32>(2);
    let link = stream::connect(
        futures::stream::iter(0..50u32),
        tx,
        ConnectOptions::default(),
    );
    let got: Vec<u32> = within(async {
        let mut all = Vec::new();
        while let Some(v) = rx.next().await {
            all.push(v);
        }
        all
    })
    .await;
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    within(link).await.unwrap();
}

#[tokio::test]
async fn connect_keeps_backpressure() {
    let a = Channel::<u32>::buffered(1);
    let b = Channel::<u32>::buffered(1);
    let _link = stream::connect(a.clone(), b.clone(), ConnectOptions::default());
    let sent = Arc::new(AtomicUsize::new(0));
    let count = sent.clone();
    let producer = a.clone();
    tokio::spawn(async move {
        for i in 0..100 {
            if producer.send(i).await.is_err() {
                break;
            }
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    // With nobody reading b, at most: 1 in b, 1 in the link's hand, 1 in a.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    let n = sent.load(Ordering::SeqCst);
    assert!(n <= 3, "{n} values went in with nobody reading");
    let first: Vec<u32> = b.clone().take(10).collect().await;
    assert_eq!(first, (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn splice_reads_the_source_and_writes_the_sink() {
    let inbound = Channel::buffered(1);
    let outbound = Channel::buffered(1);
    let d = stream::splice(inbound.clone(), outbound.clone());
    inbound.send(1).await.unwrap();
    assert_eq!(within(d.recv()).await, Some(1));
    d.send("x").await.unwrap();
    assert_eq!(within(outbound.recv()).await, Some("x"));
    d.close();
    assert!(
        outbound.is_closed(),
        "closing a duplex closes its sending direction"
    );
    assert!(
        !inbound.is_closed(),
        "and leaves the receiving one to the peer"
    );
}

#[tokio::test]
async fn dropping_every_duplex_clone_closes_both_directions() {
    let inbound = Channel::<u8>::buffered(1);
    let outbound = Channel::<u8>::buffered(1);
    let d = Duplex::from_parts(inbound.receiver(), outbound.sender());
    let (peer_tx, peer_rx) = (inbound.sender(), outbound.receiver());
    drop(inbound);
    drop(outbound);
    let d2 = d.clone();
    drop(d);
    assert!(
        !peer_tx.is_closed() && !peer_rx.is_closed(),
        "a clone still holds both directions"
    );
    drop(d2);
    assert!(
        peer_tx.is_closed(),
        "nobody can read what the peer sends any more"
    );
    assert_eq!(
        within(peer_rx.recv()).await,
        None,
        "nobody can send to the peer any more"
    );
}

#[tokio::test]
async fn batch_emits_full_batches_and_the_rest_at_the_end() {
    let batches = stream::batch(stream::from_iter(0..10), 4, Duration::from_secs(60));
    let all: Vec<Vec<i32>> = within(batches.collect()).await;
    assert_eq!(all, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
}

#[tokio::test(start_paused = true)]
async fn batch_emits_a_partial_batch_after_the_latency() {
    let source = Channel::buffered(8);
    let batches = stream::batch(source.clone(), 100, Duration::from_millis(50));
    source.send(1).await.unwrap();
    source.send(2).await.unwrap();
    let start = tokio::time::Instant::now();
    assert_eq!(within(batches.recv()).await, Some(vec![1, 2]));
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert!(start.elapsed() < Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn throttle_spaces_values_evenly() {
    let slow = stream::throttle(stream::from_iter(0..5), 100.0);
    let start = tokio::time::Instant::now();
    let all: Vec<i32> = within(slow.collect()).await;
    assert_eq!(all, [0, 1, 2, 3, 4]);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(40), "{took:?}");
    assert!(took < Duration::from_millis(60), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn periodically_ticks_and_stops_when_dropped() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let ticks = stream::periodically(Duration::from_secs(1), move || {
        counter.fetch_add(1, Ordering::SeqCst)
    });
    let start = tokio::time::Instant::now();
    assert_eq!(within(ticks.recv()).await, Some(0));
    assert_eq!(within(ticks.recv()).await, Some(1));
    assert!(start.elapsed() >= Duration::from_secs(2));
    drop(ticks);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        calls.load(Ordering::SeqCst) <= 3,
        "the source stopped once its output was dropped"
    );
}

#[tokio::test]
async fn buffer_reads_ahead_up_to_its_capacity() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let count = pulled.clone();
    let source = futures::stream::iter(0..1000).inspect(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let ahead = stream::buffer(source, 8);
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let n = pulled.load(Ordering::SeqCst);
    assert!((8..=9).contains(&n), "read ahead {n}");
    assert_eq!(within(ahead.recv()).await, Some(0));
}

#[tokio::test]
async fn zip_pairs_and_ends_with_the_shorter() {
    let pairs = stream::zip(stream::from_iter(0..3), futures::stream::iter(["a", "b"]));
    let all: Vec<(i32, &str)> = within(pairs.collect()).await;
    assert_eq!(all, [(0, "a"), (1, "b")]);
}

#[tokio::test]
async fn flatten_emits_elements_in_order() {
    let flat = stream::flatten(stream::from_iter([vec![1], vec![], vec![2, 3]]));
    let all: Vec<i32> = within(flat.collect()).await;
    assert_eq!(all, [1, 2, 3]);
}

#[tokio::test]
async fn operators_carry_the_source_error_to_their_output() {
    let source = Channel::<u8>::buffered(4);
    let out = stream::buffer(source.clone(), 4);
    source.send(1).await.unwrap();
    source.close_with_error(aleph::Error::other("boom"));
    assert_eq!(within(out.recv()).await, Some(1));
    assert_eq!(within(out.recv()).await, None);
    assert_eq!(out.error().unwrap().to_string(), "boom");
}

#[tokio::test]
async fn dropping_an_operator_output_closes_its_aleph_source() {
    let source = Channel::<u8>::buffered(4);
    let out = stream::buffer(source.clone(), 4);
    drop(out);
    within(source.closed()).await;
}

#[tokio::test]
async fn consume_and_fold_see_every_value_and_the_error() {
    let mut seen = Vec::new();
    stream::consume(stream::from_iter(0..5), |v| seen.push(v))
        .await
        .unwrap();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    let total = stream::fold(stream::from_iter(1..=10), 0, |a, v| a + v)
        .await
        .unwrap();
    assert_eq!(total, 55);

    let broken = Channel::<u8>::buffered(2);
    broken.send(1).await.unwrap();
    broken.close_with_error(aleph::Error::other("cut short"));
    let err = stream::fold(broken, 0u32, |a, v| a + u32::from(v))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cut short",
        "a truncated stream is never Ok"
    );
}

#[tokio::test]
async fn from_stream_returns_aleph_handles_as_they_are() {
    let ch = Channel::<u8>::buffered(3);
    let rx = stream::from_stream(ch.receiver());
    assert_eq!(rx.description().capacity, 3, "no bridge task in between");
}

#[tokio::test]
async fn tokio_mpsc_bridges_both_ways() {
    let (tx, rx) = tokio::sync::mpsc::channel::<u32>(4);
    let ours: stream::Receiver<u32> = rx.into();
    tx.send(1).await.unwrap();
    drop(tx);
    assert_eq!(within(ours.recv()).await, Some(1));
    assert_eq!(within(ours.recv()).await, None);

    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
    let ours: stream::Sender<u32> = tx.into();
    ours.send(2).await.unwrap();
    drop(ours);
    assert_eq!(within(rx.recv()).await, Some(2));
    assert_eq!(within(rx.recv()).await, None);

    let (tx, rx) = tokio::sync::mpsc::channel::<u32>(4);
    let ours: stream::Sender<u32> = tx.into();
    drop(rx);
    within(ours.closed()).await;

    let mut back = stream::into_mpsc(stream::from_iter([5, 6]), 2);
    assert_eq!(within(back.recv()).await, Some(5));
    assert_eq!(within(back.recv()).await, Some(6));
    assert_eq!(within(back.recv()).await, None);
}

#[tokio::test]
async fn from_sink_closes_the_sink_at_the_end_and_reports_its_failure() {
    let (tx, mut rx) = futures::channel::mpsc::channel::<u8>(1);
    let ours = stream::from_sink(tx);
    for i in 0..10 {
        ours.send(i).await.unwrap();
        assert_eq!(within(rx.next()).await, Some(i));
    }
    drop(ours);
    assert_eq!(within(rx.next()).await, None);

    let (tx, rx) = futures::channel::mpsc::channel::<u8>(1);
    drop(rx);
    let ours = stream::from_sink(tx);
    let _ = ours.send(1).await;
    within(ours.closed()).await;
    assert!(ours.error().is_some(), "the sink's failure is reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_iter_works_from_spawn_blocking() {
    let ch = Channel::buffered(2);
    let rx = ch.receiver();
    let reader =
        tokio::task::spawn_blocking(move || stream::into_blocking_iter(rx).collect::<Vec<u32>>());
    for i in 0..20 {
        ch.send(i).await.unwrap();
    }
    drop(ch);
    let got = within(reader).await.unwrap();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

#[tokio::test]
async fn channel_sink_sends_all_and_close_closes() {
    let ch = Channel::buffered(4);
    let mut sink = ch.sink();
    let reader = tokio::spawn({
        let ch = ch.clone();
        async move { ch.collect::<Vec<u32>>().await }
    });
    drop(ch);
    sink.send_all(&mut futures::stream::iter(0..100).map(Ok))
        .await
        .unwrap();
    sink.close().await.unwrap();
    assert_eq!(within(reader).await.unwrap(), (0..100).collect::<Vec<_>>());
}
