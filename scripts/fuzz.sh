#!/usr/bin/env bash
# Builds (when needed) and runs one libFuzzer target for SECONDS on its corpus, then prints the
# number of inputs run, the corpus size and the result. A finding stops the run: the input is
# saved under BUILD/findings/TARGET/ and the script exits non-zero. To keep it as a regression
# input, copy it to fuzz/crashers/TARGET/ (see fuzz/README.md).
# Usage: bash scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#   TARGET: fuzz_flow_loader fuzz_expr fuzz_scenario fuzz_model fuzz_payload fuzz_json_value fuzz_store
#   ESCALON_FUZZ_BUILD=DIR  build folder (default build-fuzz); needs clang-14 (scripts/setup.sh)
#   ESCALON_FUZZ_BUILD_ONLY=1  build every target and gather the seeds, run nothing
#   ESCALON_FUZZ_CORPUS=DIR  where the corpora live (default BUILD/corpus; runs add to them)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(fuzz_flow_loader fuzz_expr fuzz_scenario fuzz_model fuzz_payload fuzz_json_value fuzz_store)
build=${ESCALON_FUZZ_BUILD:-build-fuzz}
corpora=${ESCALON_FUZZ_CORPUS:-$build/corpus}

usage() { echo "usage: bash scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]  (TARGET: ${targets[*]})" >&2; exit 2; }

configure() {
  # The library gets the coverage hooks (fuzzer-no-link) and both sanitizers; only the targets
  # link libFuzzer's main. Warnings are errors, so a clang-only warning is found here first.
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
    -DESCALON_BUILD_FUZZERS=ON -DESCALON_WERROR=ON -DESCALON_BUILD_TESTS=OFF -DESCALON_BUILD_PYTHON=OFF \
    -DESCALON_BUILD_EXAMPLES=OFF -DESCALON_BUILD_BENCH=OFF \
    $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
}

# Builds the targets named, then fills the corpora with the seeds (fuzz/gather_seeds.py) and
# the fuzz_store seed, a store file written by a real run.
build_targets() {
  command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 not found; run scripts/setup.sh" >&2; exit 1; }
  [ -f "$build/CMakeCache.txt" ] && grep -q '^ESCALON_BUILD_FUZZERS:.*=ON' "$build/CMakeCache.txt" || configure
  cmake --build "$build" --target "$@" fuzz_store_seed
  python3 fuzz/gather_seeds.py . "$corpora"
  if [ ! -s "$corpora/fuzz_store/seed.db" ]; then
    mkdir -p "$corpora/fuzz_store"
    ASAN_OPTIONS=detect_leaks=0 "$build/fuzz/fuzz_store_seed" "$corpora/fuzz_store/seed.db"
  fi
}

dict_of() {
  case $1 in
    fuzz_expr) echo fuzz/dict/expr.dict ;;
    fuzz_payload | fuzz_json_value) echo fuzz/dict/json.dict ;;
    fuzz_store) echo "" ;;
    *) echo fuzz/dict/yaml.dict ;;
  esac
}

if [ "${ESCALON_FUZZ_BUILD_ONLY:-0}" = 1 ]; then
  build_targets "${targets[@]}"
  exit 0
fi
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
[[ " ${targets[*]} " == *" $target "* ]] || usage
[[ $seconds =~ ^[0-9]+$ ]] || usage
build_targets "$target"

corpus="$corpora/$target"
findings="$build/findings/$target"
mkdir -p "$corpus" "$findings"
dict=$(dict_of "$target")
log="$build/findings/$target.log"
# - timeout: one input running 10 s is a hang; rss/malloc limit: more than 2 GiB is exhausting
#   the host. Both are findings, like crashes, leaks and sanitizer reports.
# - the corpus folder grows with what the run finds; the seeds stay in the repository.
# UBSan only prints and goes on by default: make each report a finding, with its stack.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Reports name file:line through llvm-symbolizer (llvm-14, scripts/setup.sh).
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
set +e
"$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  ${dict:+-dict=$dict} -artifact_prefix="$findings/" "$@" "$corpus" 2>&1 | tee "$log" | grep -E '^(#[0-9]+ +(INITED|DONE|pulse)|==[0-9]+==|FINDING|SUMMARY|artifact_prefix|Test unit written)|runtime error'
status=${PIPESTATUS[0]}
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "fuzz.sh: $target ran ${execs:-?} inputs (time limit ${seconds}s); corpus $(find "$corpus" -type f | wc -l) files; log $log"
if [ "$status" -ne 0 ]; then
  echo "fuzz.sh: $target FOUND a problem (exit $status); input in $findings/, log $log" >&2
  exit "$status"
fi
echo "fuzz.sh: $target: no finding"
