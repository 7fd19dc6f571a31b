#!/usr/bin/env python3
"""Several engine processes on one PostgreSQL database, one killed with SIGKILL now and then.

    run_sigkill.py DRIVER CHECK FLOW DB [--procs 4] [--cases 2000] [--kills 6] [--seconds 40]

PROCS shared_driver processes start CASES ladder cases between them and send `note` events to
random cases (each process to all cases) while the test moves a clock file they all read,
14 hours of flow time in SECONDS of real time, so every case's ten rungs and three repeats
fall due while events arrive. KILLS times a random process is killed with SIGKILL and started
again. Then the processes stop, the clock jumps a day ahead, `shared_driver finish` fires
whatever is still due, and shared_check proves each point fired once, none is missing, every
acknowledged note is in the journal once and each stored case is the replay of its journal.
"""
import argparse
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time

T0 = 1796112000 * 1000  # 2026-12-01T08:00:00Z in milliseconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("driver")
    ap.add_argument("check")
    ap.add_argument("flow")
    ap.add_argument("db")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    print(f"run_sigkill: seed {a.seed}, {a.procs} processes, {a.cases} cases, {a.kills} kills", flush=True)
    work = tempfile.mkdtemp(prefix="escalon-shared-")
    clock = os.path.join(work, "clock")
    fd = os.open(clock, os.O_RDWR | os.O_CREAT, 0o644)

    def set_clock(ms):
        os.pwrite(fd, struct.pack("<q", ms), 0)

    set_clock(T0)
    acks = [os.path.join(work, f"acks-{i}") for i in range(a.procs)]

    def spawn(i):
        return subprocess.Popen([a.driver, a.db, a.flow, str(i), str(a.procs), str(a.cases), clock, acks[i],
                                 str(rng.getrandbits(32))])

    procs = [spawn(i) for i in range(a.procs)]
    flow_span = 14 * 3600 * 1000
    kill_at = sorted(rng.uniform(0.1, 0.9) * a.seconds for _ in range(a.kills))
    start = time.monotonic()
    kills = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= a.seconds:
            break
        set_clock(T0 + int(flow_span * elapsed / a.seconds))
        for i, p in enumerate(procs):
            if p.poll() is not None:
                sys.exit(f"run_sigkill: process {i} stopped by itself with {p.returncode}")
        if kill_at and elapsed >= kill_at[0]:
            kill_at.pop(0)
            i = rng.randrange(a.procs)
            procs[i].send_signal(signal.SIGKILL)
            procs[i].wait()
            kills += 1
            procs[i] = spawn(i)
        time.sleep(0.02)
    set_clock(0)  # the drivers stop at their next round
    for i, p in enumerate(procs):
        if p.wait(timeout=120) != 0:
            sys.exit(f"run_sigkill: process {i} ended with {p.returncode}")
    set_clock(T0 + 24 * 3600 * 1000)
    subprocess.run([a.driver, a.db, a.flow, "finish", clock], check=True)
    print(f"run_sigkill: {kills} processes killed and restarted", flush=True)
    return subprocess.run([a.check, a.db, a.flow, str(a.cases)] + acks).returncode


if __name__ == "__main__":
    sys.exit(main())
