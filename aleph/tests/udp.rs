//! aleph's UDP sockets over real sockets on 127.0.0.1 and ::1: echo between
//! two aleph sockets, a Python `socket` peer both ways, host names, ephemeral
//! sockets, IPv6, the bounded receive queue's overflow policies and their drop
//! counter, send errors (oversized, broadcast), broadcast and multicast on
//! loopback, raw mode and closing.

mod support;

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aleph::bytes::Bytes;

use aleph::udp::{self, Multicast, Overflow, Packet, Peer, Socket, UdpOptions};
use tokio::io::{AsyncBufReadExt, BufReader};

use support::peers::{fixture, require, run, INSTALL, PEER_LIMIT};
use support::{at_most, within, LIMIT, SHORT};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCALHOST_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

// ---- helpers ------------------------------------------------------------------------

/// Options binding `host` on a free port.
fn on(host: IpAddr) -> UdpOptions {
    UdpOptions {
        port: 0,
        host,
        ..UdpOptions::default()
    }
}

async fn bound(options: UdpOptions) -> Socket {
    within(udp::socket(options))
        .await
        .expect("bind a UDP socket")
}

/// The next packet, failing the test if none comes within [`LIMIT`].
#[track_caller]
fn next(socket: &Socket) -> impl std::future::Future<Output = Packet> + '_ {
    let wait = within(socket.recv());
    async move { wait.await.expect("the socket's stream ended") }
}

/// Answers every packet `socket` receives with `prefix` + its message, from a task.
fn answer(socket: Socket, prefix: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(packet) = socket.recv().await {
            let mut reply = prefix.as_bytes().to_vec();
            reply.extend_from_slice(&packet.message);
            let to = packet.addr().expect("incoming packets carry an address");
            socket
                .send_to(Packet::new(to, reply))
                .await
                .expect("send the reply");
        }
    })
}

/// Waits until `socket` holds or dropped `n` packets in all, failing after
/// [`LIMIT`]: the receive task counts drops, and no event announces it.
async fn wait_for_arrivals(socket: &Socket, n: u64) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let d = socket.description();
        if d.dropped + d.buffered as u64 >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} packets did not arrive within {LIMIT:?} (the loopback may have dropped some); the queue: {d}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Everything queued, without waiting.
fn drain(socket: &Socket) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Ok(packet) = socket.try_recv() {
        out.push(packet.message);
    }
    out
}

/// `udp_echo.py server HOST`: a Python UDP echo server, killed on drop.
struct PythonEcho {
    _child: tokio::process::Child,
    addr: SocketAddr,
}

async fn python_udp_echo(host: IpAddr) -> PythonEcho {
    let python = require("python3");
    let script = fixture("udp_echo.py");
    let mut child = tokio::process::Command::new(python)
        .arg(&script)
        .arg("server")
        .arg(host.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start python3 udp_echo.py: {e} (run {INSTALL})"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    let read = at_most(PEER_LIMIT, BufReader::new(stdout).read_line(&mut line)).await;
    let port: u16 = match read {
        Some(Ok(_)) => line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("udp_echo.py printed {line:?}, not its port")),
        other => panic!("udp_echo.py did not print its port within {PEER_LIMIT:?}: {other:?}"),
    };
    PythonEcho {
        _child: child,
        addr: SocketAddr::new(host, port),
    }
}

// ---- echo between aleph sockets -----------------------------------------------------

#[tokio::test]
async fn two_sockets_exchange_packets_both_ways() {
    let a = bound(on(LOCALHOST)).await;
    let b = bound(on(LOCALHOST)).await;
    let a_addr = a.local_addr();
    let b_addr = b.local_addr();
    assert_eq!(a_addr.ip(), LOCALHOST);
    assert_ne!(a_addr.port(), 0, "port 0 binds a free port");

    within(a.send_to(Packet::new(b_addr, "ping")))
        .await
        .expect("send to b");
    let got = next(&b).await;
    assert_eq!(got.message, "ping");
    assert_eq!(got.peer, Peer::Addr(a_addr));
    assert_eq!(got.addr(), Some(a_addr));

    within(b.send_to(Packet::new(a_addr, Bytes::from_static(b"pong"))))
        .await
        .expect("send back to a");
    assert_eq!(next(&a).await, Packet::new(b_addr, "pong"));
}

#[tokio::test]
async fn packets_sent_through_the_duplex_arrive_in_order() {
    let a = bound(on(LOCALHOST)).await.into_duplex();
    let b = bound(on(LOCALHOST)).await;
    let b_addr = b.local_addr();
    for i in 0..20 {
        within(a.send(Packet::new(b_addr, format!("n{i}"))))
            .await
            .expect("the duplex takes the packet");
    }
    for i in 0..20 {
        assert_eq!(next(&b).await.message, format!("n{i}"));
    }
}

#[tokio::test]
async fn an_answering_task_echoes_with_its_prefix() {
    let server = bound(on(LOCALHOST)).await;
    let server_addr = server.local_addr();
    let task = answer(server, "re:");
    let client = bound(on(LOCALHOST)).await;
    within(client.send_to(Packet::new(server_addr, "x")))
        .await
        .unwrap();
    let reply = next(&client).await;
    assert_eq!(reply.message, "re:x");
    assert_eq!(reply.addr(), Some(server_addr));
    task.abort();
}

// ---- a Python peer --------------------------------------------------------------------

#[tokio::test]
async fn a_python_echo_server_answers_our_socket() {
    let peer = python_udp_echo(LOCALHOST).await;
    let socket = bound(on(LOCALHOST)).await;
    for message in ["hello", "", "third datagram"] {
        within(socket.send_to(Packet::new(peer.addr, message)))
            .await
            .expect("send to the Python peer");
        let reply = next(&socket).await;
        assert_eq!(reply.message, message, "the Python peer echoes");
        assert_eq!(reply.addr(), Some(peer.addr));
    }
}

#[tokio::test]
async fn a_python_client_gets_our_reply() {
    let server = bound(on(LOCALHOST)).await;
    let addr = server.local_addr();
    let task = answer(server, "aleph:");
    let script = fixture("udp_echo.py");
    let port = addr.port().to_string();
    let args: [&OsStr; 6] = [
        script.as_os_str(),
        OsStr::new("client"),
        OsStr::new("127.0.0.1"),
        OsStr::new(&port),
        OsStr::new("one"),
        OsStr::new("two"),
    ];
    let output = run("python3", args, b"").await;
    assert!(
        output.status.success(),
        "udp_echo.py client failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{port} aleph:one\n{port} aleph:two\n")
    );
    task.abort();
}

#[tokio::test]
async fn a_python_echo_server_on_ipv6_answers_our_socket() {
    let peer = python_udp_echo(LOCALHOST_V6).await;
    let socket = bound(on(LOCALHOST_V6)).await;
    within(socket.send_to(Packet::new(peer.addr, "six")))
        .await
        .unwrap();
    let reply = next(&socket).await;
    assert_eq!(reply.message, "six");
    assert_eq!(reply.addr(), Some(peer.addr));
}

// ---- host names, ephemeral sockets, IPv6 ---------------------------------------------

#[tokio::test]
async fn a_packet_to_localhost_is_resolved_and_arrives() {
    let server = bound(on(LOCALHOST)).await;
    let port = server.local_addr().port();
    let client = bound(on(LOCALHOST)).await;
    within(client.send_to(Packet::to_host("localhost", port, "by name")))
        .await
        .expect("localhost resolves to an IPv4 address");
    let got = next(&server).await;
    assert_eq!(got.message, "by name");
    assert_eq!(got.addr(), Some(client.local_addr()));
}

#[tokio::test]
async fn an_ephemeral_socket_sends_and_receives_the_reply() {
    let server = bound(on(LOCALHOST)).await;
    let server_addr = server.local_addr();
    let task = answer(server, "back:");
    let client = bound(UdpOptions::default()).await;
    let local = client.local_addr();
    assert_ne!(local.port(), 0);
    assert_eq!(local.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST)); // loopback by default, as TCP
    within(client.send_to(Packet::new(server_addr, "hi")))
        .await
        .unwrap();
    let reply = next(&client).await;
    assert_eq!(reply.message, "back:hi");
    assert_eq!(reply.addr(), Some(server_addr));
    task.abort();
}

#[tokio::test]
async fn ipv6_sockets_on_the_loopback_exchange_packets() {
    let a = bound(on(LOCALHOST_V6)).await;
    let b = bound(on(LOCALHOST_V6)).await;
    let a_addr = a.local_addr();
    let b_addr = b.local_addr();
    assert!(a_addr.is_ipv6());
    within(a.send_to(Packet::new(b_addr, "v6"))).await.unwrap();
    assert_eq!(next(&b).await, Packet::new(a_addr, "v6"));
    within(b.send_to(Packet::new(a_addr, "v6 back")))
        .await
        .unwrap();
    assert_eq!(next(&a).await, Packet::new(b_addr, "v6 back"));
}

#[tokio::test]
async fn a_send_to_an_address_of_the_other_family_fails_and_the_socket_keeps_working() {
    let v4 = bound(on(LOCALHOST)).await;
    let peer = bound(on(LOCALHOST)).await;
    let v6_dest = SocketAddr::new(LOCALHOST_V6, 9);
    let err = within(v4.send_to(Packet::new(v6_dest, "wrong family")))
        .await
        .expect_err("an IPv4 socket cannot send to ::1");
    assert!(err.is_io(), "{err:?}");
    within(v4.send_to(Packet::new(peer.local_addr(), "ok")))
        .await
        .unwrap();
    assert_eq!(next(&peer).await.message, "ok");
}

#[tokio::test]
async fn a_host_without_an_address_of_the_sockets_family_is_a_dns_error() {
    let v6 = bound(on(LOCALHOST_V6)).await;
    let peer = bound(on(LOCALHOST_V6)).await;
    let err = within(v6.send_to(Packet::to_host("127.0.0.1", 9, "x")))
        .await
        .expect_err("127.0.0.1 has no IPv6 address");
    assert!(err.is_dns(), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    within(v6.send_to(Packet::new(peer.local_addr(), "ok")))
        .await
        .expect("the socket keeps working");
    assert_eq!(next(&peer).await.message, "ok");
}

// ---- the receive queue ----------------------------------------------------------------

/// Sends 50 numbered packets to a socket with a queue of 4 that nobody reads.
async fn overflow(policy: Overflow) -> (Socket, Vec<Bytes>) {
    const SENT: u64 = 50;
    let receiver = bound(UdpOptions {
        recv_queue: 4,
        overflow: policy,
        recv_buffer_size: Some(1 << 20),
        ..on(LOCALHOST)
    })
    .await;
    let to = receiver.local_addr();
    let sender = bound(on(LOCALHOST)).await;
    for i in 0..SENT {
        within(sender.send_to(Packet::new(to, format!("p{i:02}"))))
            .await
            .expect("send");
    }
    wait_for_arrivals(&receiver, SENT).await;
    let d = receiver.description();
    assert_eq!(d.kind, "udp");
    assert_eq!(d.capacity, 4);
    // Every packet the kernel delivered is either queued or counted as dropped.
    assert_eq!((d.buffered, d.dropped), (4, 46), "{d}");
    let kept = drain(&receiver);
    (receiver, kept)
}

#[tokio::test]
async fn a_full_queue_that_drops_the_newest_keeps_the_first_packets() {
    let (receiver, kept) = overflow(Overflow::DropNewest).await;
    assert_eq!(kept, ["p00", "p01", "p02", "p03"]);
    assert_eq!(receiver.description().dropped, 46);
}

#[tokio::test]
async fn a_full_queue_that_drops_the_oldest_keeps_the_last_packets() {
    let (receiver, kept) = overflow(Overflow::DropOldest).await;
    assert_eq!(kept, ["p46", "p47", "p48", "p49"]);
    assert_eq!(receiver.description().dropped, 46);
}

#[tokio::test]
async fn the_socket_keeps_receiving_after_its_queue_overflowed() {
    let (receiver, _) = overflow(Overflow::DropNewest).await;
    let to = receiver.local_addr();
    let sender = bound(on(LOCALHOST)).await;
    within(sender.send_to(Packet::new(to, "later")))
        .await
        .unwrap();
    assert_eq!(next(&receiver).await.message, "later");
    assert_eq!(receiver.description().dropped, 46, "no new drop");
}

#[tokio::test]
async fn datagrams_longer_than_max_datagram_size_are_cut() {
    let receiver = bound(UdpOptions {
        max_datagram_size: 16,
        ..on(LOCALHOST)
    })
    .await;
    let to = receiver.local_addr();
    let sender = bound(on(LOCALHOST)).await;
    // Short ones first, so the receive buffer has been split and regrown.
    let long = vec![b'x'; 100];
    for message in [&b"short"[..], &long, b"tiny", &long] {
        within(sender.send_to(Packet::new(to, message.to_vec())))
            .await
            .unwrap();
    }
    let lens: Vec<usize> = [
        next(&receiver).await,
        next(&receiver).await,
        next(&receiver).await,
        next(&receiver).await,
    ]
    .iter()
    .map(|p| p.message.len())
    .collect();
    assert_eq!(lens, [5, 16, 4, 16]);
}

// ---- send errors ------------------------------------------------------------------------

#[tokio::test]
async fn an_oversized_datagram_fails_its_send_and_the_socket_keeps_working() {
    let socket = bound(on(LOCALHOST)).await;
    let peer = bound(on(LOCALHOST)).await;
    let to = peer.local_addr();
    let err = within(socket.send_to(Packet::new(to, vec![0u8; 70_000])))
        .await
        .expect_err("70 000 bytes exceed the largest UDP datagram");
    assert!(err.is_io(), "{err:?}");
    assert!(err.to_string().contains("70000"), "{err}");
    within(socket.send_to(Packet::new(to, "after")))
        .await
        .expect("the socket keeps working");
    assert_eq!(next(&peer).await.message, "after");
    assert!(
        at_most(SHORT, peer.recv()).await.is_none(),
        "the oversized datagram must not arrive"
    );
}

#[tokio::test]
async fn a_broadcast_without_the_option_is_refused() {
    let socket = bound(on(LOCALHOST)).await;
    for dest in [Ipv4Addr::BROADCAST, Ipv4Addr::new(127, 255, 255, 255)] {
        let err = within(socket.send_to(Packet::new((dest, 9).into(), "all")))
            .await
            .expect_err("no SO_BROADCAST: the kernel refuses");
        assert!(err.is_io(), "{err:?}");
        let io = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        assert_eq!(io, Some(std::io::ErrorKind::PermissionDenied), "{err}");
    }
}

#[tokio::test]
async fn a_broadcast_on_the_loopback_arrives_with_the_option() {
    for dest in [Ipv4Addr::new(127, 255, 255, 255), Ipv4Addr::BROADCAST] {
        broadcast_arrives(dest).await;
    }
}

/// A sender bound to 127.0.0.1 broadcasts through lo (for 255.255.255.255 too).
async fn broadcast_arrives(dest: Ipv4Addr) {
    // Bound to 0.0.0.0: a socket bound to 127.0.0.1 does not take broadcasts.
    let receiver = bound(on(IpAddr::V4(Ipv4Addr::UNSPECIFIED))).await;
    let port = receiver.local_addr().port();
    let sender = bound(UdpOptions {
        broadcast: true,
        ..on(LOCALHOST)
    })
    .await;
    let dest = SocketAddr::from((dest, port));
    within(sender.send_to(Packet::new(dest, "everyone")))
        .await
        .expect("SO_BROADCAST allows the send");
    let got = next(&receiver).await;
    assert_eq!(got.message, "everyone");
    assert_eq!(got.addr(), Some(sender.local_addr()));
}

// ---- multicast ----------------------------------------------------------------------------

#[tokio::test]
async fn a_multicast_group_on_the_loopback_receives_what_is_sent_to_it() {
    let group = Ipv4Addr::new(239, 255, 42, 99);
    let receiver = bound(UdpOptions {
        reuse_address: true,
        multicast: vec![Multicast {
            group: group.into(),
            interface_v4: Ipv4Addr::LOCALHOST,
            interface_v6: 0,
        }],
        ..on(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    })
    .await;
    let port = receiver.local_addr().port();
    // Bound to 127.0.0.1, the sender's multicast leaves through lo.
    let sender = bound(UdpOptions {
        multicast_loop: Some(true),
        multicast_ttl: Some(1),
        ..on(LOCALHOST)
    })
    .await;
    within(sender.send_to(Packet::new((group, port).into(), "to the group")))
        .await
        .expect("send to the group");
    let got = next(&receiver).await;
    assert_eq!(got.message, "to the group");
    assert_eq!(got.addr(), Some(sender.local_addr()));
}

/// This sandbox (and a default Linux) has no multicast route on lo, so a
/// sender that leaves the interface to the system sends through the default
/// route and the group on lo never sees it: raw mode sets `IP_MULTICAST_IF`.
#[tokio::test]
async fn a_raw_sender_with_the_loopback_as_multicast_interface_reaches_the_group() {
    let group = Ipv4Addr::new(239, 255, 42, 100);
    let receiver = bound(UdpOptions {
        reuse_address: true,
        multicast: vec![Multicast {
            group: group.into(),
            interface_v4: Ipv4Addr::LOCALHOST,
            interface_v6: 0,
        }],
        ..on(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    })
    .await;
    let port = receiver.local_addr().port();
    let sender = within(udp::socket_raw(UdpOptions {
        multicast_loop: Some(true),
        multicast_ttl: Some(1),
        ..UdpOptions::default()
    }))
    .await
    .unwrap();
    socket2::SockRef::from(&sender)
        .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
        .expect("IP_MULTICAST_IF");
    within(sender.send_to(b"raw to the group", (group, port)))
        .await
        .unwrap();
    let got = next(&receiver).await;
    assert_eq!(got.message, "raw to the group");
    assert_eq!(
        got.addr().map(|a| a.port()),
        sender.local_addr().ok().map(|a| a.port())
    );
}

#[tokio::test]
async fn joining_an_address_that_is_not_multicast_fails_naming_the_group() {
    let err = within(udp::socket(UdpOptions {
        multicast: vec![Multicast::group(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))],
        ..on(LOCALHOST)
    }))
    .await
    .expect_err("10.1.2.3 is no multicast group");
    assert!(err.is_io(), "{err:?}");
    assert!(err.to_string().contains("10.1.2.3"), "{err}");
}

// ---- raw mode ---------------------------------------------------------------------------

#[tokio::test]
async fn raw_mode_hands_out_a_tokio_socket_with_the_options_applied() {
    let raw = within(udp::socket_raw(UdpOptions {
        broadcast: true,
        multicast_ttl: Some(3),
        multicast_loop: Some(false),
        ..on(LOCALHOST)
    }))
    .await
    .expect("bind");
    assert!(raw.broadcast().unwrap());
    assert_eq!(raw.multicast_ttl_v4().unwrap(), 3);
    assert!(!raw.multicast_loop_v4().unwrap());
    let addr = raw.local_addr().unwrap();
    assert_eq!(addr.ip(), LOCALHOST);
    assert_ne!(addr.port(), 0);

    let v6 = within(udp::socket_raw(UdpOptions {
        multicast_ttl: Some(5),
        multicast_loop: Some(false),
        ..on(LOCALHOST_V6)
    }))
    .await
    .expect("bind ::1");
    assert_eq!(socket2::SockRef::from(&v6).multicast_hops_v6().unwrap(), 5);
    assert!(!v6.multicast_loop_v6().unwrap());

    let plain = within(udp::socket_raw(on(LOCALHOST))).await.unwrap();
    assert!(!plain.broadcast().unwrap());

    // It is an ordinary tokio socket: talk to an aleph one.
    let socket = bound(on(LOCALHOST)).await;
    let to = socket.local_addr();
    within(raw.send_to(b"raw", to)).await.unwrap();
    assert_eq!(next(&socket).await, Packet::new(addr, "raw"));
}

// ---- closing ------------------------------------------------------------------------------

#[tokio::test]
async fn dropping_every_clone_frees_the_port() {
    let socket = bound(on(LOCALHOST)).await;
    let addr = socket.local_addr();
    let clone = socket.clone();
    drop(socket);
    // A clone keeps the socket open.
    assert!(std::net::UdpSocket::bind(addr).is_err(), "a clone is alive");
    drop(clone);
    let deadline = Instant::now() + LIMIT;
    loop {
        match std::net::UdpSocket::bind(addr) {
            Ok(_) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "{addr} still bound {LIMIT:?} after the socket was dropped: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_send_on_a_closed_socket_is_a_closed_error() {
    let socket = bound(on(LOCALHOST)).await;
    let peer = bound(on(LOCALHOST)).await;
    let to = peer.local_addr();
    socket.close();
    let err = within(socket.send_to(Packet::new(to, "late")))
        .await
        .expect_err("the socket is closed");
    assert!(err.is_closed(), "{err:?}");
    assert!(at_most(SHORT, peer.recv()).await.is_none());
}

#[tokio::test]
async fn a_closed_socket_still_receives() {
    let socket = bound(on(LOCALHOST)).await;
    let to = socket.local_addr();
    socket.close();
    let sender = bound(on(LOCALHOST)).await;
    within(sender.send_to(Packet::new(to, "in"))).await.unwrap();
    assert_eq!(next(&socket).await.message, "in");
}

#[tokio::test]
async fn a_running_socket_joins_and_leaves_a_multicast_group() {
    let group = Multicast {
        group: Ipv4Addr::new(239, 255, 42, 101).into(),
        interface_v4: Ipv4Addr::LOCALHOST,
        interface_v6: 0,
    };
    let receiver = bound(UdpOptions {
        reuse_address: true,
        ..on(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    })
    .await;
    let port = receiver.local_addr().port();
    let sender = bound(UdpOptions {
        multicast_loop: Some(true),
        multicast_ttl: Some(1),
        ..on(LOCALHOST)
    })
    .await;
    let to_group = SocketAddr::new(group.group, port);

    receiver.join(&group).expect("join on a running socket");
    within(sender.send_to(Packet::new(to_group, "joined")))
        .await
        .unwrap();
    assert_eq!(next(&receiver).await.message, "joined");

    receiver.leave(&group).expect("leave the group joined");
    let err = receiver
        .leave(&group)
        .expect_err("leaving twice is refused");
    assert!(
        err.is_io() && err.to_string().contains("239.255.42.101"),
        "{err}"
    );
    within(sender.send_to(Packet::new(to_group, "left")))
        .await
        .unwrap();
    assert!(
        at_most(Duration::from_millis(300), receiver.recv())
            .await
            .is_none(),
        "nothing arrives once the group is left"
    );
}

#[tokio::test]
async fn a_failed_send_through_the_duplex_is_counted_and_the_socket_keeps_working() {
    let peer = bound(on(LOCALHOST)).await;
    let to = peer.local_addr();
    let duplex = bound(on(LOCALHOST)).await.into_duplex();
    // Too large for UDP: the socket's task fails it, logs it and goes on.
    within(duplex.send(Packet::new(to, vec![0u8; 70_000])))
        .await
        .expect("the duplex queues it");
    within(duplex.send(Packet::new(to, "after")))
        .await
        .expect("the duplex still takes packets");
    assert_eq!(next(&peer).await.message, "after");
}

#[tokio::test]
async fn without_reuse_address_a_port_clash_is_an_io_error_naming_the_address() {
    let first = bound(UdpOptions {
        reuse_address: false,
        ..on(LOCALHOST)
    })
    .await;
    let port = first.local_addr().port();
    let err = within(udp::socket(UdpOptions {
        port,
        reuse_address: false,
        ..on(LOCALHOST)
    }))
    .await
    .expect_err("the port is taken");
    assert!(err.is_io(), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}
