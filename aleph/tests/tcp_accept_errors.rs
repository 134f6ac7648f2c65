//! Running out of descriptors: accept fails, the server logs it, backs off
//! and keeps going. Alone in its file (so in a process of its own under
//! `cargo test` too), since it lowers the process's limit on open files.

use aleph::bytes::Bytes;
use aleph::stream::{self, ConnectOptions, Duplex};
use aleph::tcp::{self, TcpServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

use support::within;

/// Sets the soft limit on open descriptors, returning the old one.
fn set_open_files_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let old = limit.rlim_cur;
        limit.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        old
    }
}

/// Out of descriptors, accept fails: the server logs it, backs off and keeps
/// going, and the client waiting in the backlog is served once descriptors
/// are free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_errors_from_running_out_of_descriptors_are_survived() {
    let server = within(tcp::start_server(
        |conn: Duplex<Bytes, Bytes>, _info| {
            stream::connect(conn.clone(), conn, ConnectOptions::default());
        },
        TcpServerOptions::default(),
    ))
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();

    // Every descriptor number below the limit taken: the next accept fails.
    let highest = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    let old = set_open_files_limit(highest + 1);
    let mut fillers = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        fillers.push(file);
    }
    let mut client = within(socket.connect(addr)).await.unwrap(); // the kernel's backlog
    client.write_all(b"waiting").await.unwrap();
    let mut buf = [0u8; 7];
    assert!(
        support::at_most(support::SHORT * 4, client.read_exact(&mut buf))
            .await
            .is_none(),
        "served without a descriptor to serve it with"
    );

    set_open_files_limit(old);
    drop(fillers);
    within(client.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"waiting");
    drop(client);
    within(server.close()).await;
}
