"""What a host meets when embedding Escalon from Python: refusal codes, the engine in the action
context, calls without handlers, and operations tools reading a store the host is writing."""
import json
import os
import subprocess

import pytest

import escalon
from conftest import FLOWS


def test_refusals_carry_a_code_to_branch_on(engine):
    cid = engine.start("technician-visit", {"customer": "ACME"})
    cases = [
        (lambda: engine.start("technician-vist"), "unknown_flow"),
        (lambda: engine.send("nope", "submit"), "unknown_case"),
        (lambda: engine.start("technician-visit", {"customer": "B"}, id=cid), "duplicate_id"),
        (lambda: engine.send(cid, "fixed"), "not_handled"),
        (lambda: engine.send(cid, "submit", {"product": "TV"}), "bad_data"),  # preferred_slots missing
        (lambda: engine.retry(cid), "wrong_state"),
    ]
    for call, code in cases:
        with pytest.raises(escalon.EventError) as refused:
            call()
        assert refused.value.code == code, refused.value
    engine.cancel(cid)
    with pytest.raises(escalon.EventError) as refused:
        engine.send(cid, "submit")
    assert refused.value.code == "closed"
    with pytest.raises(escalon.CaseError) as unknown:
        engine.get("nope")
    assert unknown.value.code == "unknown_case"


def test_handlers_get_the_engine_and_missing_handlers_are_listed(clock):
    engine = escalon.Engine(clock=clock)
    engine.load(str(FLOWS))
    missing = {d.message.split("calls '")[1].split("'")[0] for d in engine.missing_handlers()}
    assert missing == {"parts.order", "experts.find_available", "sql"}
    assert all(d.severity == "warning" and d.line > 0 for d in engine.missing_handlers())

    started = []

    @engine.action("experts.find_available")
    def find(ctx):
        assert ctx.engine is engine
        started.append(ctx.engine.start("complaint", {"customer": "follow-up"}))
        return {"expert": "dr-who"}

    assert {d.message.split("calls '")[1].split("'")[0] for d in engine.missing_handlers()} == {"parts.order", "sql"}
    strict = escalon.Engine(clock=clock, require_handlers=True)
    strict.load(str(FLOWS))
    with pytest.raises(escalon.Error, match="parts.order"):
        strict.start("complaint", {"customer": "A"})


def test_report_and_inspect_read_a_store_while_the_host_writes_it(tmp_path, clock):
    cli = os.environ.get("ESCALON_CLI")
    if not cli:
        pytest.skip("ESCALON_CLI names the escalon tool (ctest sets it)")
    db = tmp_path / "live.db"
    host = escalon.Engine(store=f"sqlite:{db}", clock=clock)
    host.load(str(FLOWS))
    ids = [host.start("complaint", {"customer": f"C{i}"}) for i in range(3)]
    report = subprocess.run([cli, "report", "--db", str(db), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(report.stdout)["cases"]["opened"] == 3
    host.start("complaint", {"customer": "C3"})  # the host goes on writing after the tool read
    inspect = subprocess.run([cli, "inspect", "--db", str(db), ids[0]], capture_output=True, text=True, check=True)
    assert ids[0] in inspect.stdout
    report = subprocess.run([cli, "report", "--db", str(db), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(report.stdout)["cases"]["opened"] == 4
    with pytest.raises(escalon.StoreError, match="locked by another writer"):
        escalon.Engine(store=f"sqlite:{db}")


def test_values_that_nest_without_end_are_refused_not_a_crash(engine):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested deeper than 64 levels"):
        engine.start("complaint", {"customer": "A", "summary": loop})
    deep = {}
    for _ in range(1000):
        deep = {"x": deep}
    with pytest.raises(ValueError, match="nested deeper"):
        engine.start("complaint", {"customer": "A", "summary": deep})


def test_a_retried_call_with_its_key_is_applied_once(engine):
    cid = engine.start("technician-visit", {"customer": "ACME"})
    payload = {"product": "TV", "preferred_slots": ["2026-11-26T09:00:00Z"]}
    engine.send(cid, "submit", payload, key="web-42")
    records = len(engine.history(cid))
    engine.send(cid, "submit", payload, key="web-42")  # the retry after a timeout: nothing happens
    assert len(engine.history(cid)) == records
    with pytest.raises(escalon.EventError) as reused:
        engine.send(cid, "submit", {"product": "radio", "preferred_slots": []}, key="web-42")
    assert reused.value.code == "key_reused"
    engine.cancel(cid, "customer withdrew", key="cancel-1")
    engine.cancel(cid, "customer withdrew", key="cancel-1")  # already cancelled by this very call
    with pytest.raises(escalon.EventError) as closed:
        engine.cancel(cid, "customer withdrew")
    assert closed.value.code == "closed"


def test_a_repeated_start_with_its_key_returns_the_first_case(engine):
    first = engine.start("technician-visit", {"customer": "ACME"}, key="call-981")
    assert engine.start("technician-visit", {"customer": "ACME"}, key="call-981") == first
    with pytest.raises(escalon.EventError) as reused:
        engine.start("technician-visit", {"customer": "Globex"}, key="call-981")
    assert reused.value.code == "key_reused"


def test_a_refused_guard_carries_the_flows_reason_and_a_stage_event_needs_no_form(engine):
    cid = engine.start("warranty-repair", {"customer": "Horvath"})
    form = {"device": "phone", "serial": "SN-1", "purchase_date": "2025-06-01"}
    with pytest.raises(escalon.EventError) as refused:
        engine.send(cid, "submit", form)
    assert refused.value.code == "guard_refused"
    assert refused.value.reason == "consent to data processing is required: ask the customer and send consent-given"
    assert refused.value.reason in str(refused.value)
    other = engine.start("warranty-repair", {"customer": "Kiss", "consent": True})
    with pytest.raises(escalon.EventError) as no_form:
        engine.send(other, "submit", {"device": "phone"})
    assert no_form.value.code == "bad_data" and no_form.value.reason == ""
    engine.send(other, "customer-cancelled")  # the stage's event: no form asked
    assert engine.get(other).outcome == "cancelled"
