//! A hostile review of the net seam and the protocols on it: options at
//! their extremes, and what they must not break.

use aleph::bytes::{self, Bytes};
use aleph::net::Buffers;
use aleph::stream::{self, ConnectOptions, Duplex};
use aleph::tcp::{self, TcpClientOptions, TcpServerOptions};
use aleph::udp::{self, Packet, UdpOptions};

mod support;

use support::within;

type Conn = Duplex<Bytes, Bytes>;

/// Byte bounds as large as a `usize` goes: "no bound", as a user may write it.
const UNBOUNDED: Buffers = Buffers {
    read_ahead: usize::MAX,
    write_low_water: usize::MAX,
    write_high_water: usize::MAX,
};

#[tokio::test]
async fn a_connection_with_the_largest_byte_bounds_still_carries_bytes() {
    let server = within(tcp::start_server(
        |conn: Conn, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions {
            buffers: UNBOUNDED,
            ..Default::default()
        },
    ))
    .await
    .expect("the server starts");
    let conn = within(tcp::client(TcpClientOptions {
        buffers: UNBOUNDED,
        ..TcpClientOptions::new("127.0.0.1", server.port())
    }))
    .await
    .expect("the client connects");
    within(conn.send(Bytes::from("echo me"))).await.unwrap();
    conn.close();
    let echoed = within(bytes::to_bytes(conn)).await.expect("a clean end");
    assert_eq!(echoed, "echo me");
    within(server.close()).await;
}

#[tokio::test]
async fn a_udp_socket_with_the_largest_max_datagram_size_still_receives() {
    let socket = within(udp::socket(UdpOptions {
        max_datagram_size: usize::MAX,
        ..Default::default()
    }))
    .await
    .expect("the socket binds");
    let me = socket.local_addr();
    within(socket.send_to(Packet::new(me, "to myself")))
        .await
        .unwrap();
    let packet = within(socket.recv())
        .await
        .expect("the receive task is alive");
    assert_eq!(packet.message, "to myself");
}
