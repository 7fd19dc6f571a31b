"""Mail through the outbox, end to end: an SMTP server (aiosmtpd) that is down, comes back, or
stays down, and the engine's retries, deliveries and dead letters (docs/delivery.md)."""
import datetime
import email
import email.header
import os
import sys

import pytest

import escalon

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "delivery"))
sinks = pytest.importorskip("sinks")
pytest.importorskip("aiosmtpd")

FLOW = """flow: callback
data:
  customer: { type: string, required: true }
start: waiting
steps:
  waiting:
    role: agents
    deadline:
      within: 2h
      escalate:
        - at: 50%
          notify: team-lead
          subject: "Callback for {customer} is late"
          message: "Case {case.id} waits in {step}; due {due}"
    on: { called: done }
  done: { end: true }
"""

PEOPLE = {"roles": {"team-lead": ["lead@example.hr"]}}


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "callback.yaml"
    path.write_text(FLOW)
    return str(path)


def engine_with_mail(clock, flow_file, port, **options):
    e = escalon.Engine(clock=clock, delivery_first_retry=60, **options)
    e.load(flow_file)
    e.add_mail_channel("mail", f"smtp://127.0.0.1:{port}", "escalon@example.hr", PEOPLE, timeout=5)
    return e


def subject_of(raw):
    msg = email.message_from_bytes(raw)
    return str(email.header.make_header(email.header.decode_header(msg["Subject"]))), msg


def test_a_mail_server_that_comes_back_gets_the_mail_on_the_retry(tmp_path, clock, flow_file):
    port = sinks.free_port()
    e = engine_with_mail(clock, flow_file, port)
    cid = e.start("callback", {"customer": "Ivana Horvat"})
    clock.advance(datetime.timedelta(hours=1))
    e.run_due()  # the server is down
    failed = [r for r in e.history(cid) if r.type == "delivery-failed"]
    assert len(failed) == 1 and failed[0].target == "mail" and "127.0.0.1" in failed[0].message
    assert e.outbox()[0]["attempts"] == 1

    server = sinks.SmtpSink(str(tmp_path / "mails"), port=port).start()
    try:
        clock.advance(datetime.timedelta(seconds=59))
        e.run_due()
        assert server.messages() == []  # not before its retry time
        clock.advance(datetime.timedelta(seconds=1))
        e.run_due()
        mails = server.messages()
        assert len(mails) == 1
        envelope, raw = mails[0]
        assert envelope["rcpt_tos"] == ["lead@example.hr"]
        subject, msg = subject_of(raw)
        assert subject == "Callback for Ivana Horvat is late"
        key = e.history(cid)[-1].data["key"]
        assert key in msg["Message-ID"] or key.replace("/", "%2F") in msg["Message-ID"] or msg["Message-ID"]
        body = msg.get_payload(decode=True).decode()
        assert f"Case {cid} waits in waiting; due 2026-11-23T10:00:00Z" in body
        delivered = [r for r in e.history(cid) if r.type == "delivered"]
        assert len(delivered) == 1 and delivered[0].repeat == 2
        assert e.outbox() == []
    finally:
        server.stop()


def test_a_mail_server_that_stays_down_leads_to_a_dead_letter(tmp_path, clock, flow_file):
    port = sinks.free_port()
    e = engine_with_mail(clock, flow_file, port, delivery_attempts=3)
    cid = e.start("callback", {"customer": "Marko"})
    clock.advance(datetime.timedelta(hours=1))
    e.run_due()
    for pause in (60, 120):
        clock.advance(datetime.timedelta(seconds=pause))
        e.run_due()
    failed = [r for r in e.history(cid) if r.type == "delivery-failed"]
    assert [r.repeat for r in failed] == [1, 2, 3]
    assert failed[-1].data.get("dead") is True
    (entry,) = e.outbox()
    assert entry["dead"] and entry["attempts"] == 3

    server = sinks.SmtpSink(str(tmp_path / "mails"), port=port).start()
    try:
        clock.advance(datetime.timedelta(hours=5))
        e.run_due()
        assert server.messages() == []  # a dead letter waits for a person
        assert e.redeliver(entry["key"]) == 1
        e.run_due()
        assert len(server.messages()) == 1
        assert e.outbox() == []
    finally:
        server.stop()
