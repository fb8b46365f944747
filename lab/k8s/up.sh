#!/bin/bash
# Start a single-node Kubernetes on 127.0.0.1 with its state under STATE_DIR:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (binaries from build.sh)
#   containerd + runc + bridge CNI (Debian packages), images from STATE_DIR/images/*.tar.
# usage: up.sh BIN_DIR STATE_DIR     (as root; writes STATE_DIR/kubeconfig, waits for node Ready)
# On failure the caller runs down.sh STATE_DIR: everything started or changed is recorded there.
set -euo pipefail
BIN=$(cd "$1" && pwd); mkdir -p "$2"; R=$(cd "$2" && pwd)
[ "$(id -u)" = 0 ] || { echo "up.sh: needs root (kubelet, containerd, CNI)" >&2; exit 1; }
for tool in containerd runc ctr openssl curl kubectl iptables; do
  command -v $tool >/dev/null || { echo "up.sh: $tool is missing; apt-get install -y --no-install-recommends containerd runc containernetworking-plugins iptables conntrack socat (kubectl from the Kubernetes apt repository)" >&2; exit 1; }
done
CNI_BIN=/usr/lib/cni   # Debian's containernetworking-plugins
[ -x $CNI_BIN/bridge ] || { echo "up.sh: $CNI_BIN/bridge missing: apt-get install containernetworking-plugins" >&2; exit 1; }
ts() { echo "[$(date +%T)] $*"; }
alive() { [ -f "$R/$1.pid" ] && kill -0 "$(cat "$R/$1.pid")" 2>/dev/null; }
export KUBECONFIG=$R/kubeconfig
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet"
n=0; for c in $COMPONENTS; do alive $c && n=$((n + 1)); done
if [ $n -gt 0 ]; then
  if [ $n = 6 ] && kubectl get nodes 2>/dev/null | grep -q ' Ready '; then ts "already up ($R)"; exit 0; fi
  echo "up.sh: $n of 6 components of a cluster in $R still run: run down.sh $R first" >&2; exit 1
fi
# A fresh cluster each time: the last one's etcd data, certificates, containers and logs go; the
# images/ tars stay (imported again below). Never rm -rf through a mount a crash left behind.
if grep -q " $R/" /proc/mounts; then echo "up.sh: mounts remain under $R: run down.sh $R first" >&2; exit 1; fi
rm -rf "$R/etcd-data" "$R/pki" "$R/kubelet" "$R/pod-logs" "$R/containerd" "$R/cni" "$R/logs" \
  "$R/kubelet-config.yaml" "$R/kubeconfig"
for port in 2379 2380 6443 10250 10257 10259; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "up.sh: 127.0.0.1:$port is taken (another cluster?)" >&2; exit 1; fi
done

# The apiserver reaches the kubelet by the node's Hostname address (loopback only: nothing listens
# on eth0), so the node name must resolve to 127.0.0.1; otherwise fall back to "localhost".
NODE=$(hostname)
getent ahostsv4 "$NODE" | grep -q '^127\.' || NODE=localhost
echo "$NODE" > "$R/node-name"

mkdir -p "$R/logs" "$R/pki" "$R/etcd-data" "$R/kubelet" "$R/pod-logs" "$R/containerd/root" \
  "$R/containerd/state" "$R/cni/net.d" "$R/images"
# The kubelet and the CNI plugins create these outside STATE_DIR (hard-coded paths) and change
# sysctls: record what was there before, once (a second up must not record the changed values).
if [ ! -f "$R/preexisting.txt" ]; then
  for d in /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/netns /run/containerd /etc/kubernetes; do
    [ -e $d ] && echo $d
  done > "$R/preexisting.txt.tmp" || true
  mv "$R/preexisting.txt.tmp" "$R/preexisting.txt"
fi
if [ ! -f "$R/sysctl.saved" ]; then
  sysctl -a 2>/dev/null | grep -E '^(vm\.overcommit_memory|vm\.panic_on_oom|kernel\.panic|kernel\.panic_on_oops|kernel\.keys\.root_maxkeys|kernel\.keys\.root_maxbytes|net\.ipv4\.ip_forward) =' > "$R/sysctl.saved.tmp" || true
  mv "$R/sysctl.saved.tmp" "$R/sysctl.saved"
fi

# ---- PKI: one throwaway CA, server certs for apiserver and kubelet, client certs per component.
P=$R/pki
(
  cd "$P"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 7 -subj "/CN=kscen-k8s-ca" 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  cert() { # name subject extensions
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 7 -extfile "$1.ext" 2>/dev/null
  }
  cert apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n"
  cert kubelet-serving "/CN=$NODE" "subjectAltName=IP:127.0.0.1,DNS:$NODE,DNS:localhost\nextendedKeyUsage=serverAuth\n"
  cert admin "/O=system:masters/CN=kscen-admin" "extendedKeyUsage=clientAuth\n"
  cert controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth\n"
  cert scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth\n"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE" "extendedKeyUsage=clientAuth\n"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth\n"
)
kubeconfig() { # user file
  cat > "$2" <<EOK
apiVersion: v1
kind: Config
clusters: [{name: kscen-local, cluster: {server: "https://127.0.0.1:6443", certificate-authority: $P/ca.crt}}]
users: [{name: $1, user: {client-certificate: $P/$1.crt, client-key: $P/$1.key}}]
contexts: [{name: kscen-local, context: {cluster: kscen-local, user: $1}}]
current-context: kscen-local
EOK
}
for n in controller-manager scheduler kubelet; do kubeconfig $n "$P/$n.kubeconfig"; done
ts "pki written"

start() { # name command...   (the pid file is what down.sh stops)
  local name=$1; shift
  nohup "$@" > "$R/logs/$name.log" 2>&1 &
  echo $! > "$R/$name.pid"
}
wait_for() { # what seconds command...
  local what=$1 secs=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge $end ]; then echo "up.sh: $what not ready after ${secs}s; logs in $R/logs" >&2; exit 1; fi
    sleep 0.3
  done
  ts "$what"
}

start etcd "$BIN/etcd" --name kscen --data-dir "$R/etcd-data" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster kscen=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
wait_for "etcd healthy" 60 curl -sf http://127.0.0.1:2379/health

# --endpoint-reconciler-type=none: no kubernetes Service endpoint for a loopback-only apiserver.
# --kubelet-preferred-address-types=Hostname: see NODE above.
start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=6443 --endpoint-reconciler-type=none \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$P/ca.crt" --kubelet-preferred-address-types=Hostname \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction
wait_for "apiserver ready" 120 curl -sf --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" https://127.0.0.1:6443/readyz
# Written once the apiserver answers: a kubeconfig on disk means a cluster to talk to.
kubeconfig admin "$R/kubeconfig.tmp"; mv "$R/kubeconfig.tmp" "$R/kubeconfig"

# No cloud, no kube-proxy, no node IPAM: those controllers stay off.
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$P/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$P/controller-manager.kubeconfig" --authorization-kubeconfig="$P/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --use-service-account-credentials=true --controllers='*,-nodeipam,-service,-route,-cloud-node-lifecycle' \
  --leader-elect=false
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" \
  --authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false

# containerd with its own root, state and socket under STATE_DIR (not the system /run/containerd).
# restrict_oom_score_adj: this VM drops CAP_SYS_RESOURCE, and runc fails to start any container
# ("can't get final child's PID from pipe", oom_score_adj: Permission denied) unless containerd
# clamps the pods' oom_score_adj to what it may set.
SOCK=$R/containerd/containerd.sock
containerd config default | sed \
  -e "s#^root = .*#root = \"$R/containerd/root\"#" -e "s#^state = .*#state = \"$R/containerd/state\"#" \
  -e "s#address = \"/run/containerd/containerd.sock\"#address = \"$SOCK\"#" \
  -e 's#sandbox_image = .*#sandbox_image = "localhost/kscen/pause:1.0"#' \
  -e 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' \
  -e "s#bin_dir = \"/opt/cni/bin\"#bin_dir = \"$CNI_BIN\"#" -e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"$R/cni/net.d\"#" \
  > "$R/containerd/config.toml"
grep -q 'restrict_oom_score_adj = true' "$R/containerd/config.toml" || { echo "up.sh: containerd config: restrict_oom_score_adj not set" >&2; exit 1; }
# Pods without hostNetwork get 10.244.0.0/24 on a bridge of their own, no masquerading (nothing
# leaves the machine); down.sh deletes the bridge and the CNI-* iptables chains.
cat > "$R/cni/net.d/10-kscen.conflist" <<'EOC'
{"cniVersion": "0.4.0", "name": "kscen-k8s", "plugins": [
  {"type": "bridge", "bridge": "kscencni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]]}}]}
EOC
start containerd containerd --config "$R/containerd/config.toml"
wait_for "containerd up" 60 ctr --address "$SOCK" version
# No registry: images come as OCI image layout tars (the pause image among them), pods use
# imagePullPolicy: Never.
for t in "$R"/images/*.tar; do
  [ -e "$t" ] || continue
  ctr --address "$SOCK" -n k8s.io images import "$t" >/dev/null
  ts "imported $(basename "$t")"
done

# cgroup v1 only on this VM: Kubernetes 1.34 refuses it unless failCgroupV1: false, and wants the
# cgroupfs driver (no systemd). The kubelet listens on 127.0.0.1 only.
cat > "$R/kubelet-config.yaml" <<EOK
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $P/ca.crt}}
authorization: {mode: Webhook}
tlsCertFile: $P/kubelet-serving.crt
tlsPrivateKeyFile: $P/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
podLogsDir: $R/pod-logs
containerRuntimeEndpoint: unix://$SOCK
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
EOK
start kubelet "$BIN/kubelet" --config="$R/kubelet-config.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
  --root-dir="$R/kubelet" --hostname-override="$NODE"
node_ready() { kubectl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -q True; }
wait_for "node $NODE Ready" 120 node_ready
wait_for "default service account present" 60 kubectl get serviceaccount default
ts "up: KUBECONFIG=$R/kubeconfig"
