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
