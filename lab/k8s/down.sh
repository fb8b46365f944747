#!/bin/bash
# Stop the cluster up.sh started in STATE_DIR and undo what it changed on the host: processes,
# containers and their shims, mounts, network namespaces, pod cgroups, the CNI bridge and iptables
# chains, sysctls, the host folders the kubelet created. Safe to run twice, after a failed or
# partial up, and on a folder that never held a cluster.
# usage: down.sh STATE_DIR     (as root)
set -uo pipefail
[ -d "${1:?usage: down.sh STATE_DIR}" ] || { echo "down.sh: no $1: nothing to stop"; exit 0; }
R=$(cd "$1" && pwd)
export KUBECONFIG=$R/kubeconfig
SOCK=$R/containerd/containerd.sock
ts() { echo "[$(date +%T)] $*"; }
alive() { [ -f "$R/$1.pid" ] && kill -0 "$(cat "$R/$1.pid")" 2>/dev/null; }
stop() { # name: SIGTERM, up to 20 s, then SIGKILL
  if alive "$1"; then
    local pid; pid=$(cat "$R/$1.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    ts "stopped $1 ($pid)"
  fi
  rm -f "$R/$1.pid"
}

# The kubelet tears pods down best (unmounts, CNI DEL, cgroups): let it while it and the apiserver run.
if alive kubelet && alive kube-apiserver; then
  kubectl delete jobs,pods --all -A --wait=true --timeout=60s >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    [ -z "$(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null)" ] && break
    sleep 1
  done
fi
stop kubelet; stop kube-scheduler; stop kube-controller-manager
# Whatever is left runs under containerd: kill the tasks (this ends their shims), delete containers.
if alive containerd; then
  C="ctr --address $SOCK -n k8s.io"
  for t in $($C tasks ls -q 2>/dev/null); do
    $C tasks kill -s KILL "$t" >/dev/null 2>&1; sleep 0.5; $C tasks delete -f "$t" >/dev/null 2>&1
  done
  for c in $($C containers ls -q 2>/dev/null); do $C containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd; stop kube-apiserver; stop etcd
# Shims of a containerd killed hard outlive it: they are the processes still using our state folder.
for pid in $(pgrep -f "containerd-shim.*-address $SOCK" 2>/dev/null); do kill -9 "$pid" 2>/dev/null && ts "killed stray shim $pid"; done

# Mounts under STATE_DIR (pod volumes, rootfs, sandbox shm) and the pods' network namespaces.
awk '{print $2}' /proc/mounts | grep -E "^$R/|^/run/netns/cni-|^/var/run/netns/cni-|^/var/lib/kubelet/" | sort -r |
  while read -r m; do umount -l "$m" 2>/dev/null; done
for f in /run/netns/cni-*; do [ -e "$f" ] && rm -f "$f"; done
# The pods' cgroups (cgroupfs driver: kubepods/ under every v1 hierarchy), deepest first.
for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
done
ip link del kscencni0 2>/dev/null
# CNI-* chains the bridge plugin made (and KUBE-* ones, if a kubelet made any): unhook, flush, delete.
for t in filter nat mangle; do
  iptables -t $t -S 2>/dev/null | grep -E -- '-j (KUBE-|CNI-)' | sed 's/^-A/-D/' |
    while read -r rule; do eval iptables -t $t "$rule"; done
  chains=$(iptables -t $t -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/{print $2}')
  for ch in $chains; do iptables -t $t -F "$ch"; done
  for ch in $chains; do iptables -t $t -X "$ch"; done
done
[ -f "$R/sysctl.saved" ] && sysctl -q -p "$R/sysctl.saved" && rm -f "$R/sysctl.saved"
if [ -f "$R/preexisting.txt" ]; then
  for d in /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/netns /run/containerd /etc/kubernetes; do
    if grep -qx "$d" "$R/preexisting.txt"; then
      # It was there before: remove only our entries (pod log links into STATE_DIR, our CNI network).
      find "$d" -maxdepth 1 -lname "$R/*" -delete 2>/dev/null
      rm -rf "$d/networks/kscen-k8s" 2>/dev/null
    else
      rm -rf "$d"
    fi
  done
  rm -f "$R/preexisting.txt"
fi
rm -f "$R/kubeconfig"
left=$(grep -c " $R/" /proc/mounts)
ts "down ($R); mounts left under it: $left"
