//! Routing and serving: the accept loop, one HTTP/1.1 keep-alive connection per task, and the
//! three routes.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::capacity::Capacity;
use super::faults::FailPlan;
use super::metrics::{Metrics, Route, Snapshot};
use super::render;
use super::shutdown::Connections;

/// How long in-flight requests get to finish after a termination signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

const HELLO: &str = "Hello, my name is starter.";
const TEXT: &str = "text/plain; charset=utf-8";

/// What every request handler shares.
pub struct State {
    started: Instant,
    metrics: Metrics,
    capacity: Capacity,
    faults: FailPlan,
    fail_status: StatusCode,
}

impl State {
    pub fn new(capacity: Capacity, faults: FailPlan, fail_status: StatusCode) -> State {
        State {
            started: Instant::now(),
            metrics: Metrics::new(&[fail_status.as_u16()]),
            capacity,
            faults,
            fail_status,
        }
    }

    fn snapshot(&self) -> Snapshot {
        let limits = self.capacity.limits();
        Snapshot {
            uptime: self.started.elapsed(),
            in_flight: self.capacity.in_flight() as u64,
            queued: self.capacity.queued() as u64,
            rejected: self.capacity.rejected(),
            concurrency: limits.concurrency,
            work_time: limits.work_time,
            max_queue: limits.max_queue,
            series: self.metrics.series(),
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting and gives open connections
/// [`DRAIN_TIMEOUT`] to finish their current request.
pub async fn run(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let connections = Arc::new(Connections::default());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => spawn_connection(stream, &state, &connections),
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning on the error.
                eprintln!("thidwick-starter: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    connections.stop_all();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.all_closed())
        .await
        .is_err()
    {
        eprintln!(
            "thidwick-starter: {} connection(s) still busy after {DRAIN_TIMEOUT:?}; closing them",
            connections.open_count()
        );
    }
}

fn spawn_connection(stream: TcpStream, state: &Arc<State>, connections: &Arc<Connections>) {
    // Responses are one small write each; Nagle would only hold them back.
    let _ = stream.set_nodelay(true);
    let (registration, stop) = connections.register();
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let _registration = registration;
        let service = service_fn(move |request| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(handle(&state, request).await) }
        });
        // No header-read timer: it would arm a timer per request on the hot path, and the
        // clients of a test stand-in are our own.
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let mut connection = pin!(connection);
        // Errors here are clients hanging up mid-request; the service stays quiet about them.
        tokio::select! {
            _ = connection.as_mut() => {}
            _ = stop => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    });
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let arrived = Instant::now();
    let method = request.method().clone();
    let route = Route::of(request.uri().path());
    drop(request);
    let response = match (route, method == Method::GET) {
        (Route::Other, _) => text(StatusCode::NOT_FOUND, "not found"),
        (_, false) => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET"));
            response
        }
        (Route::Hello, true) => hello(state).await,
        (Route::Metrics, true) => {
            let mut response = Response::new(Full::from(render::json(&state.snapshot())));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        (Route::Prometheus, true) => {
            let mut response = Response::new(Full::from(render::prometheus(&state.snapshot())));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(render::PROMETHEUS_CONTENT_TYPE),
            );
            response
        }
    };
    state.metrics.observe(
        &method,
        route,
        response.status().as_u16(),
        arrived.elapsed(),
    );
    response
}

async fn hello(state: &State) -> Response<Full<Bytes>> {
    let Ok(slot) = state.capacity.admit().await else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue full, try again later",
        );
    };
    let fails = state.faults.next_fails();
    slot.work().await;
    if fails {
        text(state.fail_status, "injected failure")
    } else {
        text(StatusCode::OK, HELLO)
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT));
    response
}
