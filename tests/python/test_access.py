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
