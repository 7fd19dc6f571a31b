#!/usr/bin/env bash
# `escalon run --db` killed with SIGKILL while it applies a burst of events that share one
# timestamp, then run again until it finishes: every event is applied exactly once (scenario
# events carry idempotency keys; the old rule "skip events not after the newest stored record"
# lost 19,000 of 30,000 such events). Checks the store with Python's sqlite3.
# Usage: test_run_db_sigkill.sh ESCALON PYTHON [ROUNDS]
set -euo pipefail
escalon=$1
python=$2
rounds=${3:-4}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/flows"
cat >"$dir/flows/desk.yaml" <<'YAML'
flow: desk
data:
  customer: { type: string, required: true }
  notes: { type: int, default: 0 }
start: intake
steps:
  intake:
    role: agent
    on:
      submit: review
  review:
    role: agent
    on:
      note: { to: review, set: { notes: "notes + 1" } }
      close: done
  done:
    end: true
YAML
cases=40 notes=50
"$python" - "$dir/burst.yaml" "$cases" "$notes" <<'PY'
import sys
path, cases, notes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    f.write("clock: 2026-11-23T08:00:00Z\ncases:\n")
    for c in range(cases):
        f.write(f"  - {{ id: c{c}, flow: desk, data: {{ customer: C{c} }} }}\n")
    f.write("events:\n")
    for c in range(cases):
        f.write(f"  - {{ at: 2026-11-23T08:05:00Z, case: c{c}, send: submit }}\n")
    for n in range(notes):  # the burst: every note of every case at 08:10
        for c in range(cases):
            f.write(f"  - {{ at: 2026-11-23T08:10:00Z, case: c{c}, send: note }}\n")
    for c in range(cases):
        f.write(f"  - {{ at: 2026-11-23T08:10:00Z, case: c{c}, send: close }}\n")
PY
db="$dir/cases.db"
count() {
  "$python" -c 'import sqlite3,sys
try: print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute("SELECT count(*) FROM records").fetchone()[0])
except Exception: print(0)' "$db"
}
# Each run is killed once the store holds more records than the round's mark, so every kill hits
# a run midway whatever the machine's speed (a sanitizer build is ~10x slower): the marks fall
# in the burst at 08:10, which starts after about 400 records.
killed=0
counts=""
for round in $(seq 1 "$rounds"); do
  mark=$((round * 1500))
  "$escalon" run "$dir/flows" --scenario "$dir/burst.yaml" --db "$db" >"$dir/run.out" 2>"$dir/run.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(count)" -ge "$mark" ]; then
      kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
      break
    fi
    sleep 0.05
  done
  wait "$pid" 2>/dev/null || true
  counts="$counts $(count)"
done
"$escalon" run "$dir/flows" --scenario "$dir/burst.yaml" --db "$db" >"$dir/run.out" 2>"$dir/run.err" ||
  { echo "FAIL: the last run failed:"; cat "$dir/run.err"; exit 1; }
"$python" - "$db" "$cases" "$notes" <<'PY'
import json, sqlite3, sys
db, cases, notes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
bad = []
for c in range(cases):
    rows = [json.loads(j) for (j,) in con.execute("SELECT json FROM records WHERE case_id = ? ORDER BY seq", (f"c{c}",))]
    events = [r.get("event") for r in rows if r["type"] == "event"]
    want = ["submit"] + ["note"] * notes + ["close"]
    if events != want:
        bad.append(f"c{c}: {len(events)} events ({events.count('note')} notes), expected {len(want)}")
    if any(r["type"] == "rejected" for r in rows):
        bad.append(f"c{c}: a rejected record: {[r.get('message') for r in rows if r['type'] == 'rejected'][:1]}")
seqs = [s for (s,) in con.execute("SELECT seq FROM records ORDER BY seq")]
if seqs != list(range(1, len(seqs) + 1)):
    bad.append("record numbers have gaps or duplicates")
if bad:
    print("FAIL:", *bad[:10], sep="\n  ")
    sys.exit(1)
print(f"ok: {cases} cases, {cases * (notes + 2)} events, each applied once; {len(seqs)} records")
PY
total=$(count)
echo "killed $killed of $rounds runs; records after each kill:$counts; at the end: $total"
# The test means something only if a kill hit a run in the middle of its work.
partial=0
for c in $counts; do if [ "$c" -gt 0 ] && [ "$c" -lt "$total" ]; then partial=1; fi; done
[ "$partial" = 1 ] || { echo "FAIL: no kill interrupted a run midway (raise ESCALON_CRASH_SLOWDOWN or the events)"; exit 1; }
