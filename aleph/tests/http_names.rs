//! No public name of `aleph::http` is taken over by a trait method users
//! commonly import (futures', tokio's, http-body-util's, tower's): every
//! method is called with those traits in scope and its result carries its
//! type, so if a trait method ever won the method resolution this file would
//! stop compiling. Also pins that the public types are `Send + Sync`.

#![allow(unused_imports, unused_mut, clippy::let_unit_value)]

use std::net::SocketAddr;

use aleph::http::{sse, Body, ConnectionInfo, Params, Request, ServerOptions};
use aleph::tls::TlsInfo;
use futures::{FutureExt, SinkExt, StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_http_types_are_send_and_sync() {
    assert_send_sync::<Request>();
    assert_send_sync::<Body>();
    assert_send_sync::<ServerOptions>();
    assert_send_sync::<Params>();
    assert_send_sync::<sse::Event>();
}

#[tokio::test]
async fn request_and_body_names_hold_with_the_common_traits_in_scope() {
    let inner = http::Request::post("/p?q=1")
        .header("cookie", "a=1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("f=2"))
        .unwrap();
    let mut req = Request::from(inner);
    let _: Option<SocketAddr> = req.remote_addr();
    let _: u16 = req.server_port();
    let _: std::borrow::Cow<'_, str> = req.server_name();
    let _: http::uri::Scheme = req.scheme();
    let _: &http::Method = req.request_method();
    let _: Option<&str> = req.query_string();
    let _: http::header::GetAll<'_, http::HeaderValue> = req.header_values("cookie");
    let _: bool = req.is_tls();
    let _: Option<&TlsInfo> = req.tls();
    let _: &[rustls_pki_types::CertificateDer<'static>] = req.peer_certificates();
    let _: &ConnectionInfo = req.connection_info();
    let _: Params = req.query_params();
    let _: Params = req.cookies();
    let _: bool = req.is_client_gone();
    let gone = req.client_gone();
    let _: Option<()> = gone.now_or_never();
    let form: aleph::Result<Params> = req.form_params().await;
    assert_eq!(form.unwrap().get("f"), Some("2"));
    let _: Body = req.into_body();

    let mut params = Params::default();
    let _: Option<&str> = params.get("a");
    let _: Vec<&str> = params.get_all("a");
    let _: usize = params.len();
    let _: bool = params.is_empty();
    let _: Vec<(String, String)> = params.into_vec();

    let mut event = sse::Event::data("d");
    let _: sse::Event = event.with_id("1").with_event("e");
}

#[allow(unused_variables)]
#[tokio::test]
async fn client_names_hold_with_the_common_traits_in_scope() {
    use std::time::Duration;

    use aleph::bytes::{BlockingReader, Bytes, IntoAsyncRead, Lines};
    use aleph::http::{
        Client, ClientOptions, ClientResponse, EventSource, HeaderMap, Method, PoolStats,
        RequestBuilder, RequestOptions, SentRequest, StatusCode, Timings, Version,
    };

    let server = aleph::http::start_server(|_req: Request| "names", ServerOptions::default())
        .await
        .unwrap();
    let url = format!("http://127.0.0.1:{}/", server.port());
    let mut client: Client = Client::new(ClientOptions::default());
    let mut builder: RequestBuilder = client
        .get(&url)
        .query(&[("a", "1")])
        .header("x-a", "1")
        .headers(HeaderMap::new())
        .body("b")
        .form(&[("k", "v")])
        .basic_auth("u", Some("p"))
        .bearer_auth("t")
        .accept("text/plain")
        .content_type("text/plain")
        .timeout(Duration::from_secs(5))
        .version(Version::HTTP_11)
        .throw_exceptions(true)
        .follow_redirects(true)
        .max_redirects(3)
        .save_request(true)
        .retry(0, Duration::ZERO);
    let built: RequestOptions = builder.build().unwrap();
    let mut response: ClientResponse = client.send(built).await.unwrap();
    let status: StatusCode = response.status();
    let version: Version = response.version();
    let headers: &HeaderMap = response.headers();
    let url_now: &str = response.url();
    let timings: &Timings = response.timings();
    let reused: bool = response.reused();
    let sent: Option<&SentRequest> = response.request();
    let redirects: usize = response.redirects();
    let body: &mut Body = response.body();
    let text: String = response.text().await.unwrap();
    assert_eq!(text, "names");
    for method in [
        client.post(&url),
        client.put(&url),
        client.patch(&url),
        client.delete(&url),
        client.head(&url),
        client.options(&url),
        client.request(Method::GET, &url),
    ] {
        let mut response: ClientResponse = method.send().await.unwrap();
        let bytes: Bytes = response.bytes().await.unwrap();
    }
    let response: ClientResponse = client.get(&url).send().await.unwrap();
    let lines: Lines = response.lines();
    let response: ClientResponse = client.get(&url).send().await.unwrap();
    let read: IntoAsyncRead = response.into_async_read();
    let response: ClientResponse = client.get(&url).send().await.unwrap();
    let reader: BlockingReader = response.into_reader();
    drop(reader);
    let response: ClientResponse = client.get(&url).send().await.unwrap();
    let mut events: EventSource = response.sse().reconnect(false);
    let id: Option<&str> = events.last_event_id();
    let response: ClientResponse = client.get(&url).send().await.unwrap();
    let inner: http::Response<Body> = response.into_inner();
    let stats: PoolStats = client.stats();
    let options: &ClientOptions = client.client_options();
    server.close().await;
}
