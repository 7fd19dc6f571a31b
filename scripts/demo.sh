#!/usr/bin/env bash
# The main job: build, check the real flows in flows/, draw each as a graph, and run a week of
# technician visits on a virtual clock, kept in out/cases.db (journal in out/journal.jsonl).
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
  echo "== out/$name.svg"
done
echo "== escalon eval (a guard tried against sample data)"
"$escalon" eval --flow flows/technician-visit.yaml --type \
  --data '{"customer": "ACME", "priority": "high", "slot": "2026-11-24T10:00:00Z"}' \
  "priority in [high, urgent] && slot - 2h > 2026-11-24T07:00:00Z"
echo "== escalon run flows/ --scenario examples/scenarios/technician-visit.yaml --db out/cases.db (a week on a virtual clock)"
# The cases are kept in out/cases.db (SQLite); running the demo again continues from it.
"$escalon" run flows/ --scenario examples/scenarios/technician-visit.yaml --db out/cases.db > out/journal.jsonl
echo "== out/journal.jsonl: $(wc -l < out/journal.jsonl) records; the escalations:"
grep -E '"type":"(escalated|sla-warning|sla-breached|expired)"' out/journal.jsonl ||
  echo "(nothing new: out/cases.db already holds this week; delete it to run the week again)"
echo "== escalon inspect --db out/cases.db c1"
"$escalon" inspect --db out/cases.db c1 | head -20
echo "== escalon report --db out/cases.db"
"$escalon" report --db out/cases.db
