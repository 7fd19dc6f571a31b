#!/usr/bin/env bash
# The main job: build, check the real flows in flows/ and draw each as a graph, then simulate a
# month (30 days) of technician visits at the Zagreb office into a SQLite store and print the
# KPI report. Writes out/simulation.db, out/simulation.html (charts) and out/*.svg (graphs).
# Usage: bash scripts/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target escalon_cli
escalon="$build/src/escalon"
echo "== escalon validate flows/"
"$escalon" validate flows/
mkdir -p out
for f in flows/*.yaml; do
  name=$(basename "$f" .yaml)
  "$escalon" graph "$f" -o "out/$name.dot"
  dot -Tsvg "out/$name.dot" -o "out/$name.svg"
done
echo "== graphs: $(ls out/*.svg | tr '\n' ' ')"
# A simulation writes into a fresh store: the previous run's file goes first.
rm -f out/simulation.db out/simulation.db-wal out/simulation.db-shm
echo "== escalon simulate flows/ --model examples/models/technician-visit.yaml --days 30 --db out/simulation.db"
"$escalon" simulate flows/ --model examples/models/technician-visit.yaml --days 30 --seed 1 \
  --db out/simulation.db --html out/simulation.html
echo "== escalon inspect --db out/simulation.db technician-visit-1 (the first case's history)"
"$escalon" inspect --db out/simulation.db technician-visit-1 | head -25
