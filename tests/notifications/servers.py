"""Real parts for delivery tests and the benchmark: an SMTP sink (aiosmtpd), an HTTP receiver,
a server that never answers, a Celery worker process and a Redis server that can be stopped and
started again.

Everything listens on 127.0.0.1 only.
"""

import base64
import contextlib
import email
import email.policy
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller

from tests.services import free_port

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll `predicate` until it is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


class SmtpSink:
    """Accepts every message and keeps it: (peer, mail_from, rcpt_tos, email.message). A
    recipient is accepted, or answered what `script(address, [reply, …])` says for its next
    RCPT TOs (an SMTP reply such as "451 4.3.0 Try again later")."""

    def __init__(self):
        # aiosmtpd logs every SMTP command at INFO.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.messages = []
        self.scripts = {}
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.lock:
            script = self.scripts.get(address)
            reply = script.pop(0) if script else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((session.peer, envelope.mail_from, envelope.rcpt_tos,
                                  envelope.content))  # fmt: skip
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def clear(self):
        with self.lock:
            self.messages.clear()
            self.scripts.clear()

    def script(self, address, replies):
        with self.lock:
            self.scripts[address] = list(replies)

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def count(self):
        with self.lock:
            return len(self.messages)

    def parsed(self):
        with self.lock:
            return [
                email.message_from_bytes(content, policy=email.policy.default)
                for *_, content in self.messages
            ]

    def connections(self):
        """How many SMTP connections delivered messages."""
        with self.lock:
            return len({peer for peer, *_ in self.messages})


class LocalServer:
    """An HTTP server on a free port of 127.0.0.1, in a thread of its own: `serve(handler)` in
    the subclass's __init__, then start() and stop()."""

    def serve(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Receiver(LocalServer):
    """An HTTP server recording every request: (path, headers, body). Answers 200, or what
    `script(path, [status, …])` says for the next requests to a path (a status may be a tuple
    (status, headers) or (status, headers, body)). Each answer waits `delay` seconds after the
    request is recorded (a slow receiver)."""

    def __init__(self):
        self.requests = []
        self.delay = 0.0
        self.scripts = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm on, each
            # answer would wait 40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    script = receiver.scripts.get(self.path)
                    answer = script.pop(0) if script else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                if not isinstance(answer, tuple):
                    answer = (answer, {})
                status, headers, *rest = answer
                payload = rest[0] if rest else (b"ok" if status < 300 else b"nope")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.serve(Handler)

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path, answers):
        with self.lock:
            self.scripts[path] = list(answers)

    def to(self, path):
        with self.lock:
            return [(headers, body) for p, headers, body in self.requests if p == path]

    def count(self):
        with self.lock:
            return len(self.requests)

    def clear(self):
        with self.lock:
            self.requests.clear()
            self.scripts.clear()
            self.delay = 0.0


class FakeTwilio(LocalServer):
    """A local stand-in for Twilio's Messages API (point TWILIO_API_BASE at `base`).

    POST /2010-04-01/Accounts/<sid>/Messages.json with Basic auth (the account SID and auth
    token it was made with; anything else is 401, error 20003) and a form of To, Body and From
    or MessagingServiceSid answers 201 with the message as Twilio's JSON (sid "SM…", status
    "queued"), or what `script(to, [answer, …])` says for the next messages to that number: a
    status (an error body of Twilio's shape with code = status * 100 …), or (status, code) for
    a Twilio error code, or (status, code, headers). Every request is kept in `messages` as its
    parsed form (with "_status", the answer's status, and "_sid", the message's sid)."""

    ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
    AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
    FROM = "+15005550006"

    def __init__(self):
        self.messages = []
        self.scripts = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, payload, headers = fake.answer(self.path, self.headers, form)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.serve(Handler)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def settings(self):
        """The settings (or worker environment) that send SMS here."""
        return {
            "TWILIO_ACCOUNT_SID": self.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": self.AUTH_TOKEN,
            "TWILIO_FROM": self.FROM,
            "TWILIO_API_BASE": self.base,
        }

    def script(self, to, answers):
        with self.lock:
            self.scripts[to] = list(answers)

    def to(self, number):
        with self.lock:
            return [m for m in self.messages if m.get("To") == number]

    def count(self):
        with self.lock:
            return len(self.messages)

    def clear(self):
        with self.lock:
            self.messages.clear()
            self.scripts.clear()

    def answer(self, path, headers, form):
        expected = f"/2010-04-01/Accounts/{self.ACCOUNT_SID}/Messages.json"
        credentials = base64.b64encode(f"{self.ACCOUNT_SID}:{self.AUTH_TOKEN}".encode()).decode()
        with self.lock:
            if path != expected:
                return 404, self.error(20404, "The requested resource was not found", 404), {}
            if headers.get("Authorization") != f"Basic {credentials}":
                return 401, self.error(20003, "Authentication Error - invalid username", 401), {}
            if (
                not form.get("To")
                or not form.get("Body")
                or not (form.get("From") or form.get("MessagingServiceSid"))
            ):
                return 400, self.error(21604, "A 'To' phone number is required.", 400), {}
            script = self.scripts.get(form["To"])
            scripted = script.pop(0) if script else 201
            if not isinstance(scripted, tuple):
                scripted = (scripted, scripted * 100)
            status, code, *rest = scripted
            sid = "SM" + uuid.uuid4().hex if status == 201 else None
            self.messages.append({**form, "_status": status, "_sid": sid})
            if status != 201:
                return status, self.error(code, f"Scripted error {code}", status), (rest or [{}])[0]
            return (
                201,
                {
                    "sid": sid,
                    "account_sid": self.ACCOUNT_SID,
                    "to": form["To"],
                    "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "body": form["Body"],
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "error_code": None,
                    "error_message": None,
                    "uri": f"/2010-04-01/Accounts/{self.ACCOUNT_SID}/Messages/{sid}.json",
                },
                {},
            )

    @staticmethod
    def error(code, message, status):
        more_info = f"https://www.twilio.com/docs/errors/{code}"
        return {"code": code, "message": message, "more_info": more_info, "status": status}


class SilentServer:
    """A TCP server that accepts every connection and never answers: an endpoint that hangs.
    Each connection is held for at most `hold` seconds (so a client without a timeout cannot
    hang a test for ever), then closed."""

    def __init__(self, hold=10.0):
        self.hold = hold
        self.accepted = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def run(self):
        held = []
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _address = self.sock.accept()
                held.append((connection, time.monotonic() + self.hold))
                with self.lock:
                    self.accepted += 1
            for connection, until in [h for h in held if h[1] <= time.monotonic()]:
                connection.close()
                held.remove((connection, until))
        for connection, _until in held:
            connection.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self):
        with self.lock:
            return self.accepted


class RedisServer:
    """A redis-server of our own, on a port that stays the same across stop() and start()."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="heliograph-redis-")
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: port_open(self.port), timeout=10, message="redis-server")
        return self

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def port_open(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def database_url(settings_dict):
    """A DATABASE_URL for the database Django is connected to (the test database)."""
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


class Worker:
    """`celery -A config worker --pool prefork` in a process group of its own, so that kill()
    is a kill -9 of the worker and its pool processes."""

    def __init__(self, *, database_url, redis_url, smtp_url, concurrency=2, env=None):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "EMAIL_URL": smtp_url,
            "WEBHOOKS_ALLOW_PRIVATE_IPS": "true",
            "SECRET_KEY": "worker-test-secret-key-not-for-production-use-0123456789",
            "DEBUG": "true",
            "SITE_URL": "http://testserver",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.concurrency = concurrency
        self.process = None
        self.log = None

    def start(self, timeout=30):
        # Kept open for the worker to write to; closed and removed by stop().
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="celery-worker-", suffix=".log", delete=False
        )
        celery = Path(sys.executable).with_name("celery")
        self.process = subprocess.Popen(
            [celery, "-A", "config", "worker", "--pool", "prefork", "-c", str(self.concurrency),
             "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for(self.ready, timeout=timeout, message="the Celery worker to be ready")
        return self

    def output(self):
        return Path(self.log.name).read_text(errors="replace") if self.log else ""

    def ready(self):
        if self.process.poll() is not None:
            raise AssertionError(f"the worker exited:\n{self.output()[-3000:]}")
        return " ready." in self.output()

    def kill(self):
        """kill -9, the worker and its children at once."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.log:
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)
            self.log = None


@contextlib.contextmanager
def broker(url):
    """Make this process's Celery app publish to `url` for real (not run tasks in-process)."""
    from config.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = url, False
    reset_producers(app)
    try:
        yield app
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        reset_producers(app)


def reset_producers(app):
    """Forget the app's connections, so that the next message goes to the broker URL now set."""
    from kombu import pools

    pools.reset()
    app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None
