#!/usr/bin/env bash
# Escalon beside its peers on the workloads of ../shared/peers/README.md (W1 ticket chart, W2
# deadlines), in one run: three rounds, the programs interleaved within each round so that a
# noisy neighbour hurts both sides alike; prints each program's median and the ratios.
# Installs XState (npm, into a temporary folder) and builds the Escalon programs (bench/peers/)
# in Release in build-release/. Paste the output into bench/README.md with the date.
# Then runs the goals that have no peer (load and check a large flow, durable sends, recovery).
# Usage: bash bench/compare.sh [rounds=3]     (ESCALON_RECOVER_CASES=N: fewer cases to recover)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
command -v node >/dev/null && command -v npm >/dev/null || { echo "compare.sh: needs node and npm" >&2; exit 1; }

cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DESCALON_BUILD_BENCH=ON -DESCALON_BUILD_TESTS=OFF \
  -DESCALON_BUILD_PYTHON=OFF -DESCALON_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-release --target w1_ticket w2_timers w1_msm validate_bench store_bench >/dev/null

peer=$(mktemp -d)
trap 'rm -rf "$peer"' EXIT
cp bench/peers/xstate/*.mjs "$peer/"
echo '{"private": true, "type": "module"}' >"$peer/package.json"
(cd "$peer" && npm install --silent --no-audit --no-fund xstate@5.33.3 >/dev/null)

out=$(mktemp)
b=build-release/bench
for r in $(seq "$rounds"); do
  echo "round $r of $rounds" >&2
  node "$peer/w1_ticket.mjs" actor 1000000 100000 >>"$out"
  "$b/w1_ticket" records 1000000 100000 >>"$out"
  "$b/w1_ticket" defaults 1000000 100000 >>"$out"
  "$b/w1_msm" 100000000 >>"$out"
  node "$peer/w2_timers.mjs" 100000 >>"$out"
  "$b/w2_timers" 100000 >>"$out"
done

echo "# $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), node $(node --version)"
python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    j = json.loads(line)
    runs.setdefault((j["peer"], j["workload"]), []).append(j)

def med(peer, workload, key):
    return statistics.median(j[key] for j in runs[(peer, workload)])

xs = med("xstate", "w1-ticket-actor", "events_per_s")
msm = med("boost-msm", "w1-ticket", "events_per_s")
rec = med("escalon", "w1-ticket-records", "events_per_s")
dfl = med("escalon", "w1-ticket-defaults", "events_per_s")
kept = med("escalon", "w1-ticket-defaults", "bytes_per_kept_record")
print(f"W1 ticket chart, events/s (median of {len(runs[('xstate', 'w1-ticket-actor')])}):")
print(f"  XState 5 actor                 {xs:>12,.0f}")
print(f"  Boost.MSM                      {msm:>12,.0f}")
print(f"  Escalon, records not kept      {rec:>12,.0f}   {rec / xs:5.1f}x XState (goal 20x), 1/{msm / rec:.0f} of MSM (goal 1/20)")
print(f"  Escalon, defaults (kept)       {dfl:>12,.0f}   {dfl / xs:5.1f}x XState (goal 10x); {kept:,.0f} bytes per kept record")
xc = med("xstate", "w2-delayed-simclock", "create_per_s")
xf = med("xstate", "w2-delayed-simclock", "fire_per_s")
xm = med("xstate", "w2-delayed-simclock", "heap_used_mb_after_create") * 2**20 / runs[("xstate", "w2-delayed-simclock")][0]["instances"]
ec = med("escalon", "w2-delayed-manualclock", "create_per_s")
ef = med("escalon", "w2-delayed-manualclock", "fire_per_s")
em = med("escalon", "w2-delayed-manualclock", "heap_bytes_per_case")
print("W2 deadlines (100,000 instances):")
print(f"  create/s   XState {xc:>10,.0f}   Escalon {ec:>10,.0f}   {ec / xc:5.1f}x (goal 15x)")
print(f"  fire/s     XState {xf:>10,.0f}   Escalon {ef:>10,.0f}   {ef / xf:5.1f}x (goal 40x)")
print(f"  bytes/case XState {xm:>10,.0f}   Escalon {em:>10,.0f}   1/{xm / em:.1f} (goal 1/8; XState: JS heap used)")
PY
echo "Escalon alone (no peer): load and check a 2,000-step flow (goal <= 0.1 s), durable sends at"
echo "sync=normal against raw SQLite (goal >= 50 % of the raw loop), recovery of 1,000,000 cases (goal <= 5 s)"
"$b/validate_bench" 2000 7
tmp=$(mktemp -d)
"$b/store_bench" events "$tmp" 20000 normal
"$b/store_bench" recover "$tmp" "${ESCALON_RECOVER_CASES:-1000000}"
rm -rf "$tmp"
echo "raw: one JSON line per program and round"
cat "$out"
rm -f "$out"
