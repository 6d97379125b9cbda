#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries used by envtest and the e2e
# backends from source, through the Go module proxy, at the versions pinned in
# hack/k8sbins/go.mod. Results are cached in a directory keyed by version and
# reused when present, so only the first run pays for the build.
#
# usage: hack/test-bins.sh [binary...]   (default: etcd kube-apiserver)
# prints the directory holding the binaries on its last line of stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mod="$root/hack/k8sbins"
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$mod/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$mod/go.mod")
out="${BIN_DIR:-$root/bin}/k8s-${k8s_version}-etcd-${etcd_version}"
mkdir -p "$out"

bins=("$@")
[ ${#bins[@]} -eq 0 ] && bins=(etcd kube-apiserver)

minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${k8s_version} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=${k8s_version} \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"

for b in "${bins[@]}"; do
  if [ -x "$out/$b" ]; then
    continue
  fi
  case "$b" in
    etcd) pkg=./etcd ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kubelet|kubeadm|kube-proxy) pkg="k8s.io/kubernetes/cmd/$b" ;;
    *) echo "test-bins: unknown binary $b" >&2; exit 2 ;;
  esac
  echo ">> building $b from source ($k8s_version / etcd $etcd_version); the first build takes several minutes" >&2
  start=$(date +%s)
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "$pkg")
  mv "$out/$b.tmp" "$out/$b"
  echo ">> built $b in $(( $(date +%s) - start ))s" >&2
done
echo "$out"
