"""Servers for the channels' test: an SMTP sink (aiosmtpd) that writes every message it gets to
a folder, and a webhook sink (http.server) that records every request and answers with the
statuses it is told to, then 200. Both listen on 127.0.0.1 and run in threads of the test.

Run on its own to try a channel by hand:
    /usr/bin/python3 tests/delivery/sinks.py smtp 2525 /tmp/mails
    /usr/bin/python3 tests/delivery/sinks.py webhook 8080
"""
import json
import logging
import os
import socket
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port():
    """A port nothing listens on now (the kernel's pick; another process could take it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """Each message becomes NNNN.eml (the bytes after DATA) and NNNN.json (the envelope)."""

    def __init__(self, folder, port=None, login=None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.folder = folder
        self.port = port or free_port()
        os.makedirs(folder, exist_ok=True)
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink._write(envelope)
                return "250 OK"

        kwargs = {}
        # aiosmtpd logs every session and warns about AUTH without TLS: noise in a test's output.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="aiosmtpd")
        if login:
            def authenticator(server, session, envelope, mechanism, auth_data):
                given = (auth_data.login.decode(), auth_data.password.decode())
                # handled=False: aiosmtpd then answers 535 itself (with True it says nothing).
                return AuthResult(success=given == login, handled=False)
            # The test server has no certificate: AUTH over plain SMTP, on 127.0.0.1 only.
            kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self._lock = threading.Lock()

    def _write(self, envelope):
        with self._lock:
            n = len([f for f in os.listdir(self.folder) if f.endswith(".eml")]) + 1
            base = os.path.join(self.folder, "%04d" % n)
            with open(base + ".json", "w") as f:
                json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
            with open(base + ".eml", "wb") as f:
                f.write(envelope.original_content or envelope.content)

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    def messages(self):
        """[(envelope dict, message bytes)] in the order they came."""
        out = []
        for name in sorted(f for f in os.listdir(self.folder) if f.endswith(".eml")):
            base = os.path.join(self.folder, name[:-4])
            with open(base + ".json") as f, open(base + ".eml", "rb") as g:
                out.append((json.load(f), g.read()))
        return out


class WebhookSink:
    """Records each request as {"method", "path", "headers" (lower-case names), "body"}."""

    def __init__(self, port=None, delay=None):
        self.port = port or free_port()
        # delay(): seconds to wait before answering each request (a slow receiver); the request
        # counts as received before the wait, as a real receiver may act before it answers.
        self.delay = delay
        self.requests = []
        self._answers = []
        self._lock = threading.Lock()
        self._server = None

    def answer(self, *statuses, body=b""):
        """The next requests get these statuses (then 200 again), with `body`."""
        with self._lock:
            self._answers.extend((s, body) for s in statuses)

    def fail_first(self, n, status=503):
        self.answer(*([status] * n), body=b"try later")

    def _next(self, request):
        with self._lock:
            self.requests.append(request)
            return self._answers.pop(0) if self._answers else (200, b'{"ok": true}')

    def start(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, answer = sink._next({"method": "POST", "path": self.path, "body": body,
                                             "headers": {k.lower(): v for k, v in self.headers.items()}})
                if sink.delay:
                    time.sleep(sink.delay())
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender was killed while we waited (test_serve_sigkill.py)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts TCP connections (the kernel does, from the backlog) and never says a word: a
    server that hangs."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self.port = self._socket.getsockname()[1]

    def stop(self):
        self._socket.close()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "smtp":
        SmtpSink(sys.argv[3] if len(sys.argv) > 3 else "mails", int(sys.argv[2])).start()
    elif len(sys.argv) >= 3 and sys.argv[1] == "webhook":
        WebhookSink(int(sys.argv[2])).start()
    else:
        sys.exit(__doc__)
    print("listening; Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
