#!/bin/sh
# Installs, builds (warnings are errors) and runs every test: unit, root, e2e.
set -eu
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
