#!/usr/bin/env bash
# Builds everything with warnings as errors and runs every test (Catch2, CLI, schema, install,
# crash, Python), then builds again with ASan+UBSan in BUILD_DIR-asan and runs the tests there
# with clang (scripts/test-sanitizers.sh), then fuzzes every libFuzzer target for 30 s from that
# same build (scripts/test-fuzz.sh).
# Usage: bash scripts/test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESCALON_WERROR=ON -DESCALON_BUILD_TESTS=ON \
  -DESCALON_BUILD_PYTHON=ON -DPython3_EXECUTABLE=/usr/bin/python3
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$(nproc)"
bash scripts/test-sanitizers.sh "$build-asan"
ESCALON_FUZZ_BUILD="$build-asan" bash scripts/test-fuzz.sh
