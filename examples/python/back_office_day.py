#!/usr/bin/env python3
"""A day of a back office (and the next morning) on a manual clock: technician-visit requests arrive through the day,
the parts desk and the dispatchers work their queues with limited hands, deadlines escalate,
and the supervisor's KPI table is printed at the end.

    back_office_day.py [--flows DIR] [--db sqlite:day.db] [--seed N] [--requests N]

Deterministic for a seed: the same seed prints the same table.
"""
import argparse
import datetime
import pathlib
import random

import escalon

ROOT = pathlib.Path(__file__).resolve().parents[2]
MINUTE = datetime.timedelta(minutes=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", default=str(ROOT / "flows"))
    ap.add_argument("--db", default="memory:", help="store: memory: or sqlite:PATH")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    start = datetime.datetime(2026, 11, 24, 7, 0, tzinfo=datetime.timezone.utc)  # Tuesday 08:00 in Zagreb
    clock = escalon.ManualClock(start)
    engine = escalon.Engine(store=args.db, clock=clock)
    engine.load(args.flows)
    alarms = []
    engine.on_notify(lambda n: alarms.append(n) if n.reason == "escalation" else None)

    # Arrivals through the working day (08:00-16:00 local), as (minute, customer).
    arrivals = sorted((rng.randrange(0, 8 * 60), f"C-{i:03d}") for i in range(args.requests))
    hands = {"front-office": 1, "parts-desk": 1, "dispatcher": 1}
    # The day and the next morning in 5-minute ticks: what was left overnight escalates at 08:00.
    for minute in range(0, 28 * 60, 5):
        clock.set(start + minute * MINUTE)
        engine.run_due()
        while arrivals and arrivals[0][0] <= minute:
            _, customer = arrivals.pop(0)
            engine.start("technician-visit", {"customer": customer}, channel=rng.choice(["phone", "email", "chat"]))
        if not (minute < 8 * 60 or 24 * 60 <= minute):
            continue  # the office is closed
        # Each role clears at most `hands` cases per tick, oldest (and most urgent) first.
        for case in engine.query(role="front-office", limit=hands["front-office"]):
            slots = [clock.now() + datetime.timedelta(days=rng.randint(2, 5), hours=rng.randint(0, 6))]
            engine.send(case.id, "submit", {"preferred_slots": slots, "product": rng.choice(["washer", "oven", "fridge"]),
                                            "parts_needed": rng.random() < 0.4}, actor="agent")
        if minute % 60 == 0:
            for case in engine.query(step="order-parts", limit=hands["parts-desk"]):
                engine.send(case.id, "parts-arrived", actor="parts-desk")
        if minute % 20 == 0:
            for case in engine.query(step="schedule", limit=hands["dispatcher"]):
                engine.send(case.id, "booked", {"slot": case.data["preferred_slots"][0]}, actor="dispatcher")

    print(f"Back office day {start:%Y-%m-%d} and the next morning: {args.requests} requests, "
          f"{len(alarms)} escalation alarms")
    for n in alarms[:5]:
        print(f"  {n.at:%a %H:%M} {n.case_id} {n.step}: level {n.level} to {', '.join(n.to)}")
    print(engine.report_text())
    print("Work queues at the end:")
    for role in ("front-office", "parts-desk", "parts-lead", "dispatcher", "technician"):
        queue = engine.query(role=role)
        overdue = sum(c.overdue for c in queue)
        print(f"  {role:<14} {len(queue):>4} open  {overdue:>4} overdue")


if __name__ == "__main__":
    main()
