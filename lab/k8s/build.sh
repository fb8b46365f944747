#!/bin/bash
# Build kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and etcd from the Go
# module proxy into $KSCEN_K8S_CACHE/<k8s>-etcd-<etcd>/bin, once: a complete cache is left alone.
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the k8s.io/* staging modules with
# local paths), so a throwaway wrapper module requires it and re-points each staging module at its
# published k8s.io/<name>@v0.<minor>.<patch>. etcd 3.6 comes from the same wrapper: Debian's 3.4
# is too old for a 1.34 apiserver ("Too large resource version").
# Needs Go 1.24+ (GO, default /usr/local/go/bin/go, else the one on PATH). Cold: ~9 min, ~2 GB RAM.
set -euo pipefail
K8S=${K8S_VERSION:-v1.34.4}
ETCD=${ETCD_VERSION:-v3.6.4}
CACHE=${KSCEN_K8S_CACHE:-$HOME/.cache/kscen/k8s}
DIR=$CACHE/$K8S-etcd-$ETCD
BIN=$DIR/bin
COMPONENTS="kube-apiserver kube-controller-manager kube-scheduler kubelet etcd"

# One build at a time: a second caller (`cargo xtask test` waiting for the build it started in the
# background) blocks here until the first is done, then finds the cache complete.
mkdir -p "$CACHE"
exec 9>"$CACHE/$K8S-etcd-$ETCD.lock"
flock 9

complete() { [ -f "$DIR/complete" ] && for c in $COMPONENTS; do [ -x "$BIN/$c" ] || return 1; done; }
if complete; then
  echo "$BIN (cached)"
  exit 0
fi

GO=${GO:-/usr/local/go/bin/go}
[ -x "$GO" ] || GO=$(command -v go) || { echo "build.sh: Go 1.24+ is needed" >&2; exit 1; }
"$GO" version | grep -Eq 'go1\.(2[4-9]|[3-9][0-9])' || { echo "build.sh: $("$GO" version): Go 1.24+ is needed" >&2; exit 1; }
NICE=${NICE:-nice -n 10}

W=$DIR/wrapper
mkdir -p "$W" "$BIN"
cd "$W"
rm -f go.mod go.sum
"$GO" mod init kscen.local/k8sbuild >/dev/null 2>&1
"$GO" mod edit -go=1.24.0 -godebug=default=go1.24 -require=k8s.io/kubernetes@$K8S
"$GO" mod download k8s.io/kubernetes@$K8S
MODDIR=$("$GO" env GOMODCACHE)/k8s.io/kubernetes@$K8S
STAGING=v0.${K8S#v1.}
for m in $(sed -n '/^replace (/,/^)/p' "$MODDIR/go.mod" | awk '/=>/{print $1}'); do
  "$GO" mod edit -replace="$m=$m@$STAGING"
done
cat > tools.go <<'EOT'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
EOT
"$GO" get go.etcd.io/etcd/server/v3@$ETCD k8s.io/kubernetes@$K8S
"$GO" mod tidy

# Without these the binaries report v0.0.0 and the kubelet/apiserver version skew checks complain.
minor=${K8S#v1.}; minor=${minor%%.*}
LDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDF="$LDF -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
export CGO_ENABLED=0
for c in kube-apiserver kubelet kube-controller-manager kube-scheduler; do
  s=$(date +%s)
  $NICE "$GO" build -trimpath -ldflags "$LDF" -o "$BIN/$c.tmp" k8s.io/kubernetes/cmd/$c
  mv "$BIN/$c.tmp" "$BIN/$c"
  echo "built $c in $(( $(date +%s) - s ))s"
done
s=$(date +%s)
$NICE "$GO" build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$BIN/etcd.tmp" "$BIN/etcd"
echo "built etcd in $(( $(date +%s) - s ))s"
echo "$K8S etcd $ETCD built $(date -u +%FT%TZ)" > "$DIR/complete"
echo "$BIN"
