//! No public name of `aleph::stream` is taken over by a trait method users
//! commonly import. Every method is called on a `let mut` binding (so trait
//! methods taking `&mut self` are candidates too) with the commonly imported
//! extension traits in scope, and every result carries its type: if a trait
//! method ever won the method resolution, this file would stop compiling.
//! (That the public handles are `Send + Sync` is pinned in `send_sync.rs`.)

#![allow(unused_imports, unused_mut, unused_variables, clippy::let_unit_value)]

use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use aleph::stream::{
    Bus, BusDescription, Channel, ChannelSink, Description, EventFuture, Receiver, RecvFuture,
    RecvTimeoutError, SendError, SendFuture, SendTimeoutError, Sender, TryRecvError, TrySendError,
};
use bytes::{Buf, Bytes};
use futures::{SinkExt, StreamExt, TryStreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

// Nothing here waits, but the shared helpers are declared as in every test file.
mod support;

#[tokio::test]
async fn bus_methods_keep_their_names_with_every_common_trait_in_scope() {
    let mut bus: Bus<String, u32> = Bus::new();
    let mut _sized: Bus<String, u32> = Bus::with_capacity(4);
    let mut rx: Receiver<u32> = bus.subscribe("t".to_owned());
    let mut latest: Receiver<u32> = bus.subscribe_with("t".to_owned(), Channel::sliding(1));
    let n: usize = bus.publish("t", 1).await;
    assert_eq!(n, 2);
    let active: bool = bus.is_active("t");
    assert!(active);
    let topics: Vec<String> = bus.topics();
    assert_eq!(topics, ["t"]);
    let d: BusDescription = bus.description();
    assert_eq!(d.topics.len(), 1);
}

#[tokio::test]
async fn channel_methods_keep_their_names_with_every_common_trait_in_scope() {
    let mut ch: Channel<u32> = Channel::new();
    let mut ch: Channel<u32> = Channel::buffered(8);
    let mut _default: Channel<u32> = Channel::default();

    let r: Result<(), SendError<u32>> = ch.send(1).await;
    assert!(r.is_ok());
    let f: SendFuture<'_, u32> = ch.send(2);
    let r: Result<(), SendError<u32>> = f.await;
    assert!(r.is_ok());
    let r: Result<(), SendTimeoutError<u32>> = ch.send_timeout(3, Duration::from_secs(1)).await;
    assert!(r.is_ok());
    let r: Result<(), TrySendError<u32>> = ch.try_send(4);
    assert!(r.is_ok());

    let v: Option<u32> = ch.recv().await;
    assert_eq!(v, Some(1));
    let f: RecvFuture<'_, u32> = ch.recv();
    let v: Option<u32> = f.await;
    assert_eq!(v, Some(2));
    let v: Result<u32, RecvTimeoutError> = ch.recv_timeout(Duration::from_secs(1)).await;
    assert_eq!(v, Ok(3));
    let v: Result<u32, TryRecvError> = ch.try_recv();
    assert_eq!(v, Ok(4));

    let mut sink: ChannelSink<u32> = ch.sink();
    let r: Result<(), aleph::Error> = SinkExt::send(&mut sink, 5).await;
    assert!(r.is_ok());
    let s: &Sender<u32> = sink.sender();
    let next: Option<u32> = StreamExt::next(&mut ch).await;
    assert_eq!(next, Some(5));

    let d: Description = ch.description();
    let kind: &'static str = d.kind;
    let label: Option<String> = d.label.clone();
    let numbers: [usize; 6] = [
        d.capacity,
        d.buffered,
        d.pending_sends,
        d.pending_recvs,
        d.senders,
        d.receivers,
    ];
    let flags: [bool; 2] = [d.closed, d.drained];
    let error: Option<String> = d.error.clone();
    let addrs: [Option<SocketAddr>; 2] = [d.peer_addr, d.local_addr];
    let downstream: Option<Box<Description>> = d.sink.clone();
    let shown: String = d.to_string();
    assert_eq!(
        (kind, label, numbers[0], flags, error, addrs),
        ("channel", None, 8, [false; 2], None, [None; 2])
    );
    assert!(!shown.is_empty());

    let b: bool = ch.is_closed();
    let b: bool = ch.is_drained();
    let e: Option<aleph::Error> = ch.error();
    let u: () = ch.on_closed(|| {});
    let u: () = ch.on_drained(|| {});
    let tx: Sender<u32> = ch.sender();
    let rx: Receiver<u32> = ch.receiver();
    let c: Channel<u32> = ch.clone();
    let (halves_tx, halves_rx): (Sender<u32>, Receiver<u32>) = c.split();

    let closed: EventFuture<'_, u32> = ch.closed();
    let u: () = ch.close();
    let u: () = closed.await;
    let u: () = ch.close_with_error(aleph::Error::other("late"));
    let u: () = ch.drained().await;
    let dbg: String = format!("{ch:?}");

    // Stream / TryStream / Buf are in scope and unused by the handles.
    let bytes_ch: Channel<Bytes> = Channel::buffered(1);
    let r: Result<(), TrySendError<Bytes>> = bytes_ch.try_send(Bytes::from_static(b"ab"));
    let mut got: Bytes = bytes_ch.try_recv().unwrap();
    let first: u8 = got.get_u8();
    assert_eq!(first, b'a');
}

#[tokio::test]
async fn sender_methods_keep_their_names_with_every_common_trait_in_scope() {
    let ch: Channel<u32> = Channel::buffered(4);
    let mut tx: Sender<u32> = ch.sender();
    let r: Result<(), SendError<u32>> = tx.send(1).await;
    let f: SendFuture<'_, u32> = tx.send(2);
    let r: Result<(), SendError<u32>> = f.await;
    let r: Result<(), SendTimeoutError<u32>> = tx.send_timeout(3, Duration::from_secs(1)).await;
    let r: Result<(), TrySendError<u32>> = tx.try_send(4);
    let mut sink: ChannelSink<u32> = tx.sink();
    let clone: Sender<u32> = tx.clone();
    let d: Description = tx.description();
    let b: bool = tx.is_closed();
    let e: Option<aleph::Error> = tx.error();
    let u: () = tx.on_closed(|| {});
    let closed: EventFuture<'_, u32> = tx.closed();
    let u: () = tx.close();
    let u: () = closed.await;
    let u: () = tx.close_with_error(aleph::Error::other("late"));
    let dbg: String = format!("{tx:?}");
    let r: Result<(), aleph::Error> = sink.close().await;
    let err: SendError<u32> = tx.send(5).await.unwrap_err();
    let back: u32 = err.into_inner();
    let as_error: aleph::Error = aleph::Error::from(SendError(back));
    assert!(as_error.is_closed());
}

#[tokio::test]
async fn receiver_methods_keep_their_names_with_every_common_trait_in_scope() {
    let ch: Channel<u32> = Channel::buffered(4);
    let mut rx: Receiver<u32> = ch.receiver();
    for i in 0..4 {
        ch.try_send(i).unwrap();
    }
    let v: Option<u32> = rx.recv().await;
    let f: RecvFuture<'_, u32> = rx.recv();
    let v: Option<u32> = f.await;
    let v: Result<u32, RecvTimeoutError> = rx.recv_timeout(Duration::from_secs(1)).await;
    let v: Result<u32, TryRecvError> = rx.try_recv();
    let p: Poll<Option<u32>> = futures::future::poll_fn(|cx| Poll::Ready(rx.poll_recv(cx))).await;
    let clone: Receiver<u32> = rx.clone();
    let d: Description = rx.description();
    let b: bool = rx.is_closed();
    let b: bool = rx.is_drained();
    let e: Option<aleph::Error> = rx.error();
    let u: () = rx.on_closed(|| {});
    let u: () = rx.on_drained(|| {});
    let closed: EventFuture<'_, u32> = rx.closed();
    let u: () = rx.close();
    let u: () = closed.await;
    let u: () = rx.close_with_error(aleph::Error::other("late"));
    let drained: EventFuture<'_, u32> = rx.drained();
    let u: () = drained.await;
    let dbg: String = format!("{rx:?}");
    let next: Option<u32> = StreamExt::next(&mut rx).await;
    let r: Result<Option<u32>, ()> = futures::stream::iter([Ok::<u32, ()>(1)]).try_next().await;
}

#[tokio::test]
async fn tokio_mpsc_halves_convert_into_handles() {
    let (mpsc_tx, mpsc_rx) = tokio::sync::mpsc::channel::<u32>(4);
    let mut rx: Receiver<u32> = Receiver::from(mpsc_rx);
    let mut tx: Sender<u32> = Sender::from(mpsc_tx);
    let r: Result<(), SendError<u32>> = tx.send(1).await;
    assert!(r.is_ok());
    let v: Option<u32> = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap();
    assert_eq!(v, Some(1));
}

#[test]
fn error_types_keep_their_names() {
    let e: SendTimeoutError<u32> = SendTimeoutError::Timeout(1);
    let (t, c, v): (bool, bool, u32) = (e.is_timeout(), e.is_closed(), e.into_inner());
    assert_eq!((t, c, v), (true, false, 1));
    let e: TrySendError<u32> = TrySendError::Closed(2);
    let (f, c, v): (bool, bool, u32) = (e.is_full(), e.is_closed(), e.into_inner());
    assert_eq!((f, c, v), (false, true, 2));
    let s: String = format!("{:?} {:?}", SendError(1), TrySendError::Full(1));
    assert_eq!(s, "SendError(..) Full(..)");
}

#[tokio::test]
async fn udp_socket_methods_keep_their_names_with_every_common_trait_in_scope() {
    use aleph::udp::{self, Multicast, Packet, UdpOptions};

    let mut socket: udp::Socket = udp::socket(UdpOptions::default()).await.unwrap();
    let me: SocketAddr = socket.local_addr();
    let sent: aleph::Result<()> = socket.send_to(Packet::new(me, "x")).await;
    assert!(sent.is_ok());
    let got: Option<Packet> = socket.recv().await;
    assert!(got.is_some());
    let none: Result<Packet, TryRecvError> = socket.try_recv();
    assert!(none.is_err());
    let group = Multicast::group("239.255.0.9".parse().unwrap());
    let left: aleph::Result<()> = socket.leave(&group);
    assert!(left.is_err());
    let d: Description = socket.description();
    let sink: ChannelSink<Packet> = socket.sink();
    let closed: bool = socket.is_closed();
    let () = socket.close();
    let duplex: aleph::stream::Duplex<Packet, Packet> = socket.into_duplex();
    let _ = (d, sink, closed, duplex);
}
