"""Several Python processes on one PostgreSQL database (examples/python/shared_back_office.py).

Runs when ESCALON_TEST_PG names a database: ctest `python_postgres` sets it inside a throwaway
cluster (tests/postgres/pg_env.sh). Without it the test is skipped here, and that ctest fails
when PostgreSQL is missing, naming the packages to install.
"""
import os
import pathlib
import sys
import uuid

import pytest

import escalon

ROOT = pathlib.Path(__file__).resolve().parents[2]
PG = os.environ.get("ESCALON_TEST_PG", "")
pytestmark = pytest.mark.skipif(not PG, reason="needs ESCALON_TEST_PG (ctest python_postgres)")


def fresh_db():
    """An empty store of its own: a schema new to this test."""
    return f"{PG}{'&' if '?' in PG else '?'}schema=py_{uuid.uuid4().hex[:12]}"


def test_four_processes_share_a_back_office_and_answer_each_case_once():
    sys.path.insert(0, str(ROOT / "examples" / "python"))
    import shared_back_office

    totals, cases, answers = shared_back_office.run(fresh_db(), str(ROOT / "flows"), agents=3, requests=30)
    assert len(cases) == 30
    assert all(c.status == "completed" for c in cases)
    assert sorted(answers.values()) == [1] * 30  # each case answered by exactly one agent
    assert totals["front-office-1"] == 30
    assert sum(totals[f"agent-{i}"] for i in (1, 2, 3)) == 30


def test_a_case_started_in_one_engine_is_continued_in_another():
    db = fresh_db()
    a = escalon.Engine(store=db)
    a.load(str(ROOT / "flows"))
    b = escalon.Engine(store=db)
    b.load(str(ROOT / "flows"))
    cid = a.start("back-office-handover", {"customer": "ACME"}, key="call-1")
    assert b.start("back-office-handover", {"customer": "ACME"}, key="call-1") == cid
    b.send(cid, "hand-over", {"request": "Router blinks red"})
    assert a.get(cid).step == "back-office"
    with pytest.raises(escalon.EventError):
        a.send(cid, "hand-over", {"request": "again"})  # b moved it on
    assert [r.type for r in a.history(cid)].count("rejected") == 1
