"""A whole technician-visit case on a manual clock: intake, parts, dispatch with repeated
escalations, the visit, closure; SLA and KPIs at the end."""
import datetime

import escalon
from conftest import FLOWS, at

H = datetime.timedelta(hours=1)


def test_full_case_with_escalations(tmp_path):
    clock = escalon.ManualClock(at("2026-11-23T08:00:00Z"))  # Monday 09:00 in Zagreb
    e = escalon.Engine(store=f"sqlite:{tmp_path / 'visit.db'}", clock=clock)
    e.load(str(FLOWS))
    heard = []
    e.on_notify(lambda n: heard.append((n.reason, n.level, n.repeat, tuple(n.to), n.step)))

    cid = e.start("technician-visit", {"customer": "ACME", "channel": "phone"}, actor="agent-7", channel="phone")
    clock.advance(datetime.timedelta(minutes=10))
    e.send(cid, "submit", {"preferred_slots": [at("2026-11-26T09:00:00Z"), at("2026-11-27T13:00:00Z")],
                           "product": "washer", "fault": "leaks", "parts_needed": True}, actor="agent-7")
    c = e.get(cid)
    assert (c.step, c.role, c.assignee) == ("order-parts", "parts-desk", "parts-desk")
    order_due = c.deadlines[0].due

    # Parts ladder: 80% notifies the parts lead; 100% reassigns to them with high priority.
    clock.set(order_due + H)
    e.run_due()
    c = e.get(cid)
    assert ("escalation", 1, 0, ("parts-lead",), "order-parts") in heard
    assert (c.assignee, c.priority, c.level, c.overdue) == ("parts-lead", "high", 2, True)

    e.send(cid, "parts-arrived", actor="parts-desk-2")
    c = e.get(cid)
    assert c.step == "schedule" and c.level == 0
    schedule_due = c.deadlines[0].due

    # Dispatch ladder: at 100% and then every business hour, at most 4 repeats.
    clock.set(schedule_due + datetime.timedelta(days=2))
    e.run_due()
    dispatch = [h for h in heard if h[4] == "schedule" and h[0] == "escalation" and h[3] == ("dispatch-lead",)]
    assert [h[2] for h in dispatch] == [0, 1, 2, 3, 4]
    assert all(h[3] == ("dispatch-lead",) for h in dispatch)
    assert [r.repeat for r in e.history(cid) if r.type == "escalated" and r.target == "dispatch-lead"] == [0, 1, 2, 3, 4]

    # The dispatcher books a slot the customer gave at intake: no second call was needed.
    slot = e.get(cid).data["preferred_slots"][1]
    assert slot > clock.now()
    e.send(cid, "booked", {"slot": slot}, actor="dispatcher-1")
    c = e.get(cid)
    assert c.step == "visit" and c.data["slot"] == slot
    assert c.deadlines[0].due == slot + 2 * H
    clock.set(slot + 3 * H)  # the visit runs late: the `after: 1h` level fires at slot + 2h + 1h
    e.run_due()
    assert ("escalation", 1, 0, ("dispatch-lead",), "visit") in heard

    e.send(cid, "fixed", actor="tech-3")
    c = e.get(cid)
    assert c.status == "completed" and c.step == "closed" and c.outcome == "resolved"
    [sla] = c.slas
    assert sla.state == "breached"  # far beyond 2 business days
    assert ("escalation", 1, 0, ("supervisor",), "schedule") in heard  # the SLA's own ladder
    assert any(h[0] == "sla-breached" for h in heard)
    types = [r.type for r in e.history(cid)]
    assert types.count("escalated") == 9  # parts 2, dispatch 5, SLA 1, visit 1 and types[-1] == "completed" and "sla-breached" in types

    r = e.report()
    assert r["cases"]["completed"] == 1
    # First firings of level 1: parts, dispatch, SLA, visit, and the spare-parts sub-flow's
    # order-by-hand step (no ordering service is registered here, so its action failed).
    assert r["escalations"]["by_level"]["1"] == 5
    assert r["slas"]["resolution"]["breached"] == 1
