#!/usr/bin/env python3
"""Pod discovery for a Prometheus built without Kubernetes service discovery.

Debian's prometheus package leaves out kubernetes_sd_configs. This sidecar stands in for
it: it lists pods through the Kubernetes API with the pod's service account, keeps the
running ones annotated prometheus.io/scrape: "true", and writes a file_sd target file
that the `kubernetes-pods` job reads. Targets get the same labels the kubernetes_sd
relabelling gives (namespace, pod, app, component), so queries are identical either way.

Standard library only. Settings come from the environment:
  DISCOVERY_FILE        target file to write (default /discovery/pods.json)
  DISCOVERY_INTERVAL    seconds between listings (default 10)
  DISCOVERY_NAMESPACES  comma-separated namespaces; empty means all
"""

import json
import os
import ssl
import sys
import time
import urllib.parse
import urllib.request

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def api_base() -> str:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"https://{host}:{port}"


def list_pods(base: str, context: ssl.SSLContext, namespace: str) -> list:
    # Read the token each time: projected tokens are rotated by the kubelet.
    with open(f"{SERVICE_ACCOUNT}/token", encoding="utf-8") as handle:
        token = handle.read().strip()
    path = f"/api/v1/namespaces/{urllib.parse.quote(namespace)}/pods" if namespace else "/api/v1/pods"
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.load(response).get("items", [])


def target_group(pod: dict):
    """The file_sd target group of one pod, or None when it is not to be scraped."""
    meta = pod.get("metadata", {})
    annotations = meta.get("annotations") or {}
    if annotations.get("prometheus.io/scrape") != "true":
        return None
    status = pod.get("status", {})
    ip = status.get("podIP")
    if status.get("phase") != "Running" or not ip:
        return None
    port = annotations.get("prometheus.io/port")
    if not port:
        ports = [p for c in pod.get("spec", {}).get("containers", []) for p in c.get("ports") or []]
        if not ports:
            return None
        port = str(ports[0]["containerPort"])
    host = f"[{ip}]" if ":" in ip else ip
    labels = {
        "__metrics_path__": annotations.get("prometheus.io/path") or "/metrics",
        "__scheme__": annotations.get("prometheus.io/scheme") or "http",
        "namespace": meta.get("namespace", ""),
        "pod": meta.get("name", ""),
    }
    pod_labels = meta.get("labels") or {}
    for name in ("app", "component"):
        if pod_labels.get(name):
            labels[name] = pod_labels[name]
    return {"targets": [f"{host}:{port}"], "labels": labels}


def write_atomically(path: str, groups: list) -> None:
    # Prometheus watches the file; a rename means it never reads half a file.
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(groups, handle, indent=1, sort_keys=True)
    os.replace(temporary, path)


def main() -> int:
    out = os.environ.get("DISCOVERY_FILE", "/discovery/pods.json")
    interval = float(os.environ.get("DISCOVERY_INTERVAL", "10"))
    namespaces = [n.strip() for n in os.environ.get("DISCOVERY_NAMESPACES", "").split(",") if n.strip()]
    context = ssl.create_default_context(cafile=f"{SERVICE_ACCOUNT}/ca.crt")
    base = api_base()
    previous = None
    while True:
        try:
            pods = [pod for ns in (namespaces or [""]) for pod in list_pods(base, context, ns)]
            groups = [g for g in map(target_group, pods) if g]
            groups.sort(key=lambda g: (g["labels"]["namespace"], g["labels"]["pod"]))
            if groups != previous:
                write_atomically(out, groups)
                print(f"pod-discovery: {len(groups)} target(s)", flush=True)
                previous = groups
        except Exception as error:  # keep the last good file; try again next round
            print(f"pod-discovery: {error}", file=sys.stderr, flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main())
