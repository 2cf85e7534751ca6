#!/bin/sh
# Installs every Debian package the build, the tests and the benchmarks need.
# Idempotent and quiet when everything is present.
set -eu
PKGS="build-essential cmake ninja-build ccache pkg-config git
libboost1.81-dev libboost-json1.81-dev liburing-dev libsimdjson-dev
libarchive-dev libsqlite3-dev libssl-dev libcli11-dev libfmt-dev libseccomp-dev
libgtest-dev libgmock-dev libbenchmark-dev
busybox-static crun runc docker-registry iproute2 util-linux tar gzip zstd python3 python3-docker python3-pytest qemu-system-x86"
# Installed without their recommends: python3-matplotlib (bench/startup.py's
# PNG) with recommends fails on a libboost1.74-dev / 1.81-dev conflict.
PKGS_NORECS="python3-matplotlib"
missing=""
missing_norecs=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
for p in $PKGS_NORECS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_norecs="$missing_norecs $p"
done
[ -z "$missing$missing_norecs" ] && exit 0
echo "install-deps: installing$missing$missing_norecs" >&2
export DEBIAN_FRONTEND=noninteractive
[ -z "$missing" ] || apt-get install -y -q $missing >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
[ -z "$missing_norecs" ] || apt-get install -y -q --no-install-recommends $missing_norecs >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing_norecs >/dev/null; }
