#!/usr/bin/env bash
# End-to-end checks of the `escalon` command line: exit codes, gcc-style diagnostics, JSON,
# graph output that Graphviz renders, eval results and errors, --help everywhere.
# Usage: test_cli.sh PATH/TO/escalon SOURCE_DIR
set -u
bin=$1
src=$2
cd "$src" || exit 1
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {  # check NAME EXPECTED_EXIT EXPECTED_SUBSTRING -- command...
  local name=$1 want_rc=$2 want=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want_rc" ] || [[ "$out" != *"$want"* ]]; then
    echo "FAIL $name: exit $rc (wanted $want_rc); output:"
    echo "$out" | head -20
    echo "  wanted to contain: $want"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

check "validate flows/" 0 "0 errors" -- "$bin" validate flows/
check "validate valid examples" 0 "valid flows: 0 errors, 0 warnings" -- "$bin" validate tests/flows/valid
check "validate invalid file" 1 "tests/flows/invalid/undefined-target.yaml:6:13: error: unknown step 'closd' in \`to\`; did you mean 'closed'?" \
  -- "$bin" validate tests/flows/invalid/undefined-target.yaml
check "validate reports every file" 1 "$(ls tests/flows/invalid/*.yaml | wc -l) files, 0 valid flows" -- "$bin" validate tests/flows/invalid
check "validate missing path" 1 "no such file or folder" -- "$bin" validate does/not/exist.yaml
check "validate --strict turns warnings into errors" 1 "error: calendar 'office' is never used" \
  -- "$bin" validate --strict tests/flows/invalid/unknown-calendar.yaml
check "validate --json" 0 '"ok": true' -- "$bin" validate --json flows/
out=$("$bin" validate --json tests/flows/invalid/sla-bad.yaml 2>/dev/null)
if echo "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] is False and d["errors"]==2; x=d["diagnostics"][0]; assert (x["line"],x["column"],x["severity"])==(8,53,"error"), x' ; then
  pass=$((pass + 1)); else echo "FAIL validate --json structure"; fail=$((fail + 1)); fi

check "graph dot" 0 "digraph G {" -- "$bin" graph flows/technician-visit.yaml
check "graph by id" 0 'label="Technician visit (v1)"' -- "$bin" graph technician-visit --path flows
check "graph mermaid" 0 "flowchart LR" -- "$bin" graph flows/technician-visit.yaml --format mermaid
check "graph bad format" 105 "not in" -- "$bin" graph flows/technician-visit.yaml --format png
check "graph invalid flow" 1 "error: unknown step 'closd'" -- "$bin" graph tests/flows/invalid/undefined-target.yaml
check "graph unknown id" 1 "no valid flow 'nope'" -- "$bin" graph nope --path flows
if command -v dot >/dev/null; then
  for f in flows/*.yaml tests/flows/valid/*.yaml; do
    "$bin" graph "$f" -o "$tmp/g.dot" >/dev/null 2>&1 || continue   # libraries have no graph
    if dot -Tsvg "$tmp/g.dot" -o "$tmp/g.svg" && grep -q "<svg" "$tmp/g.svg"; then pass=$((pass + 1)); else
      echo "FAIL dot -Tsvg on $f"; fail=$((fail + 1)); fi
  done
else
  echo "FAIL graphviz 'dot' is not installed (scripts/setup.sh installs it)"; fail=$((fail + 1))
fi

check "eval arithmetic" 0 "7" -- "$bin" eval '1 + 2 * 3'
check "eval enum context" 0 "true" -- "$bin" eval --flow flows/technician-visit.yaml --data '{"customer":"ACME","priority":"high"}' 'priority == high'
check "eval datetime" 0 '"2026-11-24T08:00:00Z"' -- "$bin" eval --data '{"slot":"2026-11-24T10:00:00Z"}' 'slot - 2h'
check "eval now" 0 '"2026-11-23T08:00:00Z"' -- "$bin" eval --now 2026-11-23T08:00:00Z 'now()'
check "eval business hours" 0 '"5h"' -- "$bin" eval --flow flows/technician-visit.yaml \
  --data '{"customer":"x","slot":"2026-11-27T13:00:00Z"}' --now 2026-11-30T09:00:00Z "business_hours_between(slot, now()) + 1h"
check "eval type" 0 "type: datetime" -- "$bin" eval --type --data '{"slot":"2026-11-24T10:00:00Z"}' 'slot + 1d'
check "eval date" 0 'true' -- "$bin" eval --now 2026-06-01T12:00:00Z --data '{"bought":"2024-02-29"}' 'today() - bought > 730 days'
check "eval date type" 0 "type: date" -- "$bin" eval --type --data '{"bought":"2024-02-29"}' 'bought + 1 day'
check "eval today in the flow calendar's zone" 0 '"2027-01-01"' -- "$bin" eval --flow flows/technician-visit.yaml --now 2026-12-31T23:30:00Z 'today()'
check "eval today in UTC" 0 '"2026-12-31"' -- "$bin" eval --now 2026-12-31T23:30:00Z 'today()'
check "eval date and datetime" 1 "cannot order date and datetime; take the day of the datetime with date(x)" -- "$bin" eval 'today() < now()'
check "eval syntax error with caret" 1 "<expr>:1:7: error: unexpected '='; compare with '=='" -- "$bin" eval --data '{"count":1}' 'count = 1'
check "eval unknown name" 1 "unknown name 'coutn'; did you mean 'count'?" -- "$bin" eval --data '{"count":1}' 'coutn > 0'
check "eval bad json" 1 "--data is not valid JSON" -- "$bin" eval --data '{oops' '1'
check "eval leading minus after --" 0 "-3" -- "$bin" eval -- '-(1 + 2)'
check "eval wrong data type for flow" 1 "priority: \"hgh\" is not one of normal, high, urgent" \
  -- "$bin" eval --flow flows/technician-visit.yaml --data '{"priority":"hgh"}' 'priority'
check "eval runtime error" 1 "division by zero" -- "$bin" eval --data '{"n":0}' '1 / n'

check "run scenario" 0 '"case":"c1","type":"completed","step":"closed"' -- "$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml
check "run summary" 0 "c2: technician-visit v1, completed at closed-no-reply" -- "$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml
check "run refused event" 0 "refused: examples/scenarios/technician-visit.yaml:24:5: step 'waiting-customer' of case 'c2' does not handle event 'booked'" \
  -- "$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml
check "run refusal reason" 0 "refused: examples/scenarios/warranty-repair.yaml:12:5: event 'submit' in step 'intake' refused: consent to data processing is required" \
  -- "$bin" run flows/ --scenario examples/scenarios/warranty-repair.yaml
check "run stage cancel" 0 "w3: warranty-repair v1, completed at cancelled (cancelled)" -- "$bin" run flows/ --scenario examples/scenarios/warranty-repair.yaml
check "run stage records" 0 '"case":"w3","type":"stage-left","step":"book-courier","target":"before-repair"' \
  -- "$bin" run flows/ --scenario examples/scenarios/warranty-repair.yaml
a=$("$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml 2>/dev/null | md5sum)
b=$("$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml 2>/dev/null | md5sum)
if [ "$a" = "$b" ]; then pass=$((pass + 1)); else echo "FAIL run is not deterministic"; fail=$((fail + 1)); fi
if "$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml 2>/dev/null | /usr/bin/python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert all({"seq", "at", "case", "type"} <= r.keys() for r in recs)
assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
assert any(r["type"] == "escalated" and r.get("level") == 1 for r in recs)
'; then pass=$((pass + 1)); else echo "FAIL run journal is not valid JSON Lines"; fail=$((fail + 1)); fi
printf 'clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: nope }\nevents:\n  - { at: 2026-11-23, case: c9, send: x }\n' > "$tmp/bad.yaml"
check "run bad scenario" 1 "bad.yaml:5:11: error: \`at\` '2026-11-23' is not an instant" -- "$bin" run flows/ --scenario "$tmp/bad.yaml"
check "run bad scenario case" 1 "bad.yaml:5:29: error: unknown case 'c9'; list it under" -- "$bin" run flows/ --scenario "$tmp/bad.yaml"
check "run unknown flow" 0 "refused: $tmp/bad2.yaml" -- bash -c "printf 'clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: nope }\n' > $tmp/bad2.yaml; $bin run flows/ --scenario $tmp/bad2.yaml"

first=$("$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml --db "$tmp/cases.db" 2>/dev/null | wc -l)
second=$("$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml --db "$tmp/cases.db" 2>"$tmp/second.err" | wc -l)
if [ "$first" -gt 50 ] && [ "$second" -eq 0 ] && grep -q "case 'c1' is already in the store" "$tmp/second.err"; then pass=$((pass + 1)); else
  echo "FAIL run --db twice: $first then $second records"; cat "$tmp/second.err"; fail=$((fail + 1)); fi
check "inspect after run --db" 0 "0 open cases in $tmp/cases.db" -- "$bin" inspect --db "$tmp/cases.db"
check "inspect a case" 0 "c1 (38 records), times in Europe/Zagreb" -- "$bin" inspect --db "$tmp/cases.db" c1
# Local time of the flow's calendar by default (Zagreb is UTC+1 in November), or --tz.
check "inspect local time" 0 "  2026-11-23T09:05:00+01:00  intake           event submit by agent-17 via phone" -- "$bin" inspect --db "$tmp/cases.db" c1
check "inspect --tz UTC" 0 "  2026-11-23T08:05:00Z  intake           event submit by agent-17 via phone" -- "$bin" inspect --db "$tmp/cases.db" c1 --tz UTC
check "inspect --tz a zone" 0 "  2026-11-23T03:05:00-05:00  intake" -- "$bin" inspect --db "$tmp/cases.db" c1 --tz America/New_York
check "inspect --tz misspelt" 105 "--tz: unknown time zone 'Europe/Zagrb' (did you mean Europe/Zagreb?); use an IANA name such as Europe/Zagreb, or UTC" \
  -- "$bin" inspect --db "$tmp/cases.db" c1 --tz Europe/Zagrb
check "run --db on a text file" 1 "is not an SQLite file" -- "$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml --db "$tmp/bad.yaml"

# Figures checked by hand against examples/scenarios/technician-visit.yaml: 8 step deadlines
# decided, 4 in time: c1 missed order-parts, c2 missed schedule, c2's waiting-customer expired
# (the expiry is a miss, it counted as met before), and the sub-flow c1/order-parts was
# cancelled in order-by-hand a day after its due time (missed; left out before); level 1 fired
# 4 times (c2 schedule, c1 order-parts, c1 SLA, the sub-flow's order-by-hand), level 2 once;
# intake took 5 and 10 minutes.
check "report deadlines" 0 "Deadlines: 8 ended, 4 met (50%)" -- "$bin" report --db "$tmp/cases.db"
check "report escalations" 0 "Escalations: level 1: 4, level 2: 1 (repeats: 0)" -- "$bin" report --db "$tmp/cases.db"
check "report fcr" 0 "First-contact resolution: 0 of 1 resolved cases (0%); 1 ended unresolved (fail: true), left out" -- "$bin" report --db "$tmp/cases.db"
check "report csv" 0 "escalations,level 1,4" -- "$bin" report --db "$tmp/cases.db" --csv
if "$bin" report --db "$tmp/cases.db" --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["cases"]["opened"] == 2 and d["slas"]["resolution"] == {"met": 1, "breached": 1, "warnings": 1, "stopped": 0, "not_applicable": 0, "open": 0, "percent_met": 50.0}, d
assert d["deadlines"] == {"ended": 8, "met": 4, "percent": 50.0} and d["unreadable_flows"] == [], d
s = d["time_per_step"]["technician-visit/intake"]
assert s["visits"] == 2 and s["mean_s"] == 450 and s["p90_s"] == 600, s
'; then pass=$((pass + 1)); else echo "FAIL report --json"; fail=$((fail + 1)); fi
check "report local time" 0 "Escalon report: 2026-11-23T09:00:00+01:00 .. 2026-11-27T15:30:00+01:00 (71 records; times in Europe/Zagreb)" \
  -- "$bin" report --db "$tmp/cases.db"
check "report --tz UTC" 0 "Escalon report: 2026-11-23T08:00:00Z .. 2026-11-27T14:30:00Z (71 records; times in UTC)" \
  -- "$bin" report --db "$tmp/cases.db" --tz UTC
check "report --json stays UTC" 0 '"from": "2026-11-23T08:00:00Z"' -- "$bin" report --db "$tmp/cases.db" --json --tz Europe/Warsaw
check "report bad --tz" 105 "--tz: unknown time zone 'CET+1'" -- "$bin" report --db "$tmp/cases.db" --tz CET+1
printf 'clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: x, flow: repair }\n  - { id: y, flow: technician-visit, data: { customer: ACME } }\n' > "$tmp/two-zones.yaml"
"$bin" run flows/ tests/reports/repair.yaml --scenario "$tmp/two-zones.yaml" --db "$tmp/two-zones.db" >/dev/null 2>&1
check "report with flows in two zones" 0 "escalon report: times in UTC: the cases' flows have calendars in 2 zones (Europe/Budapest, Europe/Zagreb); --tz picks one" \
  -- "$bin" report --db "$tmp/two-zones.db"
check "report bad --at" 1 "is not an ISO-8601 instant" -- "$bin" report --db "$tmp/cases.db" --at tomorrow
# Read-only commands never create or write a store: a misspelt path is an error, and no file appears.
check "report misspelt --db" 1 "does not exist; a read-only store (?mode=ro) is not created" -- "$bin" report --db "$tmp/casse.db"
check "inspect misspelt --db" 1 "does not exist" -- "$bin" inspect --db "$tmp/casse.db"
if [ -e "$tmp/casse.db" ] || [ -e "$tmp/casse.db-lock" ]; then echo "FAIL a read-only command created a file"; fail=$((fail + 1)); else pass=$((pass + 1)); fi
# ... and they read a store that is read-only on disk.
chmod a-w "$tmp/cases.db"
check "report a read-only file" 0 "Cases: opened" -- "$bin" report --db "$tmp/cases.db"
chmod u+w "$tmp/cases.db"

# Simulation: every flow in flows/ has a model, and every model runs without refused events.
for flow in flows/*.yaml; do
  name=$(basename "$flow" .yaml)
  if [ -f "examples/models/$name.yaml" ]; then pass=$((pass + 1)); else echo "FAIL flow $name has no model in examples/models/"; fail=$((fail + 1)); fi
done
for model in examples/models/*.yaml; do
  check "simulate $(basename "$model")" 0 "refused: 0;" -- "$bin" simulate flows/ --model "$model" --days 7
done
check "simulate into sqlite" 0 "Arrivals: technician-visit" -- "$bin" simulate flows/ --model examples/models/technician-visit.yaml --days 3 --db "$tmp/sim.db" --html "$tmp/sim.html"
check "report on the simulated store" 0 "Cases: opened" -- "$bin" report --db "$tmp/sim.db"
check "simulate refuses a used store" 1 "already holds" -- "$bin" simulate flows/ --model examples/models/technician-visit.yaml --days 3 --db "$tmp/sim.db"
if grep -q "<svg" "$tmp/sim.html" && grep -q "Backlog over time" "$tmp/sim.html"; then pass=$((pass + 1)); else echo "FAIL simulate --html"; fail=$((fail + 1)); fi
# What-if on real history: the simulated store's cases replayed, alone and against a model
# with one technician fewer.
sed 's/technician:   { agents: 12/technician:   { agents: 11/' examples/models/technician-visit.yaml >"$tmp/one-fewer.yaml"
check "simulate --replay" 0 "(replayed from a store: " -- "$bin" simulate flows/ --model examples/models/technician-visit.yaml --replay "$tmp/sim.db"
check "simulate --replay --compare" 0 "technician: agents" -- "$bin" simulate flows/ --model examples/models/technician-visit.yaml \
  --replay "$tmp/sim.db" --compare "$tmp/one-fewer.yaml" --html "$tmp/compare.html"
if grep -q "compared" "$tmp/compare.html" && grep -q "<svg" "$tmp/compare.html"; then pass=$((pass + 1)); else echo "FAIL simulate --compare --html"; fail=$((fail + 1)); fi
check "simulate --replay of a stretch without cases" 1 "no case started from 2030-01-01T00:00:00Z" -- "$bin" simulate flows/ \
  --model examples/models/technician-visit.yaml --replay "$tmp/sim.db" --from 2030-01-01T00:00:00Z
check "simulate --from without --replay" 1 "give --replay too" -- "$bin" simulate flows/ --model examples/models/technician-visit.yaml --from 2030-01-01T00:00:00Z
a=$("$bin" simulate flows/ --model examples/models/complaint.yaml --days 5 --seed 3)
b=$("$bin" simulate flows/ --model examples/models/complaint.yaml --days 5 --seed 3)
c=$("$bin" simulate flows/ --model examples/models/complaint.yaml --days 5 --seed 4)
if [ "$a" == "$b" ] && [ "$a" != "$c" ]; then pass=$((pass + 1)); else echo "FAIL simulate is not deterministic per seed"; fail=$((fail + 1)); fi
printf 'model: m\nstart: 2026-11-30T00:00:00Z\narrivals:\n  complaint: { per_day: 5 }\nsteps:\n  complaint/nwe:\n    work: 5m\n    events: [ { send: assign } ]\n' > "$tmp/bad-model.yaml"
check "simulate bad model" 1 "bad-model.yaml:6:3: error: flow 'complaint' has no step 'nwe'; did you mean 'new'?" -- "$bin" simulate flows/ --model "$tmp/bad-model.yaml"

# Hardening: files that are not regular files are refused at once (a FIFO open would block,
# /dev/zero never ends); invalid UTF-8 is a located error, and --json stays valid JSON.
check "validate /dev/zero" 1 "/dev/zero: error: '/dev/zero' is a character device; flows, scenarios and models are read from regular YAML files" \
  -- timeout 10 "$bin" validate /dev/zero
mkfifo "$tmp/pipe.yaml"
check "validate a FIFO" 1 "$tmp/pipe.yaml: error: '$tmp/pipe.yaml' is a FIFO (named pipe)" -- timeout 10 "$bin" validate "$tmp/pipe.yaml"
check "run a FIFO scenario" 1 "cannot read the scenario file: '$tmp/pipe.yaml' is a FIFO (named pipe)" \
  -- timeout 10 "$bin" run flows/ --scenario "$tmp/pipe.yaml"
printf 'flow: u\ntitle: "Z\xfcrich"\n' > "$tmp/latin1.yaml"
check "validate invalid UTF-8" 1 "latin1.yaml:2:10: error: invalid UTF-8 (byte 0xFC); YAML files are UTF-8 text: save the file as UTF-8" \
  -- "$bin" validate "$tmp/latin1.yaml"
out=$("$bin" validate --json "$tmp/latin1.yaml" 2>/dev/null)
if echo "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); x=d["diagnostics"][0]; assert d["ok"] is False and (x["line"],x["column"])==(2,10) and x["message"].startswith("invalid UTF-8 (byte 0xFC)"), x'; then
  pass=$((pass + 1)); else echo "FAIL validate --json on invalid UTF-8: $out"; fail=$((fail + 1)); fi
printf 'clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: technician-visit, data: { customer: "\xff" } }\n' > "$tmp/utf8-scenario.yaml"
check "run a scenario with invalid UTF-8" 1 "utf8-scenario.yaml:3:58: error: invalid UTF-8 (byte 0xFF)" \
  -- "$bin" run flows/ --scenario "$tmp/utf8-scenario.yaml"
printf 'model: m\ndescription: "\xff"\n' > "$tmp/utf8-model.yaml"
check "simulate a model with invalid UTF-8" 1 "utf8-model.yaml:2:15: error: invalid UTF-8 (byte 0xFF)" \
  -- "$bin" simulate flows/ --model "$tmp/utf8-model.yaml"
printf 'flow: n\ntitle: "a\0b"\n' > "$tmp/nul.yaml"
check "validate a NUL byte" 1 'nul.yaml:2:10: error: NUL byte (\0); YAML files are text' -- "$bin" validate "$tmp/nul.yaml"
mkdir -p "$tmp/conf"
printf 'flow: c\ninclude: [/etc/passwd]\nstart: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n' > "$tmp/conf/c.yaml"
check "validate an include outside the folder" 1 "c.yaml:2:11: error: include '/etc/passwd': '/etc/passwd' resolves to '/etc/passwd', outside the folders being loaded" \
  -- "$bin" validate "$tmp/conf/c.yaml"

# Symlink loops, FIFOs and folders where a file is named: a located error, no uncaught
# filesystem_error, no command that waits forever on a FIFO (timeout: a hang fails the check).
mkdir -p "$tmp/odd"
ln -s loop.yaml "$tmp/odd/loop.yaml"
mkfifo "$tmp/odd/fifo.db"
check "graph a symlink loop" 1 "loop.yaml: error: too many levels of symbolic links (a symlink loop?); point the link at a file" \
  -- timeout 20 "$bin" graph "$tmp/odd/loop.yaml"
check "inspect a FIFO store" 1 "escalon inspect: $tmp/odd/fifo.db is not a regular file (a FIFO, device or socket); a store is a SQLite file: give another path" \
  -- timeout 20 "$bin" inspect --db "$tmp/odd/fifo.db"
check "report a FIFO store" 1 "escalon report: $tmp/odd/fifo.db is not a regular file (a FIFO, device or socket)" \
  -- timeout 20 "$bin" report --db "$tmp/odd/fifo.db"
check "run into a FIFO store" 1 "escalon run: $tmp/odd/fifo.db is not a regular file (a FIFO, device or socket)" \
  -- timeout 20 "$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml --db "$tmp/odd/fifo.db"
check "inspect a symlink loop store" 1 "escalon inspect: $tmp/odd/loop.yaml: too many levels of symbolic links (a symlink loop?)" \
  -- timeout 20 "$bin" inspect --db "$tmp/odd/loop.yaml"

check "--help" 0 "validate" -- "$bin" --help
# The run summary reads SLAs from the records, as `report` counts them (tests/reports/repair-scenario.yaml).
check "run summary: SLA stopped on a closed case" 0 "b: repair v1, completed at refused (refused), 10 records, SLA resolution stopped, SLA workshop-ola not applicable" \
  -- "$bin" run tests/reports/repair.yaml --scenario tests/reports/repair-scenario.yaml --db "$tmp/repair.db"
check "run summary: SLA of an open case" 0 "g: repair v1, active at quote, 12 records, SLA resolution running, SLA workshop-ola breached" \
  -- "$bin" run tests/reports/repair.yaml --scenario tests/reports/repair-scenario.yaml
check "report: first contact leaves out fail: true ends" 0 "First-contact resolution: 1 of 2 resolved cases (50%); 3 ended unresolved (fail: true), left out" \
  -- "$bin" report --db "$tmp/repair.db"

for sub in validate graph eval run inspect report simulate; do check "$sub --help" 0 "Usage" -- "$bin" "$sub" --help; done
# ctest passes the CMake project version; the CLI must print exactly that.
if [ -z "${ESCALON_VERSION:-}" ]; then
  echo "FAIL --version: ESCALON_VERSION is not set (ctest sets it from project(VERSION))"; fail=$((fail + 1))
else
  check "--version" 0 "escalon $ESCALON_VERSION" -- "$bin" --version
  out=$("$bin" --version)
  if [ "$out" == "escalon $ESCALON_VERSION" ]; then pass=$((pass + 1)); else echo "FAIL --version printed '$out', wanted 'escalon $ESCALON_VERSION'"; fail=$((fail + 1)); fi
fi
check "no subcommand" 106 "A subcommand is required" -- "$bin"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
