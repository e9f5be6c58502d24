//! A port-forward as a scoped task: listen on 127.0.0.1, and per connection pick a ready pod,
//! `portforward` → `take_stream` → `copy_bidirectional`. Replaces the runbook's
//! `kubectl port-forward … &` that dies with its pod and lingers after the shell.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::kube::Api;
use k8s_openapi::api::core::v1::Pod;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::pods::{is_pod_ready, ready_pod_in};
use super::{Cluster, KubeError};

/// Opening the websocket to the kubelet; past this a connection is given up, not the listener.
const PORTFORWARD_TIMEOUT: Duration = Duration::from_secs(15);

/// What to forward: `127.0.0.1:local_port` → `remote_port` of a ready pod matching `selector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSpec {
    /// Names the forward in messages: "locust", "starter".
    pub name: String,
    pub namespace: String,
    pub selector: String,
    pub remote_port: u16,
    /// 0 picks any free port.
    pub local_port: u16,
}

/// A running forward. Dropping it (or [`Forward::stop`]) stops the listener and every connection.
#[derive(Debug)]
pub struct Forward {
    pub spec: ForwardSpec,
    pub local_addr: SocketAddr,
    /// True when `local_port` was taken and another port was chosen.
    pub moved: bool,
    pod: Arc<Mutex<Option<String>>>,
    task: JoinHandle<()>,
}

impl Forward {
    /// Stops listening and closes open connections.
    pub fn stop(self) {}

    /// `http://127.0.0.1:<port>`, for the steps that talk through the forward.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The pod the next connection goes to, as last resolved.
    pub fn current_pod(&self) -> Option<String> {
        lock(&self.pod).clone()
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        // The connections live in a JoinSet owned by this task, so they go with it.
        self.task.abort();
    }
}

/// Binds 127.0.0.1:local_port (or a free port when that one is taken, saying so via `moved`) and
/// serves connections in a spawned task. Fails before returning if no ready pod matches.
pub async fn open(cluster: &Cluster, spec: ForwardSpec) -> Result<Forward, KubeError> {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &spec.namespace);
    let first = ready_pod_in(&api, &spec.namespace, &spec.selector).await?;
    let (listener, moved) =
        bind_local(spec.local_port)
            .await
            .map_err(|source| KubeError::Bind {
                name: spec.name.clone(),
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, spec.local_port)),
                source,
            })?;
    let local_addr = listener.local_addr().map_err(|source| KubeError::Bind {
        name: spec.name.clone(),
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, spec.local_port)),
        source,
    })?;
    let pod = Arc::new(Mutex::new(Some(first)));
    let target = Arc::new(Target {
        api,
        spec: spec.clone(),
        local_addr,
        pod: pod.clone(),
    });
    let task = tokio::spawn(serve(listener, target));
    Ok(Forward {
        spec,
        local_addr,
        moved,
        pod,
        task,
    })
}

/// 127.0.0.1 only: the forward reaches into the cluster and must not be open to the network.
/// A taken port (or one we may not bind) falls back to a free one; `local_port` 0 means any.
async fn bind_local(local_port: u16) -> io::Result<(TcpListener, bool)> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, local_port)).await {
        Ok(listener) => Ok((listener, false)),
        Err(e) if should_move(&e) && local_port != 0 => {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            Ok((listener, true))
        }
        Err(e) => Err(e),
    }
}

fn should_move(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
    )
}

struct Target {
    api: Api<Pod>,
    spec: ForwardSpec,
    local_addr: SocketAddr,
    /// The pod connections go to until it is gone or unready; shared with [`Forward`].
    pod: Arc<Mutex<Option<String>>>,
}

impl Target {
    /// The cached pod if it is still ready, else a fresh pick by selector. One GET per
    /// connection is the price of following pods across restarts.
    async fn pod(&self, refresh: bool) -> Result<String, String> {
        let cached = if refresh {
            None
        } else {
            lock(&self.pod).clone()
        };
        if let Some(name) = cached
            && let Ok(Some(pod)) = self.api.get_opt(&name).await
            && is_pod_ready(&pod)
        {
            return Ok(name);
        }
        let fresh = ready_pod_in(&self.api, &self.spec.namespace, &self.spec.selector)
            .await
            .map_err(|e| e.to_string())?;
        *lock(&self.pod) = Some(fresh.clone());
        Ok(fresh)
    }

    fn forget(&self, name: &str) {
        let mut cached = lock(&self.pod);
        if cached.as_deref() == Some(name) {
            *cached = None;
        }
    }

    fn log(&self, pod: Option<&str>, error: &str) {
        let spec = &self.spec;
        let to = pod.unwrap_or(&spec.selector);
        eprintln!(
            "thidctl: port-forward {} {} -> {}/{to}:{}: {error}",
            spec.name, self.local_addr, spec.namespace, spec.remote_port
        );
    }
}

async fn serve(listener: TcpListener, target: Arc<Target>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((conn, _peer)) => {
                    let target = target.clone();
                    connections.spawn(async move { connection(conn, &target).await });
                }
                Err(e) => {
                    // Usually fd exhaustion: pause instead of spinning, keep listening.
                    target.log(None, &format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reap finished connections so the set does not grow for the forward's lifetime.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(mut conn: TcpStream, target: &Target) {
    let port = target.spec.remote_port;
    let mut pod = match target.pod(false).await {
        Ok(pod) => pod,
        Err(e) => return target.log(None, &e),
    };
    let mut forwarder = match open_portforward(target, &pod).await {
        Ok(f) => f,
        Err(first) => {
            // The pod may have gone between the check and the call: one retry on a fresh pick.
            target.forget(&pod);
            match target.pod(true).await {
                Ok(fresh) => pod = fresh,
                Err(e) => return target.log(Some(&pod), &format!("{first}; then {e}")),
            }
            match open_portforward(target, &pod).await {
                Ok(f) => f,
                Err(e) => {
                    target.forget(&pod);
                    return target.log(Some(&pod), &e);
                }
            }
        }
    };
    let Some(mut upstream) = forwarder.take_stream(port) else {
        return target.log(Some(&pod), "portforward gave no stream");
    };
    let pod_error = forwarder.take_error(port);
    let outcome = tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut conn, &mut upstream) => copied.err().map(|e| e.to_string()),
        // The kubelet reports failures inside the pod (nothing listening, …) on a side channel,
        // and the data stream may then stay open: end the connection ourselves.
        Some(message) = async { pod_error?.await } => {
            target.forget(&pod);
            Some(message)
        }
    };
    drop(upstream);
    if let Some(error) = outcome {
        target.log(Some(&pod), &error);
    }
    forwarder.abort();
}

async fn open_portforward(
    target: &Target,
    pod: &str,
) -> Result<::kube::api::Portforwarder, String> {
    let port = target.spec.remote_port;
    match tokio::time::timeout(PORTFORWARD_TIMEOUT, target.api.portforward(pod, &[port])).await {
        Ok(Ok(forwarder)) => Ok(forwarder),
        Ok(Err(e)) => Err(format!("portforward failed: {e}")),
        Err(_) => Err(format!(
            "portforward not established within {}s",
            PORTFORWARD_TIMEOUT.as_secs()
        )),
    }
}

/// A poisoned lock only means a connection task panicked; the cached name is still usable.
fn lock(pod: &Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    pod.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn free_port_is_kept() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let (listener, moved) = bind_local(port).await.unwrap();
        assert!(!moved);
        assert_eq!(listener.local_addr().unwrap().port(), port);
    }

    #[tokio::test]
    async fn taken_port_moves_to_a_free_one_on_loopback() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let (listener, moved) = bind_local(port).await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(moved);
        assert_ne!(addr.port(), port);
        assert!(addr.ip().is_loopback());
    }

    #[tokio::test]
    async fn port_zero_is_any_port_not_a_move() {
        let (listener, moved) = bind_local(0).await.unwrap();
        assert!(!moved);
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn only_taken_or_forbidden_ports_move() {
        assert!(should_move(&io::Error::from(io::ErrorKind::AddrInUse)));
        assert!(should_move(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(!should_move(&io::Error::from(
            io::ErrorKind::AddrNotAvailable
        )));
    }
}
