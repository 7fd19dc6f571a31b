#!/usr/bin/env bash
# Runs the service-desk host example and checks what it did: the console story, the work
# queues, and that every mail in the spool is a well-formed RFC 5322 message (parsed by
# Python's email package with its strict default policy).
# Usage: test_service_desk.sh PATH/TO/service_desk SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
spool=$(mktemp -d)
trap 'rm -rf "$spool"' EXIT
out=$("$bin" "$src/flows" "$spool")
echo "$out"
fail() { echo "FAIL: $1"; exit 1; }
grep -q "notify complaints-agent             SLA 'first-response' breached" <<<"$out" || fail "SLA breach notice"
grep -q "Parts service: 3 calls" <<<"$out" || fail "the timed-out order was retried"
grep -q "consult 2 is at 'schedule-callback'" <<<"$out" || fail "no expert answered: callback"
grep -q "technician-visit-1/order-parts     in-transit" <<<"$out" || fail "the confirmed order is in transit"
grep -q "complaint-1                        assigned             high    OVERDUE level 2" <<<"$out" || fail "complaint ladder"
mails=$(ls "$spool"/*.eml | wc -l)
[ "$mails" -ge 8 ] || fail "expected at least 8 mails, got $mails"
/usr/bin/python3 - "$spool" <<'PY'
import email, email.policy, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.eml")):
    raw = path.read_bytes()
    assert b"\r\n\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), f"{path}: lines must end in CRLF"
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for h in ("From", "To", "Date", "Subject", "Message-ID"):
        assert msg[h], f"{path}: no {h}"
    assert msg["Date"].datetime is not None, f"{path}: bad Date"
    assert msg["To"].addresses[0].domain == "service-desk.example", f"{path}: bad To {msg['To']}"
    assert msg.get_content().startswith("Case "), f"{path}: body"
print("mails ok")
PY
echo "service desk ok"
