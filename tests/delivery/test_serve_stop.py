#!/usr/bin/env python3
"""`escalon serve` starts, says so, delivers, and stops cleanly: exit 0 on SIGTERM and on SIGINT
with its stop line, the store closed (another serve can open it at once, and the cases are all
there); while a slow channel holds it, a second signal exits at once (143) and the next serve
delivers what was left; a second serve on the same SQLite file while the first runs is refused with a message
naming the lock; option, flow and store errors exit 2, 1 and 1.

Usage: test_serve_stop.py ESCALON FLOW
Needs no aiosmtpd (only the webhook sink, http.server). Exit 0 when every check passes, 1 when
one fails.
"""
import datetime
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sinks import WebhookSink  # noqa: E402

if len(sys.argv) < 3:
    sys.exit(__doc__)
ESCALON, FLOW = sys.argv[1], sys.argv[2]
failures = []


def expect(name, ok, detail=""):
    if not ok:
        failures.append("%s %s" % (name, detail))


def start(db, hook, tmp, wait=True):
    err = open(os.path.join(tmp, "serve-%d.err" % time.monotonic_ns()), "w+")
    p = subprocess.Popen([ESCALON, "serve", "--db", db, "--flows", FLOW,
                          "--webhook", "http://127.0.0.1:%d/" % hook.port], stdout=subprocess.DEVNULL, stderr=err)
    # Signals are blocked (and so taken by serve's sigwait) once it is running: wait for that.
    if wait and not wait_for(lambda: "running until SIGTERM" in open(err.name).read()):
        failures.append("serve did not start: %s" % open(err.name).read())
    return p, err


def wait_for(what, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if what():
            return True
        time.sleep(0.1)
    return False


def stop(p, err, sig, name):
    """Sends `sig`; expects exit 0 and the stop line."""
    p.send_signal(sig)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "none (hung; killed)"
    err.seek(0)
    text = err.read()
    expect(name + ": exit 0", rc == 0, "got %s; stderr: %s" % (rc, text))
    wanted = "escalon serve: stopped on %s" % name
    expect(name + ": stop line", wanted in text, "wanted %r in %r" % (wanted, text))
    return text


def run(args):
    return subprocess.run([ESCALON, "serve"] + args, capture_output=True, text=True, timeout=30)


def usage_errors(tmp, db):
    """Exit 2 for channel options, 1 for bad flows and stores: scripts can tell them apart."""
    for args, want in [(["--notify", "smtp://127.0.0.1:1"], "--notify needs --from"),
                       (["--notify", "smtp://127.0.0.1:1", "--from", "a@b.hr"], "--notify needs --directory"),
                       (["--notify", "http://x"], "not an smtp://"),
                       (["--webhook", "ftp://x"], "not an http://"),
                       (["--from", "a@b.hr"], "give --notify"),
                       (["--notify", "smtp://127.0.0.1:1", "--from", "a@b.hr", "--directory",
                         os.path.join(tmp, "missing.yaml")], "--directory: ")]:
        r = run(["--db", db, "--flows", FLOW] + args)
        expect("option error %s: exit 2" % args, r.returncode == 2, "got %d: %s" % (r.returncode, r.stderr))
        expect("option error %s: message" % args, want in r.stderr and "--help" in r.stderr, r.stderr)
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("flow: bad\nstart: a\nsteps:\n  a: { on: { go: { to: nowhere } } }\n")
    r = run(["--db", db, "--flows", bad])
    expect("bad flow: exit 1", r.returncode == 1, "got %d: %s" % (r.returncode, r.stderr))
    expect("bad flow: diagnostics", "bad.yaml:" in r.stderr and "error:" in r.stderr, r.stderr)
    r = run(["--db", os.path.join(tmp, "no", "such", "dir", "x.db"), "--flows", FLOW])
    expect("store error: exit 1", r.returncode == 1, "got %d: %s" % (r.returncode, r.stderr))
    expect("store error: message", r.stderr.startswith("escalon serve: "), r.stderr)


def outbox_size(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        con.close()


def interrupt_twice(db, hook, tmp, recovering):
    """A slow webhook (1 s a request). `recovering`: the notifications fell due while nothing
    ran, so recover() delivers them all before the start line: SIGTERM, then serve says it
    waits; a second SIGTERM exits at once (143). Else the runner delivers them queue by queue
    and stops between queues: SIGTERM stops it cleanly (0) after the queue in delivery. Either
    way the next serve delivers what was left."""
    name = "recovery" if recovering else "batch"
    hook.delay = lambda: 1.0
    before = len(hook.requests)
    p, err = start(db, hook, tmp, wait=not recovering)
    expect(name + ": a delivery starts", wait_for(lambda: len(hook.requests) > before))
    p.send_signal(signal.SIGTERM)
    if recovering:
        expect(name + ": says it waits", wait_for(lambda: "waiting for the recovery" in open(err.name).read(), 5),
               open(err.name).read())
        p.send_signal(signal.SIGTERM)
    want, what = (143, "second SIGTERM exits 143 at once") if recovering else (0, "SIGTERM stops after the queue in delivery")
    t = time.monotonic()
    try:
        rc = p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "none (hung; killed)"
    expect(name + ": " + what, rc == want and time.monotonic() - t < 3, "got %s after %.1f s" % (rc, time.monotonic() - t))
    expect(name + ": entries left for the next start", outbox_size(db) > 0)
    hook.delay = None
    p, err = start(db, hook, tmp)
    expect(name + ": the next serve delivers the rest", wait_for(lambda: outbox_size(db) == 0))
    stop(p, err, signal.SIGTERM, "SIGTERM")


def second_signal(tmp, hook):
    db = os.path.join(tmp, "slow.db")
    create_cases(tmp, db, ["w%d" % i for i in range(8)], 3)  # first rungs 3 s from now
    interrupt_twice(db, hook, tmp, recovering=False)
    db = os.path.join(tmp, "backlog.db")
    create_cases(tmp, db, ["b%d" % i for i in range(8)], 1)  # rungs at 1 s and 2 s from now
    time.sleep(2.5)  # they fall due while nothing runs: recover() delivers them
    interrupt_twice(db, hook, tmp, recovering=True)


def create_cases(tmp, db, ids, first_rung):
    """Cases due 4 * first_rung seconds from now (the first rung is at 25%)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    due = (now + datetime.timedelta(seconds=4 * first_rung)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scenario = os.path.join(tmp, "s-%d.yaml" % time.monotonic_ns())
    with open(scenario, "w") as f:
        f.write("clock: %s\ncases:\n" % now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for i in ids:
            f.write("  - { id: %s, flow: quick-ladder, data: { due: %s } }\n" % (i, due))
    subprocess.run([ESCALON, "run", FLOW, "--scenario", scenario, "--db", db, "-q"],
                   check=True, stdout=subprocess.DEVNULL)


def main():
    tmp = tempfile.mkdtemp(prefix="escalon-serve-stop-")
    db = os.path.join(tmp, "cases.db")
    hook = WebhookSink().start()
    try:
        usage_errors(tmp, db)
        create_cases(tmp, db, ["s1"], 1)  # its first rung fires 1 s after the start

        p, err = start(db, hook, tmp)
        expect("start line", wait_for(lambda: "running until SIGTERM" in open(err.name).read()),
               open(err.name).read())
        expect("start line names the store, flows and channels",
               all(s in open(err.name).read() for s in (db, "quick-ladder v1", "webhook (http://127.0.0.1"))
               , open(err.name).read())
        # The file is locked by the running serve: a second one must say so and leave.
        r = run(["--db", db, "--flows", FLOW])
        expect("second serve refused: exit 1", r.returncode == 1, "got %d: %s" % (r.returncode, r.stderr))
        expect("second serve refused: message", "locked by another writer" in r.stderr, r.stderr)
        expect("first serve still running", p.poll() is None)
        expect("a delivery while it runs", wait_for(lambda: len(hook.requests) >= 1))
        stop(p, err, signal.SIGTERM, "SIGTERM")

        # Stopped cleanly: the lock is gone (a new serve starts) and SIGINT stops it the same way.
        p, err = start(db, hook, tmp)
        expect("restart after SIGTERM", wait_for(lambda: "running until SIGTERM" in open(err.name).read()),
               open(err.name).read())
        stop(p, err, signal.SIGINT, "SIGINT")
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        n = con.execute("SELECT count(*) FROM cases WHERE id = 's1'").fetchone()[0]
        con.close()
        expect("the case is in the store", n == 1)
        second_signal(tmp, hook)
    finally:
        hook.stop()
    for f in failures:
        print("FAIL " + f)
    if failures:
        print("kept %s" % tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
