//! Every public handle is `Send + Sync` (and `Clone` where it is shared), and
//! the futures of the public async functions are `Send`, so any of them can
//! cross a `tokio::spawn`. Compile-time checks, as tokio's
//! `tests/async_send_sync.rs`: if one stops holding, this file stops compiling.

#![allow(clippy::let_underscore_future)]

use aleph::bytes::Bytes;
use aleph::deferred::Deferred;
use aleph::net::{Buffers, ConnectionInfo, ListenSocket, RawStream, Server, Socket};
use aleph::stream::{
    BlockingIter, Bus, BusDescription, Channel, ChannelSink, Description, Duplex, DuplexIo,
    EventFuture, Link, Receiver, RecvFuture, SendError, SendFuture, Sender,
};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
use aleph::tls::{ClientTls, Identity, ServerTls, TlsInfo};
use aleph::udp::{self, Packet, UdpOptions};

// The shared helpers, declared as in every test file (nothing here waits).
mod support;

fn send_sync<T: Send + Sync>() {}
fn shared<T: Send + Sync + Clone>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn stream_handles_are_send_sync() {
    shared::<Channel<u32>>();
    shared::<Sender<u32>>();
    shared::<Receiver<u32>>();
    shared::<Duplex<Bytes, Bytes>>();
    shared::<Duplex<Packet, Packet>>();
    send_sync::<ChannelSink<u32>>();
    send_sync::<SendFuture<'static, u32>>();
    send_sync::<RecvFuture<'static, u32>>();
    send_sync::<EventFuture<'static, u32>>();
    send_sync::<Link>();
    send_sync::<DuplexIo>();
    send_sync::<BlockingIter<Channel<u32>>>();
    send_sync::<Description>();
    send_sync::<SendError<u32>>();
    shared::<Bus<String, u32>>();
    send_sync::<BusDescription>();
}

#[test]
fn channel_handles_are_streams_and_sinks() {
    fn stream<S: futures::Stream<Item = u32>>() {}
    fn sink<S: futures::Sink<u32, Error = aleph::Error>>() {}
    stream::<Channel<u32>>();
    stream::<Receiver<u32>>();
    stream::<Duplex<u32, u32>>();
    sink::<ChannelSink<u32>>();
}

#[test]
fn deferreds_and_errors_are_send_sync() {
    shared::<Deferred<u32>>();
    shared::<aleph::Error>();
}

#[test]
fn network_handles_are_send_sync() {
    shared::<Server>();
    shared::<udp::Socket>();
    fn packets<S: futures::Stream<Item = Packet>>() {}
    packets::<udp::Socket>();
    shared::<Packet>();
    shared::<ConnectionInfo>();
    shared::<ListenSocket>();
    shared::<Buffers>();
    send_sync::<RawStream>();
    send_sync::<Socket>();
    shared::<TcpServerOptions>();
    shared::<TcpClientOptions>();
    shared::<UdpOptions>();
    shared::<ServerTls>();
    shared::<ClientTls>();
    shared::<Identity>();
    shared::<TlsInfo>();
}

/// Never run: it only has to compile. Each future is built and checked,
/// not awaited.
#[allow(dead_code, unused_must_use)]
fn public_async_functions_return_send_futures(server: Server, socket: udp::Socket) {
    send(&tcp::start_server(
        |_conn, _info| {},
        TcpServerOptions::default(),
    ));
    send(&tcp::start_server_raw(
        |_stream, _info| {},
        TcpServerOptions::default(),
    ));
    send(&tcp::client(TcpClientOptions::default()));
    send(&tcp::client_raw(TcpClientOptions::default()));
    send(&server.close());
    send(&server.wait_for_close());
    send(&udp::socket(UdpOptions::default()));
    send(&udp::socket_raw(UdpOptions::default()));
    send(&socket.send_to(Packet::new("127.0.0.1:9".parse().unwrap(), "x")));
    send(&socket.recv());
}

#[test]
fn http_client_handles_are_send_sync_and_its_futures_send() {
    use aleph::http::{
        Client, ClientOptions, ClientResponse, EventSource, PoolStats, RequestBuilder,
        RequestOptions,
    };
    shared::<Client>();
    shared::<ClientOptions>();
    shared::<PoolStats>();
    send_sync::<ClientResponse>();
    send_sync::<RequestBuilder>();
    send_sync::<RequestOptions>();
    send_sync::<EventSource>();
    let client = Client::default();
    send(&client.get("http://127.0.0.1:1/").send());
    send(&client.send(RequestOptions::default()));
    send(&aleph::http::get("http://127.0.0.1:1/"));
}
