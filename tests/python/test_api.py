"""Every call of the Python API, its conversions and its errors."""
import datetime
import json
import os
import re
import sys
import threading

import pytest

import escalon
from conftest import ACTION_FLOW, FLOWS, ROOT, UTC, at


def submit_payload(parts=False):
    return {"preferred_slots": [at("2026-11-25T09:00:00Z")], "product": "washer", "parts_needed": parts}


# ----------------------------------------------------------------------------- version

def test_version_is_the_cmake_project_version():
    # ctest passes project(VERSION) as ESCALON_VERSION; by hand, read it from CMakeLists.txt.
    want = os.environ.get("ESCALON_VERSION")
    if not want:
        want = re.search(r"project\(escalon VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert escalon.__version__ == want


# ----------------------------------------------------------------------------- validate / load

def test_validate_returns_nothing_for_valid_flows():
    assert escalon.validate(str(FLOWS)) == []
    assert escalon.Engine.validate([FLOWS]) == []  # path-like objects in a list work too


def test_validate_reports_file_line_column_and_message():
    bad = ROOT / "tests" / "flows" / "invalid" / "action-without-next.yaml"
    problems = escalon.validate(str(bad))
    errors = [d for d in problems if d.severity == "error"]
    assert errors, problems
    d = errors[0]
    assert d.file.endswith("action-without-next.yaml")
    assert (d.line, d.column) == (4, 3)
    assert "next" in d.message
    assert str(d) == f"{d.file}:{d.line}:{d.column}: error: {d.message}"


def test_load_raises_flow_error_with_every_diagnostic(clock):
    e = escalon.Engine(clock=clock)
    with pytest.raises(escalon.FlowError) as info:
        e.load(str(ROOT / "tests" / "flows" / "invalid"))
    err = info.value
    assert isinstance(err, escalon.Error)
    assert len(err.diagnostics) > 50
    assert err.file.endswith(".yaml") and err.line > 0 and err.column > 0
    assert e.flows() == []  # nothing of a failed load is loaded


def test_flows_lists_loaded_versions(engine):
    flows = {f.id: f for f in engine.flows()}
    assert {"technician-visit", "spare-parts-order", "complaint"} <= flows.keys()
    f = flows["technician-visit"]
    assert f.version == 1
    assert "intake" in f.steps and f.file.endswith("technician-visit.yaml")
    assert f.hash.startswith("sha256:") and len(f.hash) == 7 + 64


# ----------------------------------------------------------------------------- cases

def test_start_get_and_data_conversions(engine, clock):
    cid = engine.start("technician-visit", {"customer": "ACME", "slot": at("2026-11-26T10:00:00Z")},
                       actor="agent-7", channel="phone")
    assert cid == "technician-visit-1"
    c = engine.get(cid)
    assert (c.id, c.flow, c.version, c.status, c.step, c.role) == (cid, "technician-visit", 1, "active", "intake", "front-office")
    assert c.data["customer"] == "ACME"
    assert c.data["priority"] == "normal"  # default applied
    assert c.data["slot"] == at("2026-11-26T10:00:00Z")
    assert c.data["slot"].tzinfo is not None
    assert c.started == clock.now() == at("2026-11-23T08:00:00Z")
    [d] = c.deadlines
    assert (d.step, d.due, d.overdue, d.level) == ("intake", at("2026-11-23T08:15:00Z"), False, 0)
    [s] = c.slas
    assert s.name == "resolution" and s.state == "running" and isinstance(s.remaining, datetime.timedelta)
    # Naive datetimes are UTC; ISO text is converted by the flow's type.
    other = engine.start("technician-visit", {"customer": "B", "slot": datetime.datetime(2026, 11, 26, 10, 0)}, id="T-2")
    assert engine.get(other).data["slot"] == at("2026-11-26T10:00:00Z")
    third = engine.start("technician-visit", {"customer": "C", "slot": "2026-11-26T10:00:00Z"})
    assert engine.get(third).data["slot"] == at("2026-11-26T10:00:00Z")


def test_send_update_cancel_reschedule(engine, clock):
    cid = engine.start("technician-visit", {"customer": "ACME"})
    engine.send(cid, "submit", submit_payload(), actor="agent-7", channel="chat")
    assert engine.get(cid).step == "schedule"
    engine.update(cid, {"fault": "drum does not turn"}, actor="agent-7")
    assert engine.get(cid).data["fault"] == "drum does not turn"
    engine.reschedule(cid, at("2026-11-24T12:00:00Z"))
    assert engine.get(cid).deadlines[0].due == at("2026-11-24T12:00:00Z")
    engine.cancel(cid, "customer withdrew")
    c = engine.get(cid)
    assert c.status == "cancelled"
    types = [r.type for r in engine.history(cid)]
    assert types[0] == "started" and "event" in types and "data-changed" in types and types[-1] == "cancelled"
    ev = next(r for r in engine.history(cid) if r.type == "event")
    assert (ev.event, ev.actor, ev.channel) == ("submit", "agent-7", "chat")
    assert ev.data["preferred_slots"] == [at("2026-11-25T09:00:00Z")]


def test_query_filters_and_order(engine):
    a = engine.start("technician-visit", {"customer": "A"})
    b = engine.start("technician-visit", {"customer": "B", "priority": "urgent"})
    c = engine.start("technician-visit", {"customer": "C"})
    engine.send(c, "submit", submit_payload())
    assert [x.id for x in engine.query(step="intake")] == [b, a]  # urgent first
    assert [x.id for x in engine.query(role="dispatcher")] == [c]
    assert [x.id for x in engine.query(flow="technician-visit", limit=1)] == [b]
    engine.cancel(a)
    assert a not in [x.id for x in engine.query()]
    assert a in [x.id for x in engine.query(status=None)]
    assert [x.id for x in engine.query(status="cancelled")] == [a]
    with pytest.raises(ValueError, match="status must be"):
        engine.query(status="open")


def test_run_due_next_due_and_notifications(engine, clock):
    heard = []

    @engine.on_notify
    def listen(n):
        heard.append(n)

    assert listen is not None  # the decorator gives the function back
    cid = engine.start("technician-visit", {"customer": "ACME"})
    engine.send(cid, "submit", submit_payload(parts=True))
    nxt = engine.next_due()
    assert isinstance(nxt, datetime.datetime) and nxt > clock.now()
    clock.advance(datetime.timedelta(days=3))
    assert engine.run_due() >= 2
    levels = [(n.reason, n.level, n.to) for n in heard if n.case_id == cid]
    assert ("escalation", 1, ["parts-lead"]) in levels
    c = engine.get(cid)
    assert c.assignee == "parts-lead" and c.priority == "high" and c.level == 2 and c.overdue


def test_journal_jsonl_and_records(engine):
    cid = engine.start("technician-visit", {"customer": "ACME"})
    lines = engine.journal_jsonl(cid).splitlines()
    assert lines and all(json.loads(line)["case"] == cid for line in lines)
    first = engine.history(cid)[0]
    assert json.loads(first.to_json())["type"] == first.type == "started"
    assert first.seq == 1 and first.at == at("2026-11-23T08:00:00Z")


def test_report_is_a_dict_and_a_table(engine, clock):
    cid = engine.start("technician-visit", {"customer": "ACME"})
    engine.send(cid, "submit", submit_payload())
    r = engine.report()
    assert r["cases"]["opened"] == 1 and r["cases"]["open"] == 1
    assert "Escalon report" in engine.report_text()


# ----------------------------------------------------------------------------- errors

def test_error_hierarchy(engine):
    assert issubclass(escalon.FlowError, escalon.Error)
    assert issubclass(escalon.ConflictError, escalon.StoreError)
    with pytest.raises(escalon.CaseError, match="unknown case 'nope'"):
        engine.get("nope")
    with pytest.raises(escalon.CaseError, match="unknown case 'nope'"):
        engine.send("nope", "submit")
    cid = engine.start("technician-visit", {"customer": "ACME"})
    with pytest.raises(escalon.EventError, match="does not handle event 'fixed'"):
        engine.send(cid, "fixed")
    assert engine.history(cid)[-1].type == "rejected"
    # Every refused call is an EventError with a code to branch on; CaseError is one of them.
    assert issubclass(escalon.CaseError, escalon.EventError)
    with pytest.raises(escalon.EventError, match="customer") as bad:
        engine.start("technician-visit", {"customer": 42})
    assert bad.value.code == "bad_data"
    with pytest.raises(escalon.EventError, match="no data field 'custmer'") as bad:
        engine.start("technician-visit", {"custmer": "x"})
    assert bad.value.code == "bad_data"
    with pytest.raises(TypeError, match="cannot be case data"):
        engine.update(cid, {"fault": object()})
    with pytest.raises(TypeError, match="must be a dict"):
        engine.start("technician-visit", ["customer"])
    with pytest.raises(escalon.EventError, match="unknown flow"):
        engine.start("no-such-flow")


def test_store_errors(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database\n")
    with pytest.raises(escalon.StoreError, match="is not an SQLite file") as info:
        escalon.Engine(store=f"sqlite:{bad}")
    assert isinstance(info.value, escalon.Error)
    assert bad.read_text() == "not a database\n"
    with pytest.raises(escalon.StoreError, match="unknown store"):
        escalon.Engine(store="mysql://nowhere")


# ----------------------------------------------------------------------------- actions

def test_action_decorator_sets_results(clock, action_flow):
    e = escalon.Engine(clock=clock)
    e.load(str(action_flow))
    calls = []

    @e.action("erp.check_stock")
    def check(ctx):
        calls.append((ctx.case_id, ctx.step, ctx.action, ctx.attempt, ctx.inputs, ctx.data["part"]))
        ctx.set("stock", 4)
        return {"eta": at("2026-11-30T08:00:00Z"), "lead_time": datetime.timedelta(days=7)}

    cid = e.start("parts-check", {"part": "P-100"})
    assert calls == [(cid, "check", "erp.check_stock", 1, {"part": "P-100"}, "P-100")]
    c = e.get(cid)
    assert c.step == "review"
    assert c.data["stock"] == 4
    assert c.data["eta"] == at("2026-11-30T08:00:00Z")
    assert c.data["lead_time"] == datetime.timedelta(days=7)


def test_python_exception_retries_then_incident_with_message(clock, action_flow):
    e = escalon.Engine(clock=clock)
    e.load(str(action_flow))
    attempts = []

    def failing(ctx):
        attempts.append(ctx.attempt)
        raise ValueError(f"ERP timeout on attempt {ctx.attempt}")

    e.on_action("erp.check_stock", failing)
    cid = e.start("parts-check", {"part": "P-100"})
    for _ in range(5):
        clock.advance(datetime.timedelta(minutes=1))
        e.run_due()
    assert attempts == [1, 2, 3]
    c = e.get(cid)
    assert c.status == "incident"
    assert "ValueError: ERP timeout on attempt 3" in c.incident
    failed = [r for r in e.history(cid) if r.type == "action-failed"]
    assert [r.message for r in failed][0] == "ValueError: ERP timeout on attempt 1"
    # A person fixes the ERP and retries; then resolve is not needed.
    e.on_action("erp.check_stock", lambda ctx: {"stock": 1})
    e.retry(cid, actor="ops")
    assert e.get(cid).step == "review" and e.get(cid).data["stock"] == 1


def test_resolve_moves_an_incident_on(clock, action_flow):
    e = escalon.Engine(clock=clock)
    e.load(str(action_flow))
    e.on_action("erp.check_stock", lambda ctx: 1 / 0)
    cid = e.start("parts-check", {"part": "P-100"})
    clock.advance(datetime.timedelta(minutes=5))
    e.run_due()
    assert e.get(cid).status == "incident"
    assert "ZeroDivisionError" in e.get(cid).incident
    e.resolve(cid, {"stock": 0}, actor="ops")
    assert e.get(cid).status == "active" and e.get(cid).step == "review" and e.get(cid).data["stock"] == 0


def test_listener_exception_does_not_undo_the_work_and_is_retried(engine, clock):
    seen = []
    down = [True]

    def flaky(n):
        seen.append((n.key, n.level))
        if down[0]:
            raise RuntimeError("dashboard down")

    engine.on_notify(flaky)
    cid = engine.start("technician-visit", {"customer": "ACME"})
    engine.send(cid, "submit", submit_payload(parts=True))
    clock.advance(datetime.timedelta(days=3))
    engine.run_due()
    assert seen and engine.get(cid).level == 2  # the escalations happened all the same
    failed = [r for r in engine.history(cid) if r.type == "delivery-failed"]
    assert failed and failed[0].message.endswith("dashboard down")
    waiting = engine.outbox()
    # A failed entry waits for its retry; later ones of its case wait behind it, untried.
    assert waiting and all(e["channel"] == "host" and e["attempts"] in (0, 1) for e in waiting)
    assert waiting[0]["attempts"] == 1 and waiting[0]["error"].endswith("dashboard down")
    down[0] = False
    clock.advance(datetime.timedelta(minutes=1))
    engine.run_due()
    assert engine.outbox() == []
    first_key = waiting[0]["key"]
    assert [level for key, level in seen if key == first_key] == [seen[0][1]] * 2  # the same notification twice


def test_permanent_delivery_error_is_a_dead_letter_until_redelivered(engine, clock):
    def refuse(n):
        raise escalon.PermanentDeliveryError("no address for " + ",".join(n.to))

    engine.on_notify(refuse, channel="pager")
    cid = engine.start("technician-visit", {"customer": "ACME"})
    engine.send(cid, "submit", submit_payload(parts=True))
    clock.advance(datetime.timedelta(days=3))
    engine.run_due()
    dead = engine.outbox()
    assert dead and all(e["dead"] and e["channel"] == "pager" for e in dead)
    assert engine.redeliver(dead[0]["key"]) == 1
    assert engine.redeliver("nobody/1") == 0


# ----------------------------------------------------------------------------- durability, versions

def test_sqlite_store_recover_and_history_of_closed_cases(tmp_path, clock):
    db = f"sqlite:{tmp_path / 'cases.db'}"
    first = escalon.Engine(store=db, clock=clock)
    first.load(str(FLOWS))
    open_id = first.start("technician-visit", {"customer": "A"})
    done_id = first.start("technician-visit", {"customer": "B"})
    first.cancel(done_id)
    del first
    again = escalon.Engine(store=db, clock=clock)
    again.load(str(FLOWS))
    assert again.recover() == 1
    assert again.get(open_id).step == "intake"
    assert [r.type for r in again.history(done_id)][-1] == "cancelled"  # read from the store
    assert again.store == db


def test_migrate_to_a_new_version(tmp_path, clock):
    v1 = "flow: ticket\nversion: 1\nstart: triage\nsteps:\n  triage: { on: { go: done } }\n  done: { end: true }\n"
    v2 = "flow: ticket\nversion: 2\nstart: assess\nsteps:\n  assess: { on: { go: done } }\n  done: { end: true }\n"
    (tmp_path / "v1.yaml").write_text(v1)
    (tmp_path / "v2.yaml").write_text(v2)
    e = escalon.Engine(clock=clock)
    e.load(str(tmp_path / "v1.yaml"))
    cid = e.start("ticket")
    e.load(str(tmp_path / "v2.yaml"))
    with pytest.raises(escalon.EventError, match="map it"):
        e.migrate("ticket")
    assert e.migrate("ticket", 2, steps={"triage": "assess"}, actor="ops") == 1
    c = e.get(cid)
    assert (c.version, c.step) == (2, "assess")
    assert e.history(cid)[-1].type == "migrated"


# ----------------------------------------------------------------------------- threads

def test_calls_from_several_python_threads(tmp_path, clock):
    e = escalon.Engine(store=f"sqlite:{tmp_path / 'threads.db'}?sync=normal", clock=clock, group_commit=True)
    e.load(str(FLOWS))
    errors = []

    def worker(n):
        try:
            for i in range(20):
                cid = e.start("technician-visit", {"customer": f"T{n}-{i}"})
                e.send(cid, "submit", submit_payload())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert e.case_count() == 120
    assert len(e.query(step="schedule")) == 120


def test_runner_thread_calls_python_handlers(clock, action_flow):
    e = escalon.Engine(clock=clock)
    e.load(str(action_flow))
    done = threading.Event()
    attempts = []

    def flaky(ctx):
        attempts.append(threading.current_thread().name)
        if ctx.attempt < 2:
            raise RuntimeError("busy")
        done.set()
        return {"stock": 2}

    e.on_action("erp.check_stock", flaky)
    cid = e.start("parts-check", {"part": "P-1"})
    e.start_runner(datetime.timedelta(milliseconds=5))
    clock.advance(datetime.timedelta(seconds=30))  # the retry is due; the runner notices
    assert done.wait(5)
    e.stop_runner()
    assert e.get(cid).step == "review"
    assert len(attempts) == 2


def test_manual_clock():
    c = escalon.ManualClock("2026-11-23T08:00:00Z")
    assert c.now() == at("2026-11-23T08:00:00Z")
    c.advance(datetime.timedelta(hours=1, milliseconds=5))
    assert c.now() == at("2026-11-23T09:00:00.005Z")
    c.set(at("2026-11-24T00:00:00Z"))
    with pytest.raises(escalon.Error):
        c.set(at("2026-11-23T00:00:00Z"))
    with pytest.raises(TypeError):
        escalon.ManualClock(12)


def test_stubs_cover_the_module():
    stub = (ROOT / "bindings" / "python" / "escalon" / "__init__.pyi").read_text()
    public = [n for n in dir(escalon) if not n.startswith("_")]
    missing = [n for n in public if f"class {n}" not in stub and f"def {n}" not in stub]
    assert missing == []
    methods = [n for n in dir(escalon.Engine) if not n.startswith("_")]
    assert [n for n in methods if f"def {n}(" not in stub and f"    {n}:" not in stub] == []
