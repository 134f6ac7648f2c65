//! The server-sent events parser against real event streams over real
//! sockets: aleph's own `sse::response` (HTTP/1.1 and h2c, read with
//! hyper's client) and a stream written by Python's `http.server`.

mod support;

use std::ffi::OsStr;
use std::time::Duration;

use aleph::http::sse::{self, Event, EventStream};
use aleph::http::{self, Body, Request, Response, ServerOptions};
use aleph::stream::Channel;
use futures::TryStreamExt;

use support::http::{connect, get, h1, h2};
use support::peers::{fixture, PeerServer};
use support::within;

fn events(_req: Request) -> Response {
    let sent = [
        Event::data("first").with_id("1"),
        Event::data("two\nlines").with_event("update").with_id("2"),
        Event {
            retry: Some(Duration::from_millis(1234)),
            comment: Some("a comment the client skips".into()),
            ..Event::data("third")
        },
    ];
    sse::response(futures::stream::iter(sent))
}

fn expected() -> Vec<Event> {
    vec![
        Event::data("first").with_id("1"),
        Event::data("two\nlines").with_event("update").with_id("2"),
        // The id is the stream's last one, as a browser's lastEventId.
        Event {
            retry: Some(Duration::from_millis(1234)),
            ..Event::data("third").with_id("2")
        },
    ]
}

#[tokio::test]
async fn events_from_aleph_sse_response_parse_back_over_http1_and_h2c() {
    let server = http::start_server(events, ServerOptions::default())
        .await
        .unwrap();
    let mut send = h1(connect(server.port()).await).await;
    let res = within(send.send_request(get("/"))).await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let stream = EventStream::new(Body::new(res.into_body()));
    let got: Vec<Event> = within(stream.try_collect()).await.unwrap();
    assert_eq!(got, expected());

    let mut send = h2(connect(server.port()).await).await;
    let res = within(send.send_request(get("/"))).await.unwrap();
    let mut stream = EventStream::new(Body::new(res.into_body()));
    let mut got = Vec::new();
    while let Some(event) = within(stream.try_next()).await.unwrap() {
        got.push(event);
    }
    assert_eq!(got, expected());
    assert_eq!(stream.last_event_id(), Some("2"));
    assert_eq!(stream.retry(), Some(Duration::from_millis(1234)));
    server.close().await;
}

#[tokio::test]
async fn events_are_read_as_they_come_not_at_the_end() {
    let channel = Channel::buffered(1);
    let producer = channel.clone();
    let server = http::start_server(
        move |_req: Request| sse::response(channel.clone()),
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let mut send = h1(connect(server.port()).await).await;
    let res = within(send.send_request(get("/"))).await.unwrap();
    let mut stream = EventStream::new(Body::new(res.into_body()));
    for i in 0..3 {
        within(producer.send(Event::data(format!("n{i}"))))
            .await
            .unwrap();
        let event = within(stream.try_next()).await.unwrap().unwrap();
        assert_eq!(event.data.as_deref(), Some(format!("n{i}").as_str()));
    }
    producer.close();
    assert!(within(stream.try_next()).await.unwrap().is_none());
    server.close().await;
}

#[tokio::test]
async fn a_stream_written_by_python_parses_as_a_browser_would() {
    let script = fixture("sse_server.py");
    let peer = PeerServer::start("python3", &[script.as_os_str(), OsStr::new("@PORT@")]).await;
    let mut send = h1(connect(peer.port()).await).await;
    let res = within(send.send_request(get("/"))).await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut stream = EventStream::new(Body::new(res.into_body()));
    let mut got = Vec::new();
    while let Some(event) = within(stream.try_next()).await.unwrap() {
        got.push(event);
    }
    assert_eq!(
        got,
        [
            Event {
                retry: Some(Duration::from_millis(2500)),
                ..Event::data("hello\n from python")
                    .with_event("greeting")
                    .with_id("py-1")
            },
            Event::data("").with_id("py-1"),
            Event::data("keeps py-1").with_id("py-1"),
            Event::data("café ☕").with_id("py-2"),
        ]
    );
    assert_eq!(stream.last_event_id(), Some("py-2"));
}
