#!/usr/bin/env python3
"""`escalon serve` killed with SIGKILL again and again while escalations fire and a slow webhook
and an SMTP server receive them: every `escalated` record reaches both channels at least once,
under its key, and nothing else does.

How the cases come to be: `serve` takes no events, so `escalon run --db STORE` starts them first
from a scenario written here whose `clock:` is the system clock's now. `run` stops at that
instant (no events, no `until:`), so the cases are stored with deadlines a few seconds ahead of
the system clock, and nothing has fired yet; `serve` then fires the ladders (tests/delivery/
ladder.yaml: five rungs per case) on the system clock. No C++ driver is needed.

Then: a webhook sink that takes 50-200 ms per request and an SMTP sink (tests/delivery/sinks.py)
on 127.0.0.1; `escalon serve --db STORE --notify smtp://... --webhook http://...` started, killed
with SIGKILL after a random pause, started again (KILLS times); then run until every ladder has
fired and the outbox is empty, and stopped with SIGTERM (exit 0 wanted).

Checks, from the store (read with sqlite3, read-only) and what the sinks received:
- each case has its five `escalated` records, once each (a kill loses none, and none fires twice);
- for each of them the webhook sink got a request with Idempotency-Key "<case>/<seq>" and the
  SMTP sink a mail whose Message-ID derives from that key (at least once each);
- no key reached a sink that is not the key of an `escalated` record;
- the outbox is empty;
- duplicates (a kill between the channel's answer and the commit of `delivered`) are allowed,
  counted and printed.

Usage: test_serve_sigkill.py ESCALON FLOW [KILLS]
Exit 0 when every check passes, 1 when one fails, 77 (ctest: skipped) when aiosmtpd is missing.
"""
import collections
import datetime
import email
import email.policy
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

try:
    import aiosmtpd  # noqa: F401
except ImportError:
    print("SKIPPED: the Python package aiosmtpd is not installed "
          "(apt-get install python3-aiosmtpd; scripts/setup.sh installs it)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sinks import SmtpSink, WebhookSink  # noqa: E402

if len(sys.argv) < 3:
    sys.exit(__doc__)
ESCALON, FLOW = sys.argv[1], sys.argv[2]
KILLS = int(sys.argv[3]) if len(sys.argv) > 3 else 6
CASES = 16
RUNGS = 5  # the ladder of ladder.yaml


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def message_id(key):
    """The Message-ID mail_channel derives from a key (src/delivery/mail.cpp, message_id)."""
    out = ""
    for i, c in enumerate(key):
        word = c.isascii() and (c.isalnum() or c in "-_")
        dot = c == "." and 0 < i < len(key) - 1 and key[i - 1] != "."
        out += c if word or dot else "%%%02X" % ord(c)
    return "<" + out + "@example.hr>"  # the domain of --from


def create_cases(tmp, db):
    """CASES cases due 4 to 11 s from now on the system clock, stored by `escalon run --db`."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    scenario = os.path.join(tmp, "start.yaml")
    with open(scenario, "w") as f:
        f.write("clock: %s\ncases:\n" % iso(now))
        for i in range(CASES):
            due = now + datetime.timedelta(seconds=4 + i % 8)
            f.write("  - { id: q%d, flow: quick-ladder, data: { due: %s } }\n" % (i, iso(due)))
    subprocess.run([ESCALON, "run", FLOW, "--scenario", scenario, "--db", db, "-q"],
                   check=True, stdout=subprocess.DEVNULL)


def read_store(db):
    """(escalated keys {key: record}, outbox rows), read-only beside a running serve."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        escalated = {}
        for (text,) in con.execute("SELECT json FROM records WHERE type = 'escalated' ORDER BY seq"):
            r = json.loads(text)
            if r.get("target"):  # a rung that notifies someone
                escalated["%s/%d" % (r["case"], r["seq"])] = r
        outbox = con.execute("SELECT key, channel, attempts, dead, error FROM outbox").fetchall()
        return escalated, outbox
    finally:
        con.close()


def serve(db, smtp, hook, directory, log):
    return subprocess.Popen([ESCALON, "serve", "--db", db, "--flows", FLOW,
                             "--notify", "smtp://127.0.0.1:%d" % smtp.port, "--from", "escalon@example.hr",
                             "--directory", directory, "--webhook", "http://127.0.0.1:%d/hook" % hook.port,
                             "--first-retry", "0.5"],
                            stdout=subprocess.DEVNULL, stderr=log)


def received_keys(smtp, hook):
    """Counter of keys per sink: the webhook's Idempotency-Key, the mail's Message-ID."""
    hooks = collections.Counter(r["headers"].get("idempotency-key") for r in hook.requests)
    mails = collections.Counter()
    for _, raw in smtp.messages():
        mails[email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]] += 1
    return hooks, mails


def check(db, smtp, hook, failures):
    escalated, outbox = read_store(db)
    per_case = collections.Counter(r["case"] for r in escalated.values())
    rungs = collections.Counter((r["case"], r["level"], r.get("repeat", 0)) for r in escalated.values())
    for i in range(CASES):
        if per_case["q%d" % i] != RUNGS:
            failures.append("case q%d has %d escalated records, wanted %d" % (i, per_case["q%d" % i], RUNGS))
    failures += ["%s level %d repeat %d fired %d times" % (*k, n) for k, n in rungs.items() if n > 1]
    hooks, mails = received_keys(smtp, hook)
    by_id = {message_id(k): k for k in escalated}
    for key in escalated:
        if hooks[key] == 0:
            failures.append("webhook never received %s" % key)
        if mails[message_id(key)] == 0:
            failures.append("no mail with Message-ID %s (key %s)" % (message_id(key), key))
    failures += ["webhook received %s, which no escalated record raised" % k for k in hooks if k not in escalated]
    failures += ["mail %s, which no escalated record raised" % m for m in mails if m not in by_id]
    if outbox:
        failures.append("outbox not empty: %s" % outbox[:5])
    dup_hooks = sum(n - 1 for n in hooks.values() if n > 1)
    dup_mails = sum(n - 1 for n in mails.values() if n > 1)
    print("%d escalated records, %d webhook requests (%d duplicates), %d mails (%d duplicates)"
          % (len(escalated), sum(hooks.values()), dup_hooks, sum(mails.values()), dup_mails))


def quiescent(db, smtp):
    escalated, outbox = read_store(db)
    return len(escalated) == CASES * RUNGS and not outbox


def main():
    tmp = tempfile.mkdtemp(prefix="escalon-serve-kill-")
    db = os.path.join(tmp, "cases.db")
    directory = os.path.join(tmp, "directory.yaml")
    with open(directory, "w") as f:
        f.write("roles:\n  agent: [agent@example.hr]\n  lead: [lead@example.hr]\n"
                "  supervisor: [sup@example.hr, boss@example.hr]\n")
    rng = random.Random(os.environ.get("ESCALON_TEST_SEED"))
    smtp = SmtpSink(os.path.join(tmp, "mails")).start()
    hook = WebhookSink(delay=lambda: rng.uniform(0.05, 0.2)).start()
    log = open(os.path.join(tmp, "serve.log"), "w+")
    failures = []
    try:
        create_cases(tmp, db)
        kills = 0
        for _ in range(KILLS):
            p = serve(db, smtp, hook, directory, log)
            time.sleep(rng.uniform(0.4, 2.5))
            if p.poll() is not None:
                failures.append("serve exited by itself with %s before the kill" % p.returncode)
                break
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
        p = serve(db, smtp, hook, directory, log)
        deadline = time.monotonic() + 120
        while not quiescent(db, smtp) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.5)
        time.sleep(1)  # anything still on its way (a duplicate of a delivery) arrives
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        if rc != 0:
            failures.append("serve exited %s on SIGTERM, wanted 0" % rc)
        print("%d kills with SIGKILL, %d cases, webhook 50-200 ms per request" % (kills, CASES))
        check(db, smtp, hook, failures)
    finally:
        smtp.stop()
        hook.stop()
        log.seek(0)
        text = log.read()
        log.close()
    if failures:
        print("serve's standard error:\n" + text[-3000:])
        for f in failures[:40]:
            print("FAIL " + f)
        print("%d failures; kept %s" % (len(failures), tmp))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
