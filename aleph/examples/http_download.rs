//! Streams a download to a file: the body is written chunk by chunk as it
//! arrives, so memory stays flat whatever the size, and a body cut short is
//! an error, never a silently short file.
//!
//! `cargo run --example http_download [URL [FILE]]`: without a URL it starts
//! its own aleph server that streams 32 MiB and downloads that.

use aleph::bytes::Bytes;
use aleph::http::{self, Body, Request, ServerOptions};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> aleph::Result<()> {
    let mut args = std::env::args().skip(1);
    let (url, server) = match args.next() {
        Some(url) => (url, None),
        None => {
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let big = move |_req: Request| {
                let chunk = chunk.clone();
                Body::from_iterator((0..512).map(move |_| chunk.clone()))
            };
            let server = http::start_server(big, ServerOptions::default()).await?;
            (
                format!("http://127.0.0.1:{}/big", server.port()),
                Some(server),
            )
        }
    };
    let path = args.next().unwrap_or_else(|| {
        std::env::temp_dir()
            .join("aleph-download.bin")
            .display()
            .to_string()
    });

    let response = http::get(&url).await?;
    println!(
        "{} {:?}, saving to {path}",
        response.status(),
        response.version()
    );
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(aleph::Error::other)?;
    let mut body = response.into_async_read();
    let written = tokio::io::copy(&mut body, &mut file)
        .await
        .map_err(aleph::Error::other)?;
    file.flush().await.map_err(aleph::Error::other)?;
    println!("{written} bytes written");

    if let Some(server) = server {
        server.close().await;
        tokio::fs::remove_file(&path)
            .await
            .map_err(aleph::Error::other)?;
    }
    Ok(())
}
