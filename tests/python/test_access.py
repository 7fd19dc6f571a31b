"""Authorization from Python (docs/security.md): roles= on each call, PermissionError, the
Engine's authorization= and access= settings."""
import pytest

import escalon

FLOW = """flow: desk
roles: [front-office, back-office, supervisor]
start: intake
steps:
  intake:
    role: front-office
    on:
      submit: review
      fast-track: { to: review, allow: [supervisor] }
  review:
    role: back-office
    on: { approve: done }
  done: { end: true }
"""


@pytest.fixture
def desk(tmp_path, clock):
    (tmp_path / "desk.yaml").write_text(FLOW)

    def make(**options):
        e = escalon.Engine(clock=clock, **options)
        e.load(str(tmp_path / "desk.yaml"))
        return e
    return make


def test_roles_are_checked_and_a_refusal_is_recorded(desk):
    e = desk()
    cid = e.start("desk", actor="ana", roles=["front-office"])
    with pytest.raises(escalon.PermissionError) as refused:
        e.send(cid, "submit", actor="bo", roles=["back-office"])
    assert refused.value.code == "not_permitted"
    assert isinstance(refused.value, escalon.EventError)
    assert str(refused.value) == ("'bo' (roles: back-office) may not send 'submit' in step 'intake' of case "
                                  "'desk-1'; that needs one of: front-office")
    last = e.history(cid)[-1]
    assert (last.type, last.actor) == ("rejected", "bo")
    with pytest.raises(escalon.PermissionError):
        e.send(cid, "fast-track", actor="ana", roles=["front-office"])
    e.send(cid, "fast-track", actor="sam", roles=["supervisor"])
    assert e.get(cid).steps == ["review"]
    with pytest.raises(escalon.PermissionError, match="EngineOptions::access.cancel"):
        e.cancel(cid, "dup", actor="sam", roles=["supervisor"])
    e.cancel(cid, "dup")  # no roles: the host's own call
    assert e.get(cid).status == "cancelled"


def test_access_grants_and_required_mode(desk):
    e = desk(authorization="required", access={"cancel": ["supervisor"], "admin": ["user:root"]})
    with pytest.raises(escalon.PermissionError, match="carries no roles"):
        e.start("desk")
    cid = e.start("desk", actor="root", roles=[])
    e.cancel(cid, "dup", actor="sam", roles=["supervisor"])
    assert e.get(cid).status == "cancelled"
    with pytest.raises(ValueError, match="access has no entry 'delete'"):
        desk(access={"delete": ["x"]})
    with pytest.raises(ValueError, match="authorization must be"):
        desk(authorization="strict")


PII_FLOW = """flow: callback
data:
  customer: { type: string, required: true, pii: true }
  topic: { type: string }
start: call
steps:
  call: { on: { done: closed } }
  closed: { end: true }
"""


def test_personal_data_is_hidden_unless_asked_for(tmp_path, clock):
    (tmp_path / "callback.yaml").write_text(PII_FLOW)
    e = escalon.Engine(clock=clock, access={"read_personal": ["supervisor"]})
    e.load(str(tmp_path / "callback.yaml"))
    cid = e.start("callback", {"customer": "Ana Horvat", "topic": "billing"})
    assert "Ana Horvat" not in e.journal_jsonl(cid)
    assert '"customer":"***"' in e.journal_jsonl(cid)
    assert "Ana Horvat" in e.journal_jsonl(cid, personal=True)
    assert "Ana Horvat" in e.journal_jsonl(cid, personal=True, actor="sam", roles=["supervisor"])
    with pytest.raises(escalon.PermissionError, match="may not read personal data"):
        e.journal_jsonl(cid, personal=True, actor="dan", roles=["dispatch"])
    assert e.get(cid).data["customer"] == "Ana Horvat"  # the host's own read


def test_the_cli_hides_personal_data_unless_asked(tmp_path):
    import os
    import subprocess
    tool = os.environ.get("ESCALON_CLI")
    if not tool:
        pytest.skip("ESCALON_CLI names the escalon tool (ctest sets it)")
    (tmp_path / "callback.yaml").write_text(PII_FLOW)
    (tmp_path / "day.yaml").write_text("""clock: 2026-11-23T08:00:00Z
cases:
  - { id: c1, flow: callback, data: { customer: Ana Horvat, topic: billing } }
events:
  - { at: 2026-11-23T08:10:00Z, case: c1, update: { customer: Ana Kovac } }
until: 2026-11-23T09:00:00Z
""")
    db = tmp_path / "cases.db"

    def cli(*args):
        r = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout
    hidden = cli("run", str(tmp_path / "callback.yaml"), "-s", str(tmp_path / "day.yaml"), "--db", str(db), "-q")
    assert "Ana Horvat" not in hidden and '"customer":"***"' in hidden
    assert "customer: *** -> ***" in cli("inspect", "--db", str(db), "c1")
    assert "customer: Ana Horvat -> Ana Kovac" in cli("inspect", "--db", str(db), "c1", "--personal")
