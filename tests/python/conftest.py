"""Shared fixtures. The module is found on PYTHONPATH (ctest sets it to build/python); run by hand:
PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
"""
import datetime
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if not any(pathlib.Path(p, "escalon", "py.typed").exists() for p in sys.path if p):
    sys.path.insert(0, str(ROOT / "build" / "python"))

import escalon  # noqa: E402

FLOWS = ROOT / "flows"
UTC = datetime.timezone.utc


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def clock():
    return escalon.ManualClock(at("2026-11-23T08:00:00Z"))


@pytest.fixture
def engine(clock):
    e = escalon.Engine(clock=clock)
    e.load(str(FLOWS))
    return e


# A flow with an action step that retries, then raises an incident (no on_error).
ACTION_FLOW = """flow: parts-check
data:
  part: { type: string, required: true }
  stock: { type: int }
  eta: { type: datetime }
  lead_time: { type: duration }
start: check
steps:
  check:
    call: erp.check_stock
    with: { part: part }
    retry: { attempts: 3, backoff: 10s }
    next: review
  review:
    role: parts-desk
    on: { done: closed }
  closed: { end: true }
"""


@pytest.fixture
def action_flow(tmp_path):
    p = tmp_path / "parts-check.yaml"
    p.write_text(ACTION_FLOW)
    return p
