#!/usr/bin/env python3
"""A back office of several worker processes sharing one PostgreSQL database.

    shared_back_office.py --db postgresql://user@host/db [--agents 3] [--requests 40] [--flows DIR]

One front-office process takes the calls (it starts a back-office-handover case for each and
hands it over) and later tells the customers the answers. AGENTS back-office processes, each
with its own Engine on the same database, work the back-office queue at the same time: each
picks a case from `query(step="back-office")` and answers it. Two agents often pick the same
case; the store lets exactly one answer through and the other is refused (the case has moved
on), as a real colleague would find it taken. At the end every case is resolved, each was
answered exactly once, and the table says who answered how many.
"""
import argparse
import collections
import multiprocessing
import pathlib
import random
import time

import escalon

ROOT = pathlib.Path(__file__).resolve().parents[2]


def engine_for(db, flows):
    engine = escalon.Engine(store=db)
    engine.load(flows)
    return engine


def front_office(db, flows, requests, done):
    engine = engine_for(db, flows)
    for i in range(requests):
        cid = engine.start("back-office-handover", {"customer": f"C-{i:03d}", "category": "billing"},
                           key=f"call-{i}", actor="front-office-1", channel="phone")
        engine.send(cid, "hand-over", {"request": f"Invoice {1000 + i} looks wrong"}, actor="front-office-1")
    informed = 0
    while informed < requests:
        waiting = engine.query(step="inform-customer")
        for case in waiting:
            try:
                engine.send(case.id, "customer-informed", actor="front-office-1")
                informed += 1
            except escalon.EventError:
                pass
        if not waiting:
            time.sleep(0.01)
    done.set()
    return {"front-office-1": informed}


def back_office(db, flows, name, seed, done):
    engine = engine_for(db, flows)
    rng = random.Random(seed)
    answered = taken = 0
    while not done.is_set():
        queue = engine.query(step="back-office")
        if not queue:
            time.sleep(0.01)
            continue
        case = rng.choice(queue[:5])  # the oldest few: agents collide on purpose
        try:
            engine.send(case.id, "answered", {"answer": f"checked by {name}"}, actor=name)
            answered += 1
        except escalon.EventError:
            taken += 1  # a colleague answered it first: the case has moved on
    return {name: answered, "collisions": taken}


def run(db, flows, agents, requests):
    engine_for(db, flows)  # stores the flow version once, before the workers race to do it
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Manager().Event()
    with ctx.Pool(agents + 1) as pool:
        jobs = [pool.apply_async(front_office, (db, flows, requests, done))]
        jobs += [pool.apply_async(back_office, (db, flows, f"agent-{i + 1}", i, done)) for i in range(agents)]
        totals = collections.Counter()
        for job in jobs:
            totals.update(job.get(timeout=300))
    engine = engine_for(db, flows)
    cases = engine.query(flow="back-office-handover", status=None)
    answers = collections.Counter()
    for case in cases:
        for r in engine.history(case.id):
            if r.type == "event" and r.event == "answered":
                answers[case.id] += 1
    return totals, cases, answers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="postgresql://user@host:port/db")
    ap.add_argument("--flows", default=str(ROOT / "flows"))
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args()
    totals, cases, answers = run(args.db, args.flows, args.agents, args.requests)
    print(f"{len(cases)} cases, {sum(c.status == 'completed' for c in cases)} resolved")
    for who in sorted(k for k in totals if k != "collisions"):
        print(f"  {who:15} {totals[who]:4}")
    print(f"  collisions      {totals['collisions']:4}  (an agent picked a case a colleague had just answered)")
    twice = [cid for cid, n in answers.items() if n != 1]
    print("every case answered exactly once" if not twice and len(answers) == len(cases) else f"answered twice: {twice}")


if __name__ == "__main__":
    main()
