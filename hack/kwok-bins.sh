#!/usr/bin/env bash
# Builds kwok and kwokctl (sigs.k8s.io/kwok) from source through the Go module
# proxy, at the version pinned in hack/kwokbins/go.mod, for the kwok e2e
# backend and `make demo`. hack/kwokbins is a module of its own so kwok's
# dependencies stay out of fleethub's go.mod. Results are cached in a
# directory keyed by the kwok version and reused when present.
#
# usage: hack/kwok-bins.sh [binary...]   (default: kwok kwokctl)
# prints the directory holding the binaries on its last line of stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mod="$root/hack/kwokbins"
kwok_version=$(awk '{ for (i = 1; i < NF; i++) if ($i == "sigs.k8s.io/kwok") { print $(i+1); exit } }' "$mod/go.mod")
[ -n "$kwok_version" ] || { echo "kwok-bins: no sigs.k8s.io/kwok version in $mod/go.mod" >&2; exit 1; }
# The Kubernetes version the control-plane binaries are built at
# (hack/test-bins.sh); kwokctl uses it to pick version-dependent flags.
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$root/hack/k8sbins/go.mod")
out="${BIN_DIR:-$root/bin}/kwok-${kwok_version}"
mkdir -p "$out"

bins=("$@")
[ ${#bins[@]} -eq 0 ] && bins=(kwok kwokctl)

ldflags="-s -w \
 -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v} \
 -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${k8s_version#v}"

for b in "${bins[@]}"; do
  if [ -x "$out/$b" ]; then
    continue
  fi
  case "$b" in
    kwok|kwokctl) pkg="sigs.k8s.io/kwok/cmd/$b" ;;
    *) echo "kwok-bins: unknown binary $b" >&2; exit 2 ;;
  esac
  echo ">> building $b $kwok_version from source; the first build takes a few minutes" >&2
  start=$(date +%s)
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "$pkg")
  mv "$out/$b.tmp" "$out/$b"
  echo ">> built $b in $(( $(date +%s) - start ))s" >&2
done
echo "$out"
