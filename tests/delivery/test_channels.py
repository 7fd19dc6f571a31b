#!/usr/bin/env python3
"""The mail and webhook channels against real servers: an SMTP sink (aiosmtpd) and a webhook sink
(http.server) that this script starts on free ports of 127.0.0.1, and channel_driver sending
notifications through escalon::mail_channel / webhook_channel.

Usage: test_channels.py CHANNEL_DRIVER
Exit 0 when every check passes, 1 when one fails, 77 (ctest: skipped) when aiosmtpd is missing.
"""
import datetime
import email
import email.policy
import email.utils
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import aiosmtpd  # noqa: F401
except ImportError:
    print("SKIPPED: the Python package aiosmtpd is not installed "
          "(apt-get install python3-aiosmtpd; scripts/setup.sh installs it)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sinks import SilentServer, SmtpSink, WebhookSink, free_port  # noqa: E402

DRIVER = sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__)
TMP = tempfile.mkdtemp(prefix="escalon-channels-")
FROM = "escalon@example.hr"
DIRECTORY = os.path.join(TMP, "directory.yaml")
with open(DIRECTORY, "w") as f:
    f.write("roles:\n  dispatch-lead: [ana@example.hr, ivo@example.hr]\n"
            "users:\n  marko: marko@example.hr\n")


def notification(key, **fields):
    n = {"key": key, "at": "2026-11-23T08:05:09Z", "case": "c17", "flow": "technician-visit",
         "step": "dispatch", "to": ["dispatch-lead"], "message": "Visit not scheduled within 4h",
         "reason": "escalation", "level": 2}
    n.update(fields)
    return {k: v for k, v in n.items() if v is not None}


def drive(args, notifications):
    """Runs channel_driver; its outcome per notification, in order."""
    stdin = "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in notifications)
    p = subprocess.run([DRIVER] + args, input=stdin.encode(), capture_output=True, timeout=120)
    assert p.returncode == 0, "channel_driver exited %d: %s" % (p.returncode, p.stderr.decode())
    outcomes = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert len(outcomes) == len(notifications), outcomes
    return outcomes


def mail_args(port, *extra):
    return ["mail", "--url", "smtp://127.0.0.1:%d" % port, "--from", FROM, "--directory", DIRECTORY,
            "--timeout-ms", "3000"] + list(extra)


def expect(outcome, kind, *parts):
    assert outcome["outcome"] == kind, "expected %s, got %s" % (kind, outcome)
    for part in parts:
        assert part in outcome["message"], "%r not in %r" % (part, outcome["message"])


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_mail_arrives_as_sent():
    subject = "Eskalacija 2. razine: kupac Đurđević čeka već 3 dana — žurno! 🚨"
    message = "Visit not scheduled within 4h.\n.\n..\n.line with a dot\nLast line"
    with_subject = notification("c17/42", subject=subject, message=message,
                                to=["dispatch-lead", "user:marko", "extra@example.hr", "ana@example.hr"])
    plain = notification("c17/43-2", step=None, reason="sla-breached", level=0, to=["user:marko"])
    sink = SmtpSink(os.path.join(TMP, "mails-1")).start()
    try:
        outcomes = drive(mail_args(sink.port), [with_subject, plain])
        for o in outcomes:
            expect(o, "ok")
        got = sink.messages()
    finally:
        sink.stop()
    assert len(got) == 2, got
    (envelope, raw), (envelope2, raw2) = got
    assert envelope == {"mail_from": FROM, "rcpt_tos": ["ana@example.hr", "ivo@example.hr", "marko@example.hr",
                                                        "extra@example.hr"]}, envelope
    m = parse(raw)
    assert m["From"] == FROM, m["From"]
    assert [a.addr_spec for a in m["To"].addresses] == envelope["rcpt_tos"], m["To"]
    assert str(m["Subject"]) == subject, str(m["Subject"])
    assert m["Message-ID"] == "<c17%2F42@example.hr>", m["Message-ID"]
    assert email.utils.parsedate_to_datetime(m["Date"]) == datetime.datetime(
        2026, 11, 23, 8, 5, 9, tzinfo=datetime.timezone.utc), m["Date"]
    assert m["Content-Transfer-Encoding"] == "base64"
    body = m.get_content().replace("\r\n", "\n")
    assert body == (message + "\n\nCase: c17\nFlow: technician-visit\nStep: dispatch\nReason: escalation\n"
                    "Level: 2\nWhen: 2026-11-23T08:05:09Z\nKey: c17/42\n"), repr(body)
    assert envelope2["rcpt_tos"] == ["marko@example.hr"], envelope2
    m2 = parse(raw2)
    assert str(m2["Subject"]) == "[Escalon] c17: sla-breached", str(m2["Subject"])
    assert m2["Message-ID"] == "<c17%2F43-2@example.hr>", m2["Message-ID"]
    assert "Key: c17/43-2" in m2.get_content()


def test_mail_without_address_is_permanent_and_sends_nothing():
    sink = SmtpSink(os.path.join(TMP, "mails-2")).start()
    try:
        [o] = drive(mail_args(sink.port), [notification("c1/1", to=["nobody", "user:ghost"])])
        expect(o, "permanent", "no mail address for 'nobody', 'user:ghost'")
        assert sink.messages() == []
    finally:
        sink.stop()


def test_mail_server_down_then_back():
    port = free_port()
    n = notification("c2/5")
    [o] = drive(mail_args(port), [n])
    expect(o, "error", "mail via smtp://127.0.0.1:%d failed: " % port)
    assert o["ms"] < 3000, o
    sink = SmtpSink(os.path.join(TMP, "mails-3"), port=port).start()
    try:
        [o] = drive(mail_args(port), [n])
        expect(o, "ok")
        [(envelope, raw)] = sink.messages()
        assert parse(raw)["Message-ID"] == "<c2%2F5@example.hr>"
    finally:
        sink.stop()


def test_mail_to_a_hanging_server_fails_at_the_timeout():
    silent = SilentServer()
    try:
        args = mail_args(silent.port)
        args[args.index("--timeout-ms") + 1] = "1500"
        [o] = drive(args, [notification("c3/1")])
    finally:
        silent.stop()
    expect(o, "error", "mail via smtp://127.0.0.1:%d failed: " % silent.port)
    assert 1400 <= o["ms"] <= 1500 + 2000, o


def test_mail_login_and_a_wrong_password():
    sink = SmtpSink(os.path.join(TMP, "mails-4"), login=("escalon", "pass-4-tests")).start()
    try:
        [ok] = drive(mail_args(sink.port, "--username", "escalon", "--password", "pass-4-tests"), [notification("c4/1")])
        expect(ok, "ok")
        [bad] = drive(mail_args(sink.port, "--username", "escalon", "--password", "wrong-secret"), [notification("c4/2")])
        expect(bad, "error", "mail via smtp://127.0.0.1:%d failed: " % sink.port, "(server reply 535)")
        assert "wrong-secret" not in bad["message"], bad
        [none] = drive(mail_args(sink.port), [notification("c4/3")])
        expect(none, "error")
        assert [parse(raw)["Message-ID"] for _, raw in sink.messages()] == ["<c4%2F1@example.hr>"]
    finally:
        sink.stop()


def test_mail_require_tls_refuses_a_server_without_starttls():
    sink = SmtpSink(os.path.join(TMP, "mails-5")).start()
    try:
        [o] = drive(mail_args(sink.port, "--require-tls"), [notification("c5/1")])
        expect(o, "error", "mail via smtp://127.0.0.1:%d failed: " % sink.port)
        assert sink.messages() == []
    finally:
        sink.stop()


def hook_args(port, *extra):
    return ["webhook", "--url", "http://127.0.0.1:%d/escalon/hook" % port, "--timeout-ms", "3000"] + list(extra)


def test_webhook_gets_the_json_and_the_idempotency_key():
    sink = WebhookSink().start()
    n = notification("c17/42", subject="Čeka već 3 dana", to=["dispatch-lead", "user:marko"], repeat=1)
    try:
        [o] = drive(hook_args(sink.port, "--header", "Authorization: Bearer t0k3n"), [n])
    finally:
        sink.stop()
    expect(o, "ok")
    [r] = sink.requests
    assert r["method"] == "POST" and r["path"] == "/escalon/hook", r
    assert r["headers"]["content-type"] == "application/json", r["headers"]
    assert r["headers"]["idempotency-key"] == "c17/42", r["headers"]
    assert r["headers"]["authorization"] == "Bearer t0k3n", r["headers"]
    assert "expect" not in r["headers"], r["headers"]
    assert json.loads(r["body"].decode("utf-8")) == n, r["body"]


def test_webhook_503_is_retried_and_the_next_attempt_succeeds():
    sink = WebhookSink().start()
    sink.fail_first(2, 503)
    try:
        outcomes = drive(hook_args(sink.port), [notification("c6/9")] * 3)
    finally:
        sink.stop()
    expect(outcomes[0], "error", "webhook http://127.0.0.1:%d/... answered 503: try later" % sink.port)
    expect(outcomes[1], "error", "answered 503")
    expect(outcomes[2], "ok")
    assert [r["headers"]["idempotency-key"] for r in sink.requests] == ["c6/9"] * 3


def test_webhook_statuses():
    answer = ('{"error": "' + "x" * 300 + '"}').encode()
    sink = WebhookSink().start()
    cases = [(400, "permanent"), (404, "permanent"), (410, "permanent"), (408, "error"), (429, "error"),
             (500, "error"), (502, "error"), (200, "ok"), (204, "ok")]
    sink.answer(*[status for status, _ in cases], body=answer)
    try:
        outcomes = drive(hook_args(sink.port), [notification("c7/%d" % i) for i in range(len(cases))])
    finally:
        sink.stop()
    for (status, kind), o in zip(cases, outcomes):
        if kind == "ok":
            expect(o, "ok")
            continue
        # The first 200 bytes of the answer, and no more.
        expect(o, kind, "answered %d: %s" % (status, answer[:200].decode()))
        assert o["message"].endswith(answer[:200].decode()), o


def test_webhook_down_then_back():
    sink = WebhookSink().start()
    port = sink.port
    sink.stop()
    [o] = drive(hook_args(port), [notification("c8/1")])
    expect(o, "error", "webhook http://127.0.0.1:%d/... failed: " % port)
    sink = WebhookSink(port=port).start()
    try:
        [o] = drive(hook_args(port), [notification("c8/1")])
    finally:
        sink.stop()
    expect(o, "ok")
    assert [r["headers"]["idempotency-key"] for r in sink.requests] == ["c8/1"]


def test_webhook_to_a_hanging_server_fails_at_the_timeout():
    silent = SilentServer()
    try:
        args = hook_args(silent.port)
        args[args.index("--timeout-ms") + 1] = "1500"
        [o] = drive(args, [notification("c9/1")])
    finally:
        silent.stop()
    expect(o, "error", "webhook http://127.0.0.1:%d/... failed: " % silent.port)
    assert 1400 <= o["ms"] <= 1500 + 2000, o


def main():
    tests = [(name, f) for name, f in globals().items() if name.startswith("test_") and callable(f)]
    failed = 0
    for name, test in tests:
        start = time.monotonic()
        try:
            test()
            print("ok   %s (%.1f s)" % (name, time.monotonic() - start))
        except Exception:
            failed += 1
            print("FAIL %s\n%s" % (name, traceback.format_exc()))
    print("%d of %d passed" % (len(tests) - failed, len(tests)))
    if failed:
        print("the sinks' files are in %s" % TMP)
        return 1
    shutil.rmtree(TMP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
