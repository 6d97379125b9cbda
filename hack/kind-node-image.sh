#!/usr/bin/env bash
# Builds a kind node image offline, for machines that cannot pull
# kindest/node (`kind build node-image` always downloads etcd, CoreDNS, pause
# and kindnetd). Everything comes from Debian packages (the host's apt
# mirror) and from source through the Go module proxy:
#
#   - a debootstrap'ed Debian bookworm root filesystem with systemd,
#     containerd, runc, the CNI plugins and iptables;
#   - kubelet, kubeadm, kubectl (hack/test-bins.sh) and crictl;
#   - the images kubeadm runs, each FROM scratch around one static binary
#     (kube-apiserver, kube-controller-manager, kube-scheduler, etcd,
#     CoreDNS, pause), plus kube-proxy on the Debian root filesystem (it needs
#     iptables), all imported into the node's containerd at boot;
#   - a static CNI configuration (a bridge) instead of kindnetd, and this
#     repository's own entrypoint and systemd units (hack/kindnode/rootfs).
#
# The image carries a label with a hash of everything it is built from (this
# script, hack/kindnode, the Kubernetes version), and is saved under
# bin/kind-node/: an image in the Docker engine with the current hash is used
# as it is, else the saved one is loaded, else it is built (and saved).
#
# usage: hack/kind-node-image.sh   (needs root and Docker; installs debootstrap)
# env:   KIND_NODE_IMAGE (default fleethub.local/kind-node:<k8s version>),
#        DEBIAN_MIRROR (default: the host's apt source), REBUILD=1 to rebuild,
#        BIN_DIR (default bin/) for the cache.
# prints the image name on its last line of stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$root/hack/k8sbins/go.mod")
image=${KIND_NODE_IMAGE:-fleethub.local/kind-node:${k8s_version}}
work=${KIND_NODE_WORK:-${BIN_DIR:-$root/bin}/kind-node}
suite=bookworm
packages=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,nftables,iproute2,ca-certificates,conntrack,ethtool,socat,kmod,procps,util-linux,mount,libseccomp2
# inputs: the hash of everything the image is built from.
inputs=$( { echo "$image $suite $packages"; cat "$root/hack/kind-node-image.sh" "$root/hack/k8sbins/go.mod" "$root/hack/k8sbins/go.sum";
  (cd "$root/hack/kindnode" && find . -type f | LC_ALL=C sort | xargs sha256sum); } | sha256sum | cut -c1-16)
saved="$work/node-$inputs.tar"
start=$(date +%s)
step() { echo ">> [$(( $(date +%s) - start ))s] $*" >&2; }
# docker_build TAG DIR: build quietly; show docker's output only on failure.
docker_build() {
  local log
  log=$(mktemp)
  if ! docker build -q -t "$1" "$2" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

command -v docker >/dev/null || { echo "kind-node-image: needs Docker: no docker command on PATH" >&2; exit 1; }
docker version >/dev/null 2>&1 || { echo "kind-node-image: the Docker engine does not answer (docker version failed)" >&2; exit 1; }
built_from() { docker image inspect --format '{{ index .Config.Labels "org.fleethub.inputs" }}' "$1" 2>/dev/null || true; }
if [ -z "${REBUILD:-}" ]; then
  if [ "$(built_from "$image")" = "$inputs" ]; then
    step "$image is up to date (REBUILD=1 rebuilds it)"
    echo "$image"
    exit 0
  fi
  if [ -s "$saved" ]; then
    step "loading $image from $saved"
    docker load -q -i "$saved" >/dev/null
    if [ "$(built_from "$image")" = "$inputs" ]; then
      echo "$image"
      exit 0
    fi
  fi
  docker image inspect "$image" >/dev/null 2>&1 && step "$image was built from other sources; rebuilding it"
fi
[ "$(id -u)" = 0 ] || { echo "kind-node-image: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || "$root/hack/debian-packages.sh" debootstrap

# The host's Debian mirror: deb822 sources first, then one-line sources.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "kind-node-image: no Debian mirror in the apt sources; set DEBIAN_MIRROR" >&2; exit 1; }
  echo "$uri"
}

mkdir -p "$work/images"

# The root filesystem waits on the mirror and the disk, the builds below on
# the CPU: debootstrap runs in the background while they compile.
rootfs_key=$(echo "$suite $packages" | sha256sum | cut -c1-12)
rootfs_tar="$work/rootfs-$suite-$rootfs_key.tar"
base="fleethub.local/kind-node-rootfs:$rootfs_key"
rootfs() {
  if [ ! -s "$rootfs_tar" ]; then
    local mirror
    mirror=$(debian_mirror)
    step "debootstrap $suite from $mirror, in the background (a few minutes)"
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; return 1; }
    # Trim what a node never uses, and what would tie it to this machine.
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* \
      "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man"
    : > "$work/rootfs/etc/machine-id"
    tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$work/rootfs"
    step "root filesystem ready"
  fi
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    step "importing the root filesystem as $base"
    docker import "$rootfs_tar" "$base" >/dev/null
  fi
}
rootfs &
rootfs_pid=$!
# Stop debootstrap too when a build below fails.
trap 'pkill -P "$rootfs_pid" 2>/dev/null; kill "$rootfs_pid" 2>/dev/null || true' EXIT

step "CoreDNS, crictl and pause from source (hack/kindnode)"
tools="$work/bin-$( (cd "$root/hack/kindnode" && cat go.mod go.sum pause/* coredns/*) | sha256sum | cut -c1-12)"
mkdir -p "$tools"
for b in coredns crictl pause; do
  [ -x "$tools/$b" ] && continue
  case "$b" in
    coredns) pkg=./coredns ;;
    crictl) pkg=sigs.k8s.io/cri-tools/cmd/crictl ;;
    pause) pkg=./pause ;;
  esac
  step "building $b"
  (cd "$root/hack/kindnode" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$tools/$b.tmp" "$pkg")
  mv "$tools/$b.tmp" "$tools/$b"
done

step "Kubernetes $k8s_version binaries (hack/test-bins.sh)"
k8s=$("$root/hack/test-bins.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl | tail -n1)

wait "$rootfs_pid" || { echo "kind-node-image: building the root filesystem failed" >&2; exit 1; }
trap - EXIT

# The images kubeadm will ask for, under exactly the names it asks for.
mapfile -t wanted < <("$k8s/kubeadm" config images list --kubernetes-version "$k8s_version")
ctx="$work/images/ctx"
built=()
pause_image=
for ref in "${wanted[@]}"; do
  name=${ref##*/}
  name=${name%%:*}
  rm -rf "$ctx" && mkdir -p "$ctx"
  case "$name" in
    kube-apiserver|kube-controller-manager|kube-scheduler|etcd)
      cp "$k8s/$name" "$ctx/$name"
      printf 'FROM scratch\nCOPY %s /usr/local/bin/%s\nENV PATH=/usr/local/bin\nENTRYPOINT ["/usr/local/bin/%s"]\n' \
        "$name" "$name" "$name" >"$ctx/Dockerfile" ;;
    coredns)
      cp "$tools/coredns" "$ctx/coredns"
      printf 'FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]\n' >"$ctx/Dockerfile" ;;
    pause)
      cp "$tools/pause" "$ctx/pause"
      printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Dockerfile"
      pause_image=$ref ;;
    kube-proxy)
      cp "$k8s/kube-proxy" "$ctx/kube-proxy"
      printf 'FROM %s\nCOPY kube-proxy /usr/local/bin/kube-proxy\nENTRYPOINT ["/usr/local/bin/kube-proxy"]\n' "$base" >"$ctx/Dockerfile" ;;
    *)
      echo "kind-node-image: kubeadm wants $ref, which this script does not know how to build" >&2
      exit 1 ;;
  esac
  step "image $ref"
  docker_build "$ref" "$ctx"
  built+=("$ref")
done
[ -n "$pause_image" ] || { echo "kind-node-image: kubeadm listed no pause image" >&2; exit 1; }
step "saving ${#built[@]} images for the node"
docker save -o "$work/images/images.tar" "${built[@]}"

step "assembling $image"
node="$work/node"
rm -rf "$node" && mkdir -p "$node/files"
cp -a "$root/hack/kindnode/rootfs/." "$node/files/"
sed -i "s#@PAUSE_IMAGE@#${pause_image}#" "$node/files/etc/containerd/config.toml"
wants="$node/files/etc/systemd/system/multi-user.target.wants"
mkdir -p "$node/files/usr/bin" "$node/files/kind/images" "$wants"
for b in kubelet kubeadm kubectl; do cp "$k8s/$b" "$node/files/usr/bin/$b"; done
cp "$tools/crictl" "$node/files/usr/bin/crictl"
cp "$work/images/images.tar" "$node/files/kind/images/images.tar"
echo "$k8s_version" >"$node/files/kind/version"
printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n' >"$node/files/etc/crictl.yaml"
ln -sf /lib/systemd/system/containerd.service "$wants/containerd.service"
for unit in kubelet.service fleethub-images.service; do
  ln -sf "/etc/systemd/system/$unit" "$wants/$unit"
done
cat >"$node/Dockerfile" <<DOCKERFILE
FROM $base
COPY files/ /
LABEL org.fleethub.inputs=$inputs
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
DOCKERFILE
docker_build "$image" "$node"
rm -rf "$node" "$ctx" "$work/images/images.tar"
step "saving $image to $saved"
rm -f "$work"/node-*.tar
docker save -o "$saved.tmp" "$image"
mv "$saved.tmp" "$saved"
step "built $image"
echo "$image"
