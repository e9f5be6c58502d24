#!/usr/bin/env bash
# Smoke test for the local Kubernetes testbed (scripts/testbed up must have run).
#
# Proves: local image build + push to 127.0.0.1:5000, pulls by containerd, scheduling, pod
# networking, CoreDNS (service name resolved from another pod), kube-proxy (HTTP through the
# service IP), kubectl exec and port-forward to 127.0.0.1, helm install/uninstall.
# Every wait is bounded. Prints "smoke: N passed, M failed" and exits non-zero on any failure.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIXTURES=$REPO_ROOT/tests/cluster/fixtures
TESTBED=$REPO_ROOT/scripts/testbed
NS=${SMOKE_NAMESPACE:-thidtb-smoke}
RELEASE=smoke-chart
WAIT=${SMOKE_TIMEOUT:-180} # seconds for each rollout/wait

# Pick up KUBECONFIG/PATH (helm, kubectl 1.34) from the testbed unless the caller set them.
if [[ -z ${KUBECONFIG:-} ]] || ! command -v helm >/dev/null 2>&1; then
  eval "$("$TESTBED" env)"
fi
REGISTRY=${THIDTB_REGISTRY:-127.0.0.1:5000}
DEBIAN_IMAGE=${THIDTB_DEBIAN_IMAGE:-$REGISTRY/debian:bookworm}
WEB_TAG=$(date +%s)
WEB_IMAGE=$REGISTRY/thidtb-smoke-web:$WEB_TAG

PASSED=0
FAILED=0
FAILURES=()
WORK=$(mktemp -d)
PF_PID=

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n $PF_PID ]]; then kill "$PF_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

say() { printf '==> %s\n' "$*"; }
pass() {
  PASSED=$((PASSED + 1))
  printf '  PASS  %s\n' "$1"
}
fail() {
  FAILED=$((FAILED + 1))
  FAILURES+=("$1")
  printf '  FAIL  %s\n' "$1" >&2
  if [[ -n ${2:-} ]]; then printf '%s\n' "$2" | sed 's/^/        /' >&2; fi
}
k() { timeout 120 kubectl "$@"; }

summary_and_exit() {
  echo
  if ((FAILED)); then
    printf 'failed checks:\n' >&2
    printf '  - %s\n' "${FAILURES[@]}" >&2
    say "diagnostics"
    k get pods -A -o wide 2>&1 | sed 's/^/    /' >&2 || true
    k -n "$NS" get events --sort-by=.lastTimestamp 2>&1 | tail -n 20 | sed 's/^/    /' >&2 || true
  fi
  echo "smoke: $PASSED passed, $FAILED failed"
  ((FAILED == 0))
  exit $?
}

# --- 0. cluster reachable ------------------------------------------------------------------
say "cluster reachable"
if out=$(k get --raw /readyz 2>&1) && [[ $out == ok ]] &&
  [[ $(k get nodes -o jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}' 2>&1) == *True* ]]; then
  pass "API server ready and node Ready ($(k get nodes -o jsonpath='{.items[0].status.nodeInfo.kubeletVersion}'))"
else
  fail "API server / node not ready (is the testbed up? scripts/testbed status)" "$out"
  summary_and_exit
fi

# Fresh namespace (a previous aborted run may have left one behind).
if k get namespace "$NS" >/dev/null 2>&1; then
  helm uninstall "$RELEASE" -n "$NS" >/dev/null 2>&1 || true
  k delete namespace "$NS" --wait=true --timeout=120s >/dev/null 2>&1 || true
fi
k create namespace "$NS" >/dev/null

# --- 1. image build + push -------------------------------------------------------------------
say "build and push $WEB_IMAGE"
BUSYBOX=$(command -v busybox || true)
[[ -n $BUSYBOX ]] && file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=/bin/busybox
mkdir -p "$WORK/ctx/www"
cp "$BUSYBOX" "$WORK/ctx/busybox"
echo "hello from thidctl smoke" >"$WORK/ctx/www/index.html"
if out=$(timeout 300 docker build --network host -f "$FIXTURES/web.Dockerfile" -t "$WEB_IMAGE" "$WORK/ctx" 2>&1) &&
  out=$(timeout 300 docker push "$WEB_IMAGE" 2>&1); then
  pass "docker build + push to $REGISTRY"
else
  fail "docker build/push of $WEB_IMAGE" "$(tail -n 15 <<<"$out")"
  summary_and_exit
fi

# --- 2. deployment + service + client pod ----------------------------------------------------
say "deploy web (Deployment + Service) and a client pod"
cat >"$WORK/app.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: $NS
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: $WEB_IMAGE
          ports: [{containerPort: 8080, name: http}]
          readinessProbe:
            httpGet: {path: /, port: http}
            periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: $NS
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: $NS
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: client
      image: $DEBIAN_IMAGE
      command: ["sleep", "infinity"]
EOF
if out=$(k apply -f "$WORK/app.yaml" 2>&1) &&
  out=$(timeout $((WAIT + 10)) kubectl -n "$NS" rollout status deployment/web --timeout="${WAIT}s" 2>&1) &&
  out=$(timeout $((WAIT + 10)) kubectl -n "$NS" wait --for=condition=Ready pod/client --timeout="${WAIT}s" 2>&1); then
  pass "web deployment available and client pod (Debian base image) Ready"
else
  fail "web deployment / client pod did not become ready within ${WAIT}s" "$out
$(k -n "$NS" get pods -o wide 2>&1)
$(k -n "$NS" describe pods 2>&1 | grep -A12 '^Events' | tail -n 25)"
  summary_and_exit
fi

# --- 3. DNS from another pod -------------------------------------------------------------------
say "resolve the service name from the client pod"
SVC_IP=$(k -n "$NS" get svc web -o jsonpath='{.spec.clusterIP}')
FQDN=web.$NS.svc.cluster.local
resolved=
for _ in $(seq 1 15); do
  resolved=$(k -n "$NS" exec client -- getent hosts "$FQDN" 2>/dev/null | awk '{print $1}') || true
  [[ $resolved == "$SVC_IP" ]] && break
  sleep 2
done
short=$(k -n "$NS" exec client -- getent hosts web 2>/dev/null | awk '{print $1}') || true
if [[ $resolved == "$SVC_IP" && $short == "$SVC_IP" ]]; then
  pass "CoreDNS: $FQDN and short name 'web' resolve to $SVC_IP"
else
  fail "DNS lookup of $FQDN from pod client" "got '$resolved' / short '$short', expected $SVC_IP
resolv.conf: $(k -n "$NS" exec client -- cat /etc/resolv.conf 2>&1 | tr '\n' ';')"
fi

# --- 4. HTTP through the service from another pod ---------------------------------------------
say "HTTP GET http://$FQDN:8080/ from the client pod"
body=
for _ in $(seq 1 10); do
  # shellcheck disable=SC2016 # expanded inside the pod
  body=$(k -n "$NS" exec client -- timeout 10 bash -c 'exec 3<>/dev/tcp/$0/8080 && printf "GET / HTTP/1.0\r\nHost: web\r\n\r\n" >&3 && cat <&3' "$FQDN" 2>&1) || true
  [[ $body == *"hello from thidctl smoke"* ]] && break
  sleep 2
done
if [[ $body == *"HTTP/1."*" 200"* && $body == *"hello from thidctl smoke"* ]]; then
  pass "pod -> service (kube-proxy) -> pod HTTP 200"
else
  fail "HTTP via service from client pod" "$(head -c 600 <<<"$body")"
fi

# --- 5. kubectl port-forward from the host ------------------------------------------------------
say "kubectl port-forward svc/web to 127.0.0.1"
kubectl -n "$NS" port-forward --address 127.0.0.1 svc/web :8080 >"$WORK/pf.log" 2>&1 &
PF_PID=$!
port=
for _ in $(seq 1 30); do
  port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$WORK/pf.log" | head -n1)
  [[ -n $port ]] && break
  kill -0 "$PF_PID" 2>/dev/null || break
  sleep 0.5
done
body=
if [[ -n $port ]]; then
  for _ in $(seq 1 10); do
    body=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/" 2>&1) && break
    sleep 1
  done
fi
kill "$PF_PID" 2>/dev/null || true
wait "$PF_PID" 2>/dev/null || true
PF_PID=
if [[ $body == *"hello from thidctl smoke"* ]]; then
  pass "port-forward 127.0.0.1:$port -> svc/web answers"
else
  fail "port-forward to svc/web" "port='$port' body='$body'
$(cat "$WORK/pf.log")"
fi

# --- 6. helm install / uninstall ---------------------------------------------------------------
say "helm install + uninstall $FIXTURES/smoke-chart ($(helm version --template '{{.Version}}' 2>/dev/null))"
if out=$(timeout $((WAIT + 30)) helm install "$RELEASE" "$FIXTURES/smoke-chart" -n "$NS" \
  --set image="$WEB_IMAGE" --set message="hello from helm" --wait --timeout "${WAIT}s" 2>&1) &&
  [[ $(helm status "$RELEASE" -n "$NS" -o json 2>/dev/null | grep -o '"status":"[a-z]*"' | head -n1) == '"status":"deployed"' ]] &&
  [[ $(k -n "$NS" get deploy "$RELEASE-web" -o jsonpath='{.status.availableReplicas}') == 1 ]]; then
  # shellcheck disable=SC2016
  body=$(k -n "$NS" exec client -- timeout 10 bash -c 'exec 3<>/dev/tcp/$0/8080 && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' "$RELEASE-web" 2>&1) || true
  if [[ $body == *"hello from helm"* ]]; then
    pass "helm install --wait: release deployed, its service answers"
  else
    fail "helm release service did not answer" "$(head -c 400 <<<"$body")"
  fi
else
  fail "helm install $RELEASE" "$(tail -n 15 <<<"$out")"
fi
if out=$(timeout $((WAIT + 30)) helm uninstall "$RELEASE" -n "$NS" --wait --timeout "${WAIT}s" 2>&1) &&
  ! helm status "$RELEASE" -n "$NS" >/dev/null 2>&1 &&
  [[ -z $(k -n "$NS" get deploy,svc,cm -l "app.kubernetes.io/instance=$RELEASE" -o name 2>/dev/null) ]]; then
  pass "helm uninstall removed the release and its resources"
else
  fail "helm uninstall $RELEASE" "$(tail -n 15 <<<"$out")"
fi

# --- 7. cleanup ----------------------------------------------------------------------------------
say "delete namespace $NS"
if out=$(k delete namespace "$NS" --wait=true --timeout=120s 2>&1); then
  pass "namespace $NS deleted"
else
  fail "namespace $NS deletion" "$out"
fi
# drop the test image from the local registry (best effort)
digest=$(curl -fsSI --max-time 5 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$REGISTRY/v2/thidtb-smoke-web/manifests/$WEB_TAG" 2>/dev/null |
  sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *\([^[:space:]]*\).*/\1/p') || true
[[ -z $digest ]] || curl -fsS --max-time 5 -X DELETE "http://$REGISTRY/v2/thidtb-smoke-web/manifests/$digest" >/dev/null 2>&1 || true
docker rmi "$WEB_IMAGE" >/dev/null 2>&1 || true

summary_and_exit
