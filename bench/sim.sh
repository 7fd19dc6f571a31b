#!/usr/bin/env bash
# The simulator with a queue that keeps growing (bench/sim/overload.yaml): 20, 40 and 80 days.
# The time should double with the days; a queue pick that scans the queue made it grow with
# their square. ESCALON=path/to/escalon picks the binary (default: a Release build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ESCALON:-}" ]; then
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DESCALON_BUILD_BENCH=ON -DESCALON_BUILD_TESTS=OFF >/dev/null
  cmake --build build-release --target escalon_cli
  ESCALON=build-release/src/escalon
fi
for days in 20 40 80; do
  TIMEFORMAT="simulate overload: $days days in %R s"
  time "$ESCALON" simulate bench/sim/flows --model bench/sim/overload.yaml --days "$days" --seed 1 >/dev/null 2>&1
done
