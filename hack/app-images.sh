#!/usr/bin/env bash
# Builds the application images the e2e scenarios and the samples run on the
# kind backend, offline, from Debian packages (the host's apt mirror):
#
#   fleethub.local/nginx:e2e        nginx serving on port 80 (with sh and
#                                   coreutils, for the samples' sidecar)
#   fleethub.local/postgres:15      PostgreSQL 15 as SimpleDB expects it: uid
#                                   999, pg_ctl/psql/pg_isready on PATH, and an
#                                   entrypoint that initialises an empty PGDATA
#                                   from POSTGRES_USER, POSTGRES_PASSWORD and
#                                   POSTGRES_DB (only then), like the official image
#
# Each image carries a label with a hash of what it is built from (this
# script and hack/appimages) and is saved under bin/app-images/: an image in
# the Docker engine with the current hash is used as it is, else the saved one
# is loaded, else it is built (and saved).
#
# usage: hack/app-images.sh    (needs root and Docker; installs debootstrap)
# env:   DEBIAN_MIRROR (default: the host's apt source), REBUILD=1 to rebuild,
#        BIN_DIR (default bin/) for the cache.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${APP_IMAGES_WORK:-${BIN_DIR:-$root/bin}/app-images}
suite=bookworm
inputs=$(cat "$root/hack/app-images.sh" "$root/hack/appimages/"* | sha256sum | cut -c1-16)
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

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "app-images: no Debian mirror in the apt sources; set DEBIAN_MIRROR" >&2; exit 1; }
  echo "$uri"
}

# rootfs_image <name> <packages>: a Debian root filesystem with packages, as
# a local image (cached by package list).
rootfs_image() {
  local name=$1 packages=$2 key tar img
  key=$(echo "$suite $packages" | sha256sum | cut -c1-12)
  img="fleethub.local/$name-rootfs:$key"
  if docker image inspect "$img" >/dev/null 2>&1; then echo "$img"; return; fi
  [ "$(id -u)" = 0 ] || { echo "app-images: debootstrap needs root" >&2; exit 1; }
  command -v debootstrap >/dev/null || "$root/hack/debian-packages.sh" debootstrap >&2
  tar="$work/$name-$key.tar"
  if [ ! -s "$tar" ]; then
    local mirror dir="$work/$name-rootfs"
    mirror=$(debian_mirror)
    step "debootstrap $suite with $packages from $mirror"
    rm -rf "$dir"
    debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" >"$work/$name-debootstrap.log" 2>&1 \
      || { tail -20 "$work/$name-debootstrap.log" >&2; exit 1; }
    rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"* "$dir/usr/share/doc" "$dir/usr/share/man"
    tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$dir"
  fi
  docker import "$tar" "$img" >/dev/null
  echo "$img"
}

command -v docker >/dev/null || { echo "app-images: needs Docker: no docker command on PATH" >&2; exit 1; }
docker version >/dev/null 2>&1 || { echo "app-images: the Docker engine does not answer (docker version failed)" >&2; exit 1; }
mkdir -p "$work"

built_from() { docker image inspect --format '{{ index .Config.Labels "org.fleethub.inputs" }}' "$1" 2>/dev/null || true; }
# needed <image> <file>: whether <image> must be built; loads it from the
# saved <file> when that has the current inputs.
needed() {
  [ -n "${REBUILD:-}" ] && return 0
  [ "$(built_from "$1")" = "$inputs" ] && return 1
  if [ -s "$2" ]; then
    step "loading $1 from $2"
    docker load -q -i "$2" >/dev/null
    [ "$(built_from "$1")" = "$inputs" ] && return 1
  fi
  return 0
}
# save <image> <file>: keep the built image under bin/ for the next engine.
save() {
  local prefix=${2%-*}
  rm -f "$prefix"-*.tar
  docker save -o "$2.tmp" "$1" && mv "$2.tmp" "$2"
}

nginx_tar="$work/image-nginx-$inputs.tar"
if needed fleethub.local/nginx:e2e "$nginx_tar"; then
  base=$(rootfs_image nginx nginx-light,ca-certificates)
  ctx="$work/nginx-ctx"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cat >"$ctx/default.conf" <<'CONF'
server {
  listen 80 default_server;
  listen [::]:80 default_server;
  root /var/www/html;
  location / { try_files $uri $uri/ =404; }
  location = /healthz { return 200 "ok\n"; }
}
CONF
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY default.conf /etc/nginx/sites-enabled/default
RUN ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log \
 && echo 'hello from fleethub' > /var/www/html/index.html
LABEL org.fleethub.inputs=$inputs
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
DOCKERFILE
  step "image fleethub.local/nginx:e2e"
  docker_build fleethub.local/nginx:e2e "$ctx"
  rm -rf "$ctx"
  save fleethub.local/nginx:e2e "$nginx_tar"
fi

postgres_tar="$work/image-postgres-$inputs.tar"
if needed fleethub.local/postgres:15 "$postgres_tar"; then
  base=$(rootfs_image postgres postgresql-15,postgresql-client-15,ca-certificates)
  ctx="$work/postgres-ctx"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$root/hack/appimages/postgres-entrypoint.sh" "$ctx/entrypoint.sh"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY entrypoint.sh /usr/local/bin/postgres-entrypoint
# uid/gid 999 like the official image: SimpleDB runs the server as 999.
RUN groupmod -g 999 postgres && usermod -u 999 -g 999 postgres \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R 999:999 /var/lib/postgresql /var/run/postgresql && chmod 2777 /var/run/postgresql \
 && chmod 0755 /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
LABEL org.fleethub.inputs=$inputs
USER 999
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
CMD ["postgres"]
DOCKERFILE
  step "image fleethub.local/postgres:15"
  docker_build fleethub.local/postgres:15 "$ctx"
  rm -rf "$ctx"
  save fleethub.local/postgres:15 "$postgres_tar"
fi
step "application images ready"
echo fleethub.local/nginx:e2e
echo fleethub.local/postgres:15
