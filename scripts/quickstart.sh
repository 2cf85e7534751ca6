#!/bin/sh
# The main job: install, build, start the engine, import a busybox image
# made offline, and run containers from it.
set -eu
cd "$(dirname "$0")/.."
./scripts/build.sh
berth=./build/berth
img=$(mktemp --suffix=.tar)
trap 'rm -f "$img"' EXIT
./scripts/make-busybox-image.sh "$img"
# The first command finds no daemon and starts one in the background.
$berth import "$img" busybox:latest
$berth run --rm busybox echo "hello from a berth container"
$berth run --rm busybox sh -c 'echo "hostname: $(hostname), pid: $$, uid: $(id -u)"; cat /proc/self/cgroup | head -3'
# 200 containers from one request (each a full container, removed after): containers/s and start latency.
$berth run --count 200 --rm busybox true
# The same from a warm pool: 200 sandboxes prepared ahead (namespaces,
# cgroups, rootfs, seccomp), then 200 runs at once that only send argv/env.
$berth pool set busybox 200 --wait
$berth run --count 200 --parallel 200 --rm busybox true
$berth pool rm busybox >/dev/null
$berth run -d --name quickstart-sleeper busybox sleep 30 >/dev/null
$berth ps
$berth rm -f quickstart-sleeper >/dev/null
$berth images
echo "berth is running: try ./build/berth run --rm busybox ls /   (or DOCKER_HOST=unix:///run/berth/berth.sock docker ps)"
