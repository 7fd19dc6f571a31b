"""Erasure, retention and the hash chain from Python and the CLI (docs/security.md)."""
import datetime
import os
import subprocess

import pytest

import escalon

FLOW = """flow: callback
data:
  customer: { type: string, pii: true }
  topic: { type: string }
start: call
steps:
  call: { on: { done: closed } }
  closed: { end: true }
"""

NAME = "Quirinus Wexley-Abara"


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "callback.yaml"
    path.write_text(FLOW)
    return str(path)


def on_disk(db):
    data = b""
    for p in (db, db + "-wal"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                data += f.read()
    return data


def test_erase_removes_the_values_and_keeps_the_journal(tmp_path, flow_file):
    db = str(tmp_path / "cases.db")
    clock = escalon.ManualClock(datetime.datetime(2026, 11, 23, 8, tzinfo=datetime.timezone.utc))
    e = escalon.Engine(store="sqlite:" + db, clock=clock, access={"erase": ["privacy"]})
    e.load(flow_file)
    cid = e.start("callback", {"customer": NAME, "topic": "billing"})
    with pytest.raises(escalon.EventError) as refused:
        e.erase(cid, "too early")
    assert refused.value.code == "wrong_state"
    e.send(cid, "done")
    with pytest.raises(escalon.PermissionError):
        e.erase(cid, "not allowed", actor="ana", roles=["front-office"])
    before = len(e.history(cid))
    e.erase(cid, "customer request", actor="pia", roles=["privacy"])
    history = e.history(cid)
    assert len(history) == before + 1
    assert history[-1].type == "erased" and history[-1].actor == "pia"
    assert history[0].data["customer"] == "[erased]"
    assert history[0].data["topic"] == "billing"
    assert "customer" not in e.get(cid).data
    assert NAME.encode() not in on_disk(db)
    report = escalon.verify_journal("sqlite:" + db + "?mode=ro")
    assert report["ok"] and report["records"] == len(history) and len(report["digest"]) == 64


def test_retention_from_the_engine(tmp_path, flow_file):
    clock = escalon.ManualClock(datetime.datetime(2026, 11, 23, 8, tzinfo=datetime.timezone.utc))
    e = escalon.Engine(clock=clock, retention=datetime.timedelta(days=7))
    e.load(flow_file)
    cid = e.start("callback", {"customer": NAME})
    e.send(cid, "done")
    clock.advance(datetime.timedelta(days=6))
    assert e.apply_retention() == []
    clock.advance(datetime.timedelta(days=2))
    assert e.apply_retention() == [cid]
    assert NAME not in e.journal_jsonl(cid, personal=True)
    with pytest.raises(TypeError):
        escalon.Engine(retention=7)


def test_the_cli_erases_purges_and_verifies(tmp_path, flow_file):
    tool = os.environ.get("ESCALON_CLI")
    if not tool:
        pytest.skip("ESCALON_CLI names the escalon tool (ctest sets it)")
    db = str(tmp_path / "cases.db")
    # Long ago, so that `purge` on the system clock finds the cases past a day's retention.
    clock = escalon.ManualClock(datetime.datetime(2020, 1, 6, 8, tzinfo=datetime.timezone.utc))
    e = escalon.Engine(store="sqlite:" + db, clock=clock)
    e.load(flow_file)
    first = e.start("callback", {"customer": NAME})
    second = e.start("callback", {"customer": "Second Person"})
    third = e.start("callback", {"customer": "Still Open"})
    e.send(first, "done")
    e.send(second, "done")
    del e

    def cli(*args, status=0):
        r = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == status, r.stdout + r.stderr
        return r.stdout + r.stderr

    assert "every chain holds" in cli("verify", "--db", db)
    assert "cancel it first" in cli("erase", "--db", db, third, "--reason", "x", status=1)
    cli("erase", "--db", db, first, "--reason", "customer request", "--actor", "dpo")
    assert NAME.encode() not in on_disk(db)
    assert "erased: customer request by dpo via cli" in cli("inspect", "--db", db, first)
    out = cli("purge", "--db", db, "--older-than", "1 day")
    assert ("erased " + second) in out and "1 case past retention erased" in out
    assert b"Second Person" not in on_disk(db) and b"Still Open" not in on_disk(db)  # sealed at rest
    assert "every chain holds" in cli("verify", "--db", db)
    # A copy keeps the open case's values (sealed with its key) and chains the copy anew.
    copy = str(tmp_path / "copy.db")
    cli("store", "copy", db, copy)
    assert "every chain holds" in cli("verify", "--db", copy)
    copied = escalon.Engine(store="sqlite:" + copy + "?mode=ro")
    assert copied.history(third)[0].data["customer"] == "Still Open"
    assert copied.history(first)[0].data["customer"] == "[erased]"
    del copied
    assert b"Still Open" not in on_disk(copy)
    subprocess.run(["sqlite3", db, "UPDATE records SET json = replace(json, 'call', 'cell') WHERE seq = 2"], check=True)
    broken = cli("verify", "--db", db, status=1)
    assert "BROKEN case '%s': record 2 was changed: its content does not match its digest" % first in broken
