//! `thidctl::kube` against the real cluster (`scripts/testbed up`): rollout waits, pod lookup,
//! port-forwards that follow pods and move off taken ports, the reason a rollout times out, and
//! namespace deletion. Gated by `THIDCTL_CLUSTER_TESTS=1` (see `cluster_support`).

mod cluster_support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use cluster_support::{DEBIAN, NamespaceGuard, cluster_or_skip, http_get, starter_image};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;
use thidctl::kube::forward::{self, ForwardSpec};
use thidctl::kube::{
    Cluster, KubeError, connect, delete_namespace, namespace_exists, pod_summaries, ready_pod,
};

const HELLO: &str = "Hello, my name is starter.";
const STARTER_SELECTOR: &str = "app=thidwick-starter,project=thidwick";

async fn create_namespace(cluster: &Cluster, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(cluster.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
}

fn deployment(name: &str, app: &str, container: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app, "project": "thidwick"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app, "project": "thidwick"}},
            "template": {
                "metadata": {"labels": {"app": app, "project": "thidwick"}},
                "spec": {"terminationGracePeriodSeconds": 5, "containers": [container]}
            }
        }
    }))
    .unwrap()
}

async fn create_starter(cluster: &Cluster, namespace: &str) {
    let container = json!({
        "name": "starter",
        "image": starter_image(),
        "ports": [{"containerPort": 8080, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/hello", "port": 8080}, "periodSeconds": 1}
    });
    let deploy = deployment("thidwick-thidwick-starter", "thidwick-starter", container);
    Api::<Deployment>::namespaced(cluster.client.clone(), namespace)
        .create(&PostParams::default(), &deploy)
        .await
        .expect("create the starter deployment");
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "thidwick-thidwick-starter", "labels": {"app": "thidwick-starter"}},
        "spec": {
            "selector": {"app": "thidwick-starter", "project": "thidwick"},
            "ports": [{"port": 8080, "targetPort": 8080, "name": "http"}]
        }
    }))
    .unwrap();
    Api::<Service>::namespaced(cluster.client.clone(), namespace)
        .create(&PostParams::default(), &service)
        .await
        .expect("create the starter service");
}

/// GET /hello through the forward; panics with the whole story when it fails.
fn hello_through(addr: SocketAddr) -> String {
    match http_get(addr, "/hello") {
        Ok((200, body)) => body,
        Ok((status, body)) => panic!("GET /hello via {addr}: status {status}: {body}"),
        Err(e) => panic!("GET /hello via {addr}: {e}"),
    }
}

/// Polls `ready_pod` until it names a pod other than `old`, at most `limit`.
async fn replacement_for(cluster: &Cluster, namespace: &str, old: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(pod) = ready_pod(cluster, namespace, STARTER_SELECTOR).await
            && pod != old
        {
            return pod;
        }
        assert!(
            start.elapsed() < limit,
            "no ready replacement for {old} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn starter_rolls_out_and_forwards_follow_pods() {
    if !cluster_or_skip() {
        return;
    }
    let t0 = Instant::now();
    let cluster = connect(None).await.expect("connect to the test cluster");
    assert!(cluster.server.starts_with("https://"), "{cluster:?}");
    let guard = NamespaceGuard::new("thidctl-test");
    let ns = guard.name.as_str();
    create_namespace(&cluster, ns).await;
    assert!(namespace_exists(&cluster, ns).await.unwrap());
    create_starter(&cluster, ns).await;
    eprintln!("[{:>5.1?}] image built, deployment created", t0.elapsed());

    let t = Instant::now();
    let ready = thidctl::kube::wait_for_deployments(
        &cluster,
        ns,
        STARTER_SELECTOR,
        Duration::from_secs(120),
    )
    .await
    .expect("the starter rolls out");
    assert_eq!(ready, ["thidwick-thidwick-starter"]);
    eprintln!(
        "[{:>5.1?}] rollout complete in {:.1?}",
        t0.elapsed(),
        t.elapsed()
    );

    let first = ready_pod(&cluster, ns, STARTER_SELECTOR)
        .await
        .expect("a ready pod");
    assert!(first.starts_with("thidwick-thidwick-starter-"), "{first}");
    let summaries = pod_summaries(&cluster, ns, STARTER_SELECTOR).await.unwrap();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(summaries[0].is_ready(), "{summaries:?}");
    assert_eq!(summaries[0].ready(), "1/1");

    // Port 0: any free port; the forward says where it landed.
    let spec = ForwardSpec {
        name: "starter".into(),
        namespace: ns.into(),
        selector: STARTER_SELECTOR.into(),
        remote_port: 8080,
        local_port: 0,
    };
    let fwd = forward::open(&cluster, spec.clone())
        .await
        .expect("open the forward");
    assert!(!fwd.moved);
    assert!(fwd.local_addr.ip().is_loopback(), "{}", fwd.local_addr);
    let t = Instant::now();
    assert_eq!(hello_through(fwd.local_addr), HELLO);
    eprintln!(
        "[{:>5.1?}] GET /hello through the forward in {:.1?}",
        t0.elapsed(),
        t.elapsed()
    );

    // Kill the pod; the same forward must reach its replacement.
    let t = Instant::now();
    Api::<Pod>::namespaced(cluster.client.clone(), ns)
        .delete(&first, &DeleteParams::default())
        .await
        .expect("delete the first pod");
    let second = replacement_for(&cluster, ns, &first, Duration::from_secs(90)).await;
    eprintln!(
        "[{:>5.1?}] replacement {second} ready in {:.1?}",
        t0.elapsed(),
        t.elapsed()
    );
    assert_eq!(hello_through(fwd.local_addr), HELLO);
    assert_eq!(fwd.current_pod().as_deref(), Some(second.as_str()));
    eprintln!(
        "[{:>5.1?}] same forward answered from the replacement",
        t0.elapsed()
    );

    // A taken local port moves the forward instead of failing it.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let moved = forward::open(
        &cluster,
        ForwardSpec {
            local_port: taken,
            ..spec.clone()
        },
    )
    .await
    .expect("open a forward on a taken port");
    assert!(moved.moved);
    assert_ne!(moved.local_addr.port(), taken);
    assert_eq!(hello_through(moved.local_addr), HELLO);
    eprintln!(
        "[{:>5.1?}] taken port {taken} moved to {}",
        t0.elapsed(),
        moved.local_addr
    );

    // Stopping a forward closes its listener: no orphan left on the port.
    let addr = moved.local_addr;
    moved.stop();
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{addr} still accepts after stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(fwd);

    // No pod matches: the forward fails before returning, naming the selector.
    let err = forward::open(
        &cluster,
        ForwardSpec {
            selector: "app=nobody".into(),
            ..spec
        },
    )
    .await
    .expect_err("no pod, no forward");
    assert!(matches!(err, KubeError::NoReadyPod { .. }), "{err}");
    assert!(err.to_string().contains("app=nobody"), "{err}");

    let t = Instant::now();
    delete_namespace(&cluster, ns, Duration::from_secs(120))
        .await
        .expect("namespace deleted");
    assert!(!namespace_exists(&cluster, ns).await.unwrap());
    eprintln!(
        "[{:>5.1?}] namespace deleted in {:.1?}",
        t0.elapsed(),
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_deployment_times_out_naming_the_crash() {
    if !cluster_or_skip() {
        return;
    }
    let cluster = connect(None).await.expect("connect to the test cluster");
    let guard = NamespaceGuard::new("thidctl-test");
    let ns = guard.name.as_str();
    create_namespace(&cluster, ns).await;
    let container = json!({"name": "crasher", "image": DEBIAN, "command": ["false"]});
    Api::<Deployment>::namespaced(cluster.client.clone(), ns)
        .create(
            &PostParams::default(),
            &deployment("crasher", "crasher", container),
        )
        .await
        .expect("create the crashing deployment");

    let t = Instant::now();
    let err =
        thidctl::kube::wait_for_deployments(&cluster, ns, "app=crasher", Duration::from_secs(40))
            .await
            .expect_err("a container running `false` never becomes ready");
    let elapsed = t.elapsed();
    eprintln!("[{elapsed:>5.1?}] {err}");
    let KubeError::RolloutTimeout { unready, .. } = &err else {
        panic!("expected a rollout timeout, got {err}");
    };
    assert_eq!(unready.len(), 1, "{err}");
    assert_eq!(unready[0].name, "crasher");
    let why = &unready[0].why;
    assert!(
        why.contains("CrashLoopBackOff") || why.contains("exit 1"),
        "{why}"
    );
    assert!(why.contains("container crasher"), "{why}");
    assert!(
        elapsed < Duration::from_secs(55),
        "the timeout sits at the call site: {elapsed:?}"
    );

    // Nothing matches: an error right away, not a wait.
    let err =
        thidctl::kube::wait_for_deployments(&cluster, ns, "app=nothing", Duration::from_secs(30))
            .await
            .expect_err("no deployments is an error");
    assert!(matches!(err, KubeError::NoDeployments { .. }), "{err}");
}

#[tokio::test]
async fn unknown_context_is_named_with_the_fix() {
    if !cluster_or_skip() {
        return;
    }
    let err = connect(Some("no-such-context"))
        .await
        .expect_err("unknown context");
    let message = err.to_string();
    assert!(matches!(err, KubeError::UnknownContext { .. }), "{message}");
    assert!(
        message.contains("no-such-context") && message.contains("kubectl config get-contexts"),
        "{message}"
    );
}
