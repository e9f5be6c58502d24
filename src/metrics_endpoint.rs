//! A tiny HTTP server that hands Prometheus the latest rendered exposition text.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The text served at `/metrics`, replaced by the producer as often as it likes.
pub type Exposition = Arc<Mutex<String>>;

/// Binds now, so that a taken port is an error before any load is sent.
pub async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| {
        format!("cannot listen on {address} for --metrics-listen (pick a free port, e.g. 127.0.0.1:9646)")
    })
}

/// Serves `text` until the returned task is aborted.
pub fn serve(listener: TcpListener, text: Exposition) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let text = text.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let text = text.clone();
                        async move { Ok::<_, Infallible>(respond(&request, &text)) }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn respond(request: &Request<hyper::body::Incoming>, text: &Exposition) -> Response<Full<Bytes>> {
    let (status, body) = match request.uri().path() {
        "/metrics" | "/" => (
            StatusCode::OK,
            text.lock().map(|t| t.clone()).unwrap_or_default(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
