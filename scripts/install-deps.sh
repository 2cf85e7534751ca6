#!/bin/sh
# Installs every Debian package the build, the tests and the benchmarks need.
# Idempotent and quiet when everything is present.
set -eu
PKGS="build-essential cmake ninja-build ccache pkg-config git
libboost1.81-dev libboost-json1.81-dev liburing-dev libsimdjson-dev
libarchive-dev libsqlite3-dev libssl-dev libcli11-dev libfmt-dev libseccomp-dev
libgtest-dev libgmock-dev libbenchmark-dev
busybox-static crun runc docker-registry iproute2 util-linux tar gzip zstd python3 python3-docker python3-pytest qemu-system-x86"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
