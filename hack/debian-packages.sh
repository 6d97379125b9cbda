#!/usr/bin/env bash
# Installs the Debian packages given as arguments that are not installed yet,
# so targets that need a host tool (debootstrap for the kind images,
# PostgreSQL for CI) set themselves up like every other target. Nothing runs
# when everything is installed; otherwise `apt-get update` runs once, then
# one `apt-get install`. Waits for another apt/dpkg run to finish instead of
# failing on its lock.
#
# usage: hack/debian-packages.sh PACKAGE...    (installing needs root or sudo)
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }

missing=()
for p in "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [ "${status:0:2}" = ii ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null || {
  echo "debian-packages: ${missing[*]} missing and there is no apt-get; install them by hand" >&2
  exit 1
}
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "debian-packages: installing ${missing[*]} needs root (or sudo)" >&2; exit 1; }
  sudo=(sudo)
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q)
echo ">> installing Debian packages: ${missing[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "${apt[@]}" update >"$log" 2>&1; then
  cat "$log" >&2
  echo "debian-packages: apt-get update failed" >&2
  exit 1
fi
if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  tail -30 "$log" >&2
  echo "debian-packages: apt-get install ${missing[*]} failed" >&2
  exit 1
fi
echo ">> installed ${missing[*]}" >&2
