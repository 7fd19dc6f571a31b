"""The outbox seen from Python and the CLI: a dead letter in a SQLite store, listed by
`escalon outbox`, put back with --retry, and delivered by the next engine (docs/delivery.md)."""
import datetime
import os
import subprocess

import pytest

import escalon
from conftest import FLOWS
from test_api import submit_payload


def cli(*args):
    tool = os.environ.get("ESCALON_CLI")
    if not tool:
        pytest.skip("ESCALON_CLI names the escalon tool (ctest sets it)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


def test_dead_letter_listed_put_back_by_the_cli_and_delivered_after_a_restart(tmp_path, clock):
    db = tmp_path / "cases.db"
    first = escalon.Engine(store=f"sqlite:{db}", clock=clock)
    first.load(str(FLOWS))

    def refuse(n):
        raise escalon.PermanentDeliveryError("no pager number for " + ",".join(n.to))

    first.on_notify(refuse, channel="pager")
    cid = first.start("technician-visit", {"customer": "ACME"})
    first.send(cid, "submit", submit_payload(parts=True))
    clock.advance(datetime.timedelta(days=3))
    first.run_due()
    dead = [e for e in first.outbox() if e["dead"]]
    assert dead and dead[0]["error"].startswith("PermanentDeliveryError: no pager number for ")
    key, case_of_key = dead[0]["key"], dead[0]["case_id"]
    del first  # the SQLite file is one writer's: the CLI writes it next

    listed = cli("outbox", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert key in listed.stdout and "DEAD after 1 attempt: PermanentDeliveryError" in listed.stdout
    assert f"0 waiting, {len(dead)} dead" in listed.stdout
    inspected = cli("inspect", "--db", str(db))
    assert f"{len(dead)} dead letter" in inspected.stdout

    assert cli("outbox", "--db", str(db), "--retry", "no/such-key").returncode == 1
    back = cli("outbox", "--db", str(db), "--retry", key)
    assert back.returncode == 0, back.stderr
    assert back.stdout == "1 entry put back for delivery\n"

    heard = []
    again = escalon.Engine(store=f"sqlite:{db}", clock=clock)
    again.load(str(FLOWS))
    again.on_notify(lambda n: heard.append(n.key), channel="pager")
    again.recover()
    assert heard == [key]
    assert key not in [e["key"] for e in again.outbox()]
    delivered = [r for r in again.history(case_of_key) if r.type == "delivered"]
    assert [r.data["key"] for r in delivered] == [key]
