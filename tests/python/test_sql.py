"""The built-in sql action from Python: a host names its databases, flows look data up in them
(flows/warranty-check.yaml), and hostile values stay data (docs/sql.md)."""
import datetime
import sqlite3

import pytest

import escalon
from conftest import FLOWS


@pytest.fixture
def crm(tmp_path):
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contracts (customer TEXT, contract TEXT, plan TEXT, warranty_until TEXT)")
        db.executemany("INSERT INTO contracts VALUES (?, ?, ?, ?)", [
            ("C-1", "SC-100", "basic", "2027-06-30"),
            ("C-2", "SC-200", "basic", "2025-01-31"),
            ("x'; DROP TABLE contracts; --", "SC-666", "premium", "2020-01-01"),
        ])
    db.close()
    return path


@pytest.fixture
def sql_engine(clock, crm):
    dbs = escalon.SqlConnections()
    dbs.add_sqlite("crm", crm)
    e = escalon.Engine(clock=clock)
    e.load(str(FLOWS / "warranty-check.yaml"))
    e.add_sql_action(dbs)
    return e, dbs


def test_lookups_route_cases_by_what_the_crm_holds(sql_engine):
    e, _ = sql_engine
    in_warranty = e.get(e.start("warranty-check", {"customer": "C-1"}))
    assert in_warranty.status == "completed" and in_warranty.outcome == "warranty-repair"
    assert in_warranty.data["contract"] == "SC-100"
    assert str(in_warranty.data["warranty_end"]) == "2027-06-30"
    expired = e.get(e.start("warranty-check", {"customer": "C-2"}))
    assert expired.steps == ["quote"]
    unknown = e.get(e.start("warranty-check", {"customer": "C-404"}))
    assert unknown.steps == ["quote"] and unknown.data.get("contract") is None  # no row: null, i.e. unset


def test_a_hostile_customer_number_is_bound_as_data(sql_engine, crm):
    e, dbs = sql_engine
    hostile = "x'; DROP TABLE contracts; --"
    case = e.get(e.start("warranty-check", {"customer": hostile}))
    assert case.data["contract"] == "SC-666"  # found as a value, not run as SQL
    assert case.outcome == "warranty-repair"  # premium
    rows = dbs.run("crm", "SELECT count(*) AS n FROM contracts")
    assert rows == [{"n": 3}]


def test_connections_are_read_only_unless_the_host_allows_writes(crm):
    dbs = escalon.SqlConnections()
    dbs.add_sqlite("crm", crm)
    dbs.add_sqlite("crm-rw", str(crm), writable=True)
    assert dbs.names() == ["crm", "crm-rw"]
    with pytest.raises(escalon.SqlError, match="crm"):
        dbs.run("crm", "DELETE FROM contracts")
    dbs.run("crm-rw", "UPDATE contracts SET plan = ?1 WHERE customer = ?2", ["premium", "C-2"])
    assert dbs.run("crm", "SELECT plan FROM contracts WHERE customer = ?1", ["C-2"]) == [{"plan": "premium"}]
    with pytest.raises(TypeError):
        dbs.run("crm", "SELECT 1", "C-2")  # a string is not a list of parameters


def test_a_missing_file_or_connection_is_an_sql_error(tmp_path, crm):
    dbs = escalon.SqlConnections()
    with pytest.raises(escalon.SqlError, match="nothing.db"):
        dbs.add_sqlite("crm", tmp_path / "nothing.db")
    with pytest.raises(escalon.SqlError, match="crm"):
        dbs.run("crm", "SELECT 1")


def test_a_crm_that_fails_sends_the_case_to_a_person(clock, crm):
    dbs = escalon.SqlConnections()
    dbs.add_sqlite("other", crm)  # the flow's 'crm' connection is not configured
    e = escalon.Engine(clock=clock)
    e.load(str(FLOWS / "warranty-check.yaml"))
    e.add_sql_action(dbs)
    case = e.get(e.start("warranty-check", {"customer": "C-1"}))
    for _ in range(3):
        clock.advance(datetime.timedelta(seconds=10))
        e.run_due()
    case = e.get(case.id)
    assert case.steps == ["manual-lookup"]
    assert any("crm" in (r.message or "") for r in e.history(case.id))

