"""The `date` data type from Python: datetime.date both ways, today() in the flow calendar's zone,
refusals, and a round trip through a SQLite store."""
import datetime
import json

import pytest

import escalon
from conftest import at

WARRANTY = """flow: warranty
calendar: budapest
calendars:
  budapest:
    timezone: Europe/Budapest
    hours: { mon-fri: "08:00-16:00" }
data:
  purchase_date: { type: date, required: true }
  repairs: { type: list, of: date }
  handover: { type: date, default: 2025-06-01 }
  opened: date
  slot: datetime
start: check
steps:
  check:
    on_enter:
      - { set: { opened: today() } }
    form:
      claimed: { type: date, required: true }
    on:
      claim:
        - { to: expired, when: "event.claimed - purchase_date > 730 days" }
        - { to: covered, set: { repairs: "coalesce(repairs, []) + [event.claimed]" } }
  covered: { end: true, outcome: covered }
  expired: { end: true, outcome: expired }
"""


@pytest.fixture
def warranty(tmp_path):
    p = tmp_path / "warranty.yaml"
    p.write_text(WARRANTY)
    return p


def test_dates_go_in_and_come_out_as_datetime_date(warranty):
    clock = escalon.ManualClock(at("2026-12-31T23:30:00Z"))  # already 1 January in Budapest
    e = escalon.Engine(clock=clock)
    e.load(str(warranty))
    cid = e.start("warranty", {"purchase_date": datetime.date(2024, 2, 29), "repairs": ["2025-01-15"],
                               "slot": at("2027-01-04T09:00:00Z")})
    data = e.get(cid).data
    assert data["purchase_date"] == datetime.date(2024, 2, 29)
    assert type(data["purchase_date"]) is datetime.date  # not a datetime
    assert data["repairs"] == [datetime.date(2025, 1, 15)]
    assert data["handover"] == datetime.date(2025, 6, 1)
    assert data["opened"] == datetime.date(2027, 1, 1)
    assert data["slot"] == at("2027-01-04T09:00:00Z")  # datetimes stay datetimes
    e.send(cid, "claim", {"claimed": datetime.date(2026, 2, 28)})  # 730 days: still covered
    c = e.get(cid)
    assert c.outcome == "covered"
    assert c.data["repairs"] == [datetime.date(2025, 1, 15), datetime.date(2026, 2, 28)]
    # The journal writes ISO days.
    started = json.loads(e.journal_jsonl(cid).splitlines()[0])
    assert "2024-02-29" in json.dumps(started)


def test_the_first_and_last_days_convert(warranty):
    e = escalon.Engine(clock=escalon.ManualClock(at("2026-06-01T12:00:00Z")))
    e.load(str(warranty))
    cid = e.start("warranty", {"purchase_date": datetime.date.min, "repairs": [datetime.date.max]})
    data = e.get(cid).data
    assert data["purchase_date"] == datetime.date.min
    assert data["repairs"] == [datetime.date.max]
    assert data["opened"] == datetime.date(2026, 6, 1)


def test_bad_days_and_datetimes_are_refused_as_bad_data(warranty):
    e = escalon.Engine(clock=escalon.ManualClock(at("2026-06-01T12:00:00Z")))
    e.load(str(warranty))
    with pytest.raises(escalon.EventError, match="February 2025 has 28 days") as bad:
        e.start("warranty", {"purchase_date": "2025-02-30"})
    assert bad.value.code == "bad_data"
    # A datetime is a subclass of date in Python, but an instant is not a day.
    with pytest.raises(escalon.EventError, match="is a datetime, but a date") as bad:
        e.start("warranty", {"purchase_date": at("2025-02-03T10:00:00Z")})
    assert bad.value.code == "bad_data"
    cid = e.start("warranty", {"purchase_date": "2025-02-03"})
    with pytest.raises(escalon.EventError, match="February 2026 has 28 days") as bad:
        e.send(cid, "claim", {"claimed": "2026-02-29"})
    assert bad.value.code == "bad_data"
    assert e.get(cid).step == "check"


def test_dates_survive_a_sqlite_store(tmp_path, warranty):
    clock = escalon.ManualClock(at("2026-12-31T23:30:00Z"))
    db = f"sqlite:{tmp_path / 'cases.db'}"
    first = escalon.Engine(store=db, clock=clock)
    first.load(str(warranty))
    cid = first.start("warranty", {"purchase_date": datetime.date(2024, 2, 29)})
    before = first.get(cid).data
    del first
    again = escalon.Engine(store=db, clock=clock)
    again.load(str(warranty))
    assert again.recover() == 1
    assert again.get(cid).data == before
    assert again.get(cid).data["opened"] == datetime.date(2027, 1, 1)
    again.send(cid, "claim", {"claimed": datetime.date(2026, 3, 1)})  # 731 days
    assert again.get(cid).outcome == "expired"
