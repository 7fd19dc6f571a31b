#!/usr/bin/env bash
# Builds the benchmarks in Release and runs each; paste the output into bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DESCALON_BUILD_BENCH=ON -DESCALON_BUILD_TESTS=OFF >/dev/null
cmake --build build-release --target engine_bench
for what in events memory timers; do build-release/bench/engine_bench "$what"; done
cmake --build build-release --target store_bench
mkdir -p build-release/bench-tmp
build-release/bench/store_bench events build-release/bench-tmp 2000 full
build-release/bench/store_bench events build-release/bench-tmp 20000 normal
build-release/bench/store_bench recover build-release/bench-tmp 1000000
build-release/bench/store_bench evict build-release/bench-tmp 1000000
cmake --build build-release --target outbox_bench
build-release/bench/outbox_bench build-release/bench-tmp 2000 full
build-release/bench/outbox_bench build-release/bench-tmp 20000 normal
