//! One user's HTTP/1.1 connection. The connection is driven inside the user's own task (no
//! background task per connection), which keeps a request to a handful of wake-ups.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{CONTENT_LENGTH, HOST, HeaderValue, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::failure::FailureCause;
use super::scenario::Task;
use super::target::Target;

type Driver = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// What came back from one request that got a response.
pub struct Response {
    pub status: StatusCode,
    pub body_bytes: u64,
}

pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    /// `None` once the connection has ended; the user then opens a new one.
    driver: Option<Pin<Box<Driver>>>,
}

const AGENT: &str = concat!("thidctl/", env!("CARGO_PKG_VERSION"));

impl Connection {
    pub async fn open(target: &Target) -> Result<Connection, FailureCause> {
        let addresses = tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|_| FailureCause::Dns)?;
        let mut last_error = FailureCause::Dns;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    // Requests are small and sent whole; Nagle would only add delay.
                    let _ = stream.set_nodelay(true);
                    let (sender, driver) = http1::Builder::new()
                        .handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| FailureCause::from_http(&e))?;
                    return Ok(Connection {
                        sender,
                        driver: Some(Box::pin(driver)),
                    });
                }
                Err(error) => last_error = FailureCause::from_io(&error),
            }
        }
        Err(last_error)
    }

    /// Sends one request and reads its whole body. On `Err` the connection must be dropped.
    pub async fn send(
        &mut self,
        template: &RequestTemplate,
        timeout: Duration,
    ) -> Result<Response, FailureCause> {
        let request = template.build();
        let Connection { sender, driver } = self;
        if driver.is_none() {
            return Err(FailureCause::ConnectionReset);
        }
        let exchange = async {
            sender
                .ready()
                .await
                .map_err(|e| FailureCause::from_http(&e))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| FailureCause::from_http(&e))?;
            let status = response.status();
            let mut body = response.into_body();
            let mut body_bytes = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| FailureCause::from_http(&e))?;
                if let Some(data) = frame.data_ref() {
                    body_bytes += data.len() as u64;
                }
            }
            Ok(Response { status, body_bytes })
        };
        let driven = async {
            tokio::pin!(exchange);
            let running = driver.as_mut().expect("checked above");
            let ended = tokio::select! {
                biased;
                outcome = &mut exchange => return outcome,
                ended = running.as_mut() => ended,
            };
            // The peer closed, possibly right after a complete response (HTTP/1.0 servers do).
            // Dropping the connection's state settles the exchange either way.
            *driver = None;
            match (exchange.await, ended) {
                (Ok(response), _) => Ok(response),
                (Err(_), Err(error)) => Err(FailureCause::from_http(&error)),
                (Err(cause), Ok(())) => Err(cause),
            }
        };
        match tokio::time::timeout(timeout, driven).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FailureCause::Timeout),
        }
    }

    /// Whether the connection can take another request. Gives the connection one poll first,
    /// so that a close the peer sent while it sat idle is noticed before a request is lost to it.
    pub async fn is_reusable(&mut self) -> bool {
        let Some(running) = self.driver.as_mut() else {
            return false;
        };
        let ended = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(running.as_mut(), cx).is_ready())
        })
        .await;
        if ended {
            self.driver = None;
        }
        !ended && !self.sender.is_closed()
    }
}

/// A task's request, resolved against the target once so that each send only clones it.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    method: hyper::Method,
    uri: hyper::Uri,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl RequestTemplate {
    pub fn new(target: &Target, task: &Task) -> RequestTemplate {
        let mut headers = hyper::HeaderMap::with_capacity(task.headers.len() + 3);
        if let Ok(host) = HeaderValue::from_str(&target.authority) {
            headers.insert(HOST, host);
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        if !task.body.is_empty() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(task.body.len()));
        }
        for (name, value) in &task.headers {
            headers.insert(name, value.clone());
        }
        RequestTemplate {
            method: task.method.clone(),
            uri: target
                .request_path(&task.path)
                .parse()
                .expect("paths are validated when the scenario is read"),
            headers,
            body: task.body.clone(),
        }
    }

    fn build(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}
