#!/usr/bin/env bash
# Builds the whole project with AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer
# in its own build folder, then runs the tests there; the first report stops the test that hit it.
# The same build carries libFuzzer's coverage hooks and the fuzz targets, so scripts/test-fuzz.sh
# fuzzes from it instead of compiling the library a third time (CI's 90 minutes on 2 cores).
# scripts/test.sh calls it after the normal run.
# Usage: bash scripts/test-sanitizers.sh [BUILD_DIR]     (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
command -v clang++-14 >/dev/null || { echo "test-sanitizers.sh: clang++-14 not found; run scripts/setup.sh" >&2; exit 1; }
# A folder configured by the GCC sanitizer build of earlier versions: CMake cannot switch its
# compiler in place.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang++-14$' "$build/CMakeCache.txt"; then
  echo "test-sanitizers.sh: $build was configured with another compiler; building it afresh" >&2
  rm -rf "$build"
fi
# clang, not GCC: libFuzzer ships with clang, and clang compiles the instrumented code two to
# four times as fast. Line tables are all a sanitizer report needs to name file:line.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -O1"
# - Python module OFF: a sanitized extension cannot be loaded into Debian's non-sanitized
#   /usr/bin/python3 (the ASan runtime must come first in the process), so python_pytest is
#   not registered. Python scripts that only read the tools' output (flow_schema, the CLI's
#   JSON checks, the service-desk mail check) still run.
# - Layer link check OFF: clang puts the sanitizer runtime only into executables, so a layer
#   linked alone as a shared library with --no-undefined misses it. The normal build checks it.
# - Warnings are errors here too: this is where a clang-only warning shows first.
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DESCALON_WERROR=ON -DESCALON_BUILD_TESTS=ON -DESCALON_BUILD_EXAMPLES=ON -DESCALON_BUILD_BENCH=ON \
  -DESCALON_BUILD_FUZZERS=ON -DESCALON_BUILD_PYTHON=OFF -DESCALON_LINKCHECK=OFF
cmake --build "$build"

# Tests left out:
# - install_consumer, install_packages: they build examples/consumer against the installed
#   package (or the unpacked .deb files) with the consumer's own (non-sanitized) flags; the
#   static libescalon.a is instrumented, so that link fails on the missing ASan/UBSan runtime.
#   They check packaging, not memory safety, and run in the normal build. (install_pip is not
#   built here: Python is off.)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
# clang's runtimes leave file:line to llvm-symbolizer (GCC's symbolized reports by themselves).
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
# A leak inside libpq itself, met when a test ends the server session (scripts/lsan.supp says why).
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The crash tests kill their driver at random points; the sanitized driver starts about 7x
# slower, so wait 10x longer before each kill (else every kill lands while it loads the flows).
export ESCALON_CRASH_SLOWDOWN=10
# tests/bad-input/run.py: a case that takes longer than its limit (10 s) times this is a hang.
export ESCALON_SLOWDOWN=6
ctest --test-dir "$build" --output-on-failure --timeout 1800 -j "$(nproc)" -E '^install_(consumer|packages)$'
