#!/bin/sh
# Configures and builds berth into build/ (warnings are errors).
set -eu
cd "$(dirname "$0")/.."
"./scripts/install-deps.sh"
if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_WERROR=ON >/dev/null
fi
cmake --build build -j"$(nproc)"
