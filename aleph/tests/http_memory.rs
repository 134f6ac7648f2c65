//! Request bodies are byte streams with backpressure: a 1 GiB upload to a
//! handler that reads slowly, and one to a handler that never reads, keep
//! the process's resident memory flat.
//!
//! One test per file, each run in a process of its own under nextest:
//! resident memory is process-wide, and other tests would blur it.
//! Memory is read from `/proc/self/status` (`VmRSS`), so this runs on Linux.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aleph::http::{self, Request, ServerOptions};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use support::http::{self as client, body, status};

/// How far resident memory may rise above where it started while 1 GiB goes
/// through: the socket buffers, hyper's read buffer (bounded by
/// `max_header_size`) and the allocator's slack fit many times over; a
/// server that buffered the upload would pass it 16 times.
const BOUND: u64 = 64 * 1024 * 1024;

const GIB: u64 = 1024 * 1024 * 1024;

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// Samples resident memory every 20 ms into `peak` until dropped.
fn watch_peak(peak: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            peak.fetch_max(rss(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// Uploads `len` bytes with a `Content-Length` from one reused buffer, then
/// reads the response; a write the server refuses (it answered without
/// reading) ends the upload early.
async fn upload(port: u16, len: u64) -> String {
    let mut stream = client::connect(port).await;
    let head =
        format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'u'; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if stream.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        left -= n as u64;
    }
    client::read_to_close(&mut stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1gib_upload_to_slow_and_to_unread_handlers_keeps_memory_flat() {
    let server = http::start_server(
        |req: Request| async move {
            if req.uri().path() == "/unread" {
                return Ok::<_, aleph::Error>("not read".to_owned());
            }
            let mut body = aleph::bytes::into_stream(req.into_body());
            let mut total = 0u64;
            let mut next_pause = 0u64;
            while let Some(chunk) = body.next().await {
                total += chunk?.len() as u64;
                // Slow: a pause every 64 MiB, in which the client must wait.
                if total >= next_pause {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    next_pause += 64 * 1024 * 1024;
                }
            }
            Ok(total.to_string())
        },
        ServerOptions::default(),
    )
    .await
    .unwrap();

    // Warm up: the first request allocates what every later one reuses.
    let res = upload(server.port(), 1024 * 1024).await;
    assert_eq!(body(&res), (1024 * 1024).to_string());
    let start = rss();
    let peak = Arc::new(AtomicU64::new(start));
    let watcher = watch_peak(peak.clone());

    let res = upload(server.port(), GIB).await;
    assert_eq!(status(&res), 200, "{res}");
    assert_eq!(body(&res), GIB.to_string());
    let slow_peak = peak.load(Ordering::Relaxed);

    let mut stream = client::connect(server.port()).await;
    let head = format!("POST /unread HTTP/1.1\r\nHost: h\r\nContent-Length: {GIB}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'u'; 256 * 1024];
    let mut sent = 0u64;
    // The server answers without reading and closes: the writes stop being
    // taken long before 1 GiB, and nothing of it is buffered.
    while sent < GIB {
        match tokio::time::timeout(Duration::from_secs(2), stream.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len() as u64,
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let unread_peak = peak.load(Ordering::Relaxed);
    watcher.abort();

    let slow_growth = slow_peak.saturating_sub(start);
    eprintln!(
        "rss start {} MiB, slow peak {} MiB, unread peak {} MiB, unread sent {} MiB",
        start >> 20,
        slow_peak >> 20,
        unread_peak >> 20,
        sent >> 20
    );
    let unread_growth = unread_peak.saturating_sub(start);
    assert!(
        slow_growth < BOUND,
        "resident memory rose {} MiB during the slow 1 GiB upload (bound {} MiB)",
        slow_growth >> 20,
        BOUND >> 20
    );
    assert!(
        unread_growth < BOUND,
        "resident memory rose {} MiB during the unread upload (bound {} MiB)",
        unread_growth >> 20,
        BOUND >> 20
    );
    assert!(sent < GIB, "the server took a whole unread 1 GiB body");
    server.close().await;
}
