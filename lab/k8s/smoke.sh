#!/bin/bash
# The harness's proof, against a running cluster (cargo xtask k8s-smoke brings it up and down):
#  1. Indexed Job of 4 (parallelism 4): every index runs `kscen --version`; the Job completes.
#  2. Indexed Job of 4, backoffLimitPerIndex 0: each index runs the scenario file a ConfigMap holds
#     for it (a 2 s steady load on kscen's embedded cluster); index 3 has none, so its kscen exits
#     non-zero; the Job fails with failedIndexes "3", and every index's log reads back.
#  3. Results: an Indexed Job of 2 writes --json /results/shard-<index>.json into a hostPath folder
#     under SMOKE_DIR (`--json /dev/stdout` cannot work: kscen renames a temporary file over the path).
#  4. hostNetwork: a pod with hostNetwork: true asks a Connect REST stand-in listening on the host's
#     127.0.0.1 (as the kscen lab does) for its connectors; a pod without it cannot reach it.
# usage: KUBECONFIG=... KSCEN_IMAGE=localhost/kscen/kscen:<version> SMOKE_DIR=DIR smoke.sh
set -euo pipefail
: "${KUBECONFIG:?}" "${KSCEN_IMAGE:?}" "${SMOKE_DIR:?}"
mkdir -p "$SMOKE_DIR"; rm -f "$SMOKE_DIR"/*.log
ts() { echo "[$(date +%T)] $*"; }
now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
kubectl delete job --all --wait=true >/dev/null 2>&1 || true
kubectl delete pod --all --wait=true >/dev/null 2>&1 || true
kubectl delete configmap smoke-shards smoke-profile >/dev/null 2>&1 || true

job() { # name completions args-yaml [volume-yaml]
  cat <<EOY | kubectl apply -f - >/dev/null
apiVersion: batch/v1
kind: Job
metadata: {name: $1}
spec:
  completionMode: Indexed
  completions: $2
  parallelism: $2
  backoffLimitPerIndex: 0
  template:
    spec:
      restartPolicy: Never
      hostNetwork: true
      automountServiceAccountToken: false
      containers:
      - name: kscen
        image: $KSCEN_IMAGE
        imagePullPolicy: Never
        args: $3
${4:-}
EOY
}
job_state() { # name -> Complete | Failed | (empty while running)
  kubectl get job "$1" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{"\n"}{end}' |
    grep -E '^(Complete|Failed)$' | head -1
}
wait_job() { # name seconds
  local end=$(( $(date +%s) + $2 )) state=""
  while [ -z "$state" ]; do
    [ "$(date +%s)" -lt $end ] || fail "job $1 neither complete nor failed after $2 s"
    sleep 0.5; state=$(job_state "$1" || true)
  done
  echo "$state"
}
logs_of() { # job index
  kubectl logs "$(kubectl get pods -l "job-name=$1,batch.kubernetes.io/job-completion-index=$2" -o name | head -1)"
}

# ---- 1. kscen --version x 4
t=$(now)
job kscen-version 4 '["--version"]'
state=$(wait_job kscen-version 120)
[ "$state" = Complete ] || fail "kscen-version: $state"
ts "job kscen-version: $state in $(since "$t") s ($(kubectl get job kscen-version -o jsonpath='{.status.succeeded}') succeeded)"
for i in 0 1 2 3; do
  v=$(logs_of kscen-version $i); echo "  index $i: $v"; echo "$v" | grep -q '^kscen ' || fail "index $i log: $v"
done

# ---- 2. shards from a ConfigMap, index 3 failing
cat > "$SMOKE_DIR/shard.toml" <<'EOT'
description = "k8s smoke shard: a short steady load on the embedded cluster"
plugin = "steady"
[params]
topic = "k8s-smoke"
rate = 200
record_size = 100
duration = "2s"
EOT
kubectl create configmap smoke-shards --from-file=shard-0.toml="$SMOKE_DIR/shard.toml" \
  --from-file=shard-1.toml="$SMOKE_DIR/shard.toml" --from-file=shard-2.toml="$SMOKE_DIR/shard.toml" >/dev/null
t=$(now)
job kscen-shards 4 '["run", "/shards/shard-$(JOB_COMPLETION_INDEX).toml"]' "$(cat <<'EOV'
        volumeMounts: [{name: shards, mountPath: /shards}]
      volumes: [{name: shards, configMap: {name: smoke-shards}}]
EOV
)"
state=$(wait_job kscen-shards 180)
failed=$(kubectl get job kscen-shards -o jsonpath='{.status.failedIndexes}')
completed=$(kubectl get job kscen-shards -o jsonpath='{.status.completedIndexes}')
ts "job kscen-shards: $state in $(since "$t") s (completedIndexes $completed, failedIndexes $failed)"
[ "$state" = Failed ] && [ "$failed" = 3 ] && [ "$completed" = 0-2 ] || fail "kscen-shards: expected index 3 alone to fail"
for i in 0 1 2 3; do logs_of kscen-shards $i > "$SMOKE_DIR/shard-$i.log" 2>&1 || true; done
grep -q 'records sent' "$SMOKE_DIR/shard-0.log" || fail "shard 0's log has no run summary: $SMOKE_DIR/shard-0.log"
echo "  index 0 log (tail):"; tail -4 "$SMOKE_DIR/shard-0.log" | sed 's/^/    /'
echo "  index 3 log:"; sed 's/^/    /' "$SMOKE_DIR/shard-3.log"

# ---- 3. results through a hostPath volume (one node: the host's folder is the pod's)
rm -rf "$SMOKE_DIR/results"; mkdir -p "$SMOKE_DIR/results"
t=$(now)
job kscen-results 2 '["run", "/shards/shard-$(JOB_COMPLETION_INDEX).toml", "--json", "/results/shard-$(JOB_COMPLETION_INDEX).json"]' "$(cat <<EOV
        volumeMounts: [{name: shards, mountPath: /shards}, {name: results, mountPath: /results}]
      volumes:
      - {name: shards, configMap: {name: smoke-shards}}
      - {name: results, hostPath: {path: $SMOKE_DIR/results, type: Directory}}
EOV
)"
state=$(wait_job kscen-results 180)
[ "$state" = Complete ] || fail "kscen-results: $state"
for i in 0 1; do
  grep -q '"schema": *"kscen.result/v1"' "$SMOKE_DIR/results/shard-$i.json" || fail "no result from shard $i in $SMOKE_DIR/results"
done
ts "job kscen-results: $state in $(since "$t") s; results: $(cd "$SMOKE_DIR/results" && echo *.json)"

# ---- 4. hostNetwork reaches the host's loopback
PORT=${SMOKE_PORT:-18083}
python3 - "$PORT" > "$SMOKE_DIR/connect-stand-in.log" 2>&1 <<'EOP' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({} if self.path.startswith("/connectors") else {"version": "stand-in"}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        print("GET", self.path, "from", self.client_address[0], flush=True)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOP
server=$!
trap 'kill $server 2>/dev/null' EXIT
printf '[clusters.source]\nbootstrap_servers = "127.0.0.1:%s"\n\n[connect]\nurls = ["http://127.0.0.1:%s"]\n' "$PORT" "$PORT" > "$SMOKE_DIR/profile.toml"
kubectl create configmap smoke-profile --from-file=profile.toml="$SMOKE_DIR/profile.toml" >/dev/null
probe() { # name hostNetwork
  cat <<EOY | kubectl apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  restartPolicy: Never
  hostNetwork: $2
  automountServiceAccountToken: false
  containers:
  - name: kscen
    image: $KSCEN_IMAGE
    imagePullPolicy: Never
    args: ["describe-deployment", "--profile", "/profile/profile.toml"]
    volumeMounts: [{name: profile, mountPath: /profile}]
  volumes: [{name: profile, configMap: {name: smoke-profile}}]
EOY
  local end=$(( $(date +%s) + 120 )) phase=""
  until [ "$phase" = Succeeded ] || [ "$phase" = Failed ]; do
    [ "$(date +%s)" -lt $end ] || fail "pod $1 did not finish"
    sleep 0.5; phase=$(kubectl get pod "$1" -o jsonpath='{.status.phase}')
  done
  echo "$phase"
}
before=$(grep -c '^GET' "$SMOKE_DIR/connect-stand-in.log" || true)
host_phase=$(probe probe-host-network true)
after_host=$(grep -c '^GET' "$SMOKE_DIR/connect-stand-in.log" || true)
kubectl logs probe-host-network > "$SMOKE_DIR/probe-host-network.log" 2>&1 || true
pod_phase=$(probe probe-pod-network false)
after_pod=$(grep -c '^GET' "$SMOKE_DIR/connect-stand-in.log" || true)
kubectl logs probe-pod-network > "$SMOKE_DIR/probe-pod-network.log" 2>&1 || true
# (Both pods exit non-zero either way: the stand-in runs no MirrorMaker 2 connector.)
ts "hostNetwork: true  -> pod $host_phase, $((after_host - before)) requests reached 127.0.0.1:$PORT on the host"
sed 's/^/    /' "$SMOKE_DIR/probe-host-network.log" | head -5
ts "hostNetwork: false -> pod $pod_phase, $((after_pod - after_host)) requests reached it"
sed 's/^/    /' "$SMOKE_DIR/probe-pod-network.log" | head -3
[ $((after_host - before)) -gt 0 ] || fail "a hostNetwork pod did not reach the host's 127.0.0.1:$PORT"
[ $((after_pod - after_host)) = 0 ] || fail "a pod-network pod reached the host's loopback (unexpected)"
ts "smoke passed; logs in $SMOKE_DIR"
