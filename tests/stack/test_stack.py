"""The production stack (deploy/stack.py: nginx, two gunicorn nodes, two Celery workers, beat,
PostgreSQL, Redis, an SMTP sink), started once for this module, and what visitors and
subscribers see while its parts fail. Everything is measured with the wall clock.

The PostgreSQL outage lasts STACK_OUTAGE_SECONDS (60, as the issue says; under CI=true always
60, elsewhere it may be set shorter to try things quickly).
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from deploy.stack import Stack, find_nginx
from tests.services import IN_CI, apt_install, free_port, need, pg_bin

pytestmark = [pytest.mark.stack, pytest.mark.postgres, pytest.mark.redis, pytest.mark.celery]

OUTAGE_SECONDS = 60.0 if IN_CI else float(os.environ.get("STACK_OUTAGE_SECONDS") or 60)
EMAIL = "stack-reader@example.org"
# Deliveries wait for the workers to reconnect and beat's sweeper (every 30 s) after Redis
# returns; the bound for recovering from a Redis failure is two minutes.
DELIVERY_SECONDS = 120
# Once something has arrived, how long to keep watching for a second copy.
REPEAT_WATCH_SECONDS = 5


class Receiver:
    """A webhook endpoint on 127.0.0.1 recording every POST body; answers 200."""

    def __init__(self):
        self.bodies = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def about(self, text):
        with self.lock:
            return [body for body in self.bodies if text.encode() in body]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Api:
    """The management API with a key of the demo tenant acme."""

    def __init__(self, base, key):
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"OAuth {key}"

    def get(self, path, base=None):
        return self.http.get(f"{base or self.base}/api/v1/{path}", timeout=10)

    def post(self, path, body, base=None):
        return self.http.post(f"{base or self.base}/api/v1/{path}", json=body, timeout=10)


@pytest.fixture(scope="module")
def stack():
    if find_nginx() is None:
        need("nginx (Debian package nginx)")
    if shutil.which("wrk") is None and not apt_install("wrk"):
        need("wrk (Debian package wrk)")
    if pg_bin() is None or shutil.which("redis-server") is None:
        need("PostgreSQL 15 and Redis")
    with Stack(free_port(), env={"API_RATE_LIMIT_BURST": "1000"}) as stack:
        yield stack


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def acme(stack, receiver):
    """(api, page code, component code) of the demo page acme, with two confirmed subscribers
    of ours: an email address and a webhook to `receiver`."""
    # Subscribers added without confirmation (staff vouch for them): trusted tenants only.
    stack.manage("shell", "-c", "from status.models import Tenant; "
                 "Tenant.objects.filter(slug='acme').update(trusted=True)")  # fmt: skip
    key = stack.manage("createapikey", "acme", "--name", "stack test").strip().splitlines()[-1]
    api = Api(stack.base, key)
    pages = api.get("pages").json()
    page = next(p["id"] for p in pages if p["subdomain"] == "acme" or "acme" in p["url"])
    components = api.get(f"pages/{page}/components").json()
    component = next(c["id"] for c in components if not c.get("group"))
    for body in ({"email": EMAIL}, {"endpoint": receiver.url}):
        body["skip_confirmation_notification"] = True
        created = api.post(f"pages/{page}/subscribers", {"subscriber": body})
        assert created.status_code == 201, created.text
    return api, page, component


def declare(api, page, component, name, base=None):
    body = {"incident": {"name": name, "status": "investigating", "body": f"{name}: looking.",
                         "components": {component: "degraded_performance"}}}  # fmt: skip
    return api.post(f"pages/{page}/incidents", body, base=base)


def emails_about(stack, text):
    found = []
    for message in stack.sink.messages():
        parsed = message_from_bytes(message.as_bytes())
        if parsed["To"] and EMAIL in parsed["To"] and text in (parsed["Subject"] or ""):
            found.append(parsed)
    return found


def message_ids(stack):
    return [message["Message-ID"] for message in stack.sink.messages()]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def delivered_once(stack, receiver, name, timeout):
    """Wait until the email and the webhook about `name` arrived, watch a little longer, and
    return how many of each arrived."""
    wait_for(lambda: emails_about(stack, name) and receiver.about(name), timeout,
             f"the email and the webhook about {name!r}")  # fmt: skip
    time.sleep(REPEAT_WATCH_SECONDS)
    return len(emails_about(stack, name)), len(receiver.about(name))


def node_url(stack, index):
    return f"http://127.0.0.1:{stack.node_ports[index]}"


def test_smoke_cached_page_incident_seen_on_the_other_node_delivered_once(stack, acme, receiver):
    first = requests.get(f"{stack.base}/p/acme/", timeout=10)
    second = requests.get(f"{stack.base}/p/acme/", timeout=10)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cache-Status"] in ("MISS", "EXPIRED")
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.content == first.content
    # Static files come from nginx, not gunicorn.
    css = re.search(r'href="(/static/[^"]+\.css)"', first.text).group(1)
    static = requests.get(f"{stack.base}{css}", timeout=10)
    assert static.status_code == 200 and "immutable" in static.headers["Cache-Control"]
    # Never cached: the console (and a signed-in visitor's requests).
    console = requests.get(f"{stack.base}/manage/", allow_redirects=False, timeout=10)
    assert console.status_code == 302 and "X-Cache-Status" not in console.headers

    api, page, component = acme
    name = f"Smoke {uuid.uuid4().hex[:8]}"
    posted = declare(api, page, component, name, base=node_url(stack, 0))
    assert posted.status_code == 201, posted.text
    declared = time.monotonic()
    while name not in requests.get(f"{node_url(stack, 1)}/p/acme/", timeout=10).text:
        assert time.monotonic() - declared < 5, "node 2 never showed the incident"
        time.sleep(0.02)
    seen_after = time.monotonic() - declared
    assert seen_after <= 1.0, f"node 2 showed the incident after {seen_after:.2f} s"

    assert delivered_once(stack, receiver, name, timeout=30) == (1, 1)
    ids = message_ids(stack)
    assert len(ids) == len(set(ids)), "an email went out twice"


def test_micro_cached_bodies_start_on_a_page_of_their_cache_file(stack, acme):
    """config/cache_alignment.py: nginx sends a kept body with sendfile() from its cache file,
    which costs twice as much from an offset that is not a multiple of the page size."""
    paths = ["/p/acme/", "/p/acme/history/", "/p/acme/api/v2/summary.json"]
    for path in paths:
        for _ in range(2):
            answer = requests.get(f"{stack.base}{path}", timeout=10)
            assert answer.status_code == 200, path
            assert "X-Cache-Align" not in answer.headers  # nginx hides the padding
    found = {}
    for cached in (stack.folder / "nginx" / "cache").rglob("*"):
        if not cached.is_file():
            continue
        data = cached.read_bytes()
        key = data[data.index(b"\nKEY: ") + 6 : data.index(b"\n", data.index(b"\nKEY: ") + 1)]
        body_start = int.from_bytes(data[56:58], "little")  # ngx_http_file_cache_header_t
        found[key.decode()] = body_start
        assert data[body_start - 4 : body_start] == b"\r\n\r\n", key
    for path in paths:
        (body_start,) = [at for key, at in found.items() if f"{path} " in key]
        assert body_start % 4096 == 0, (path, body_start)


def wrk(url, seconds, headers=()):
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "5s", url]
    for header in headers:
        command += ["-H", header]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(output):
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": requests_done,
        "bad": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def test_a_web_node_killed_under_load_fails_no_request(stack):
    """kill -9 of a whole node (gunicorn's master and workers) while wrk GETs through nginx.

    Every request goes to the web nodes: the micro-cache is bypassed (a header nginx honours
    from 127.0.0.1 only), and the nodes answer API v2's summary from their own cache. A request
    the dead node had not begun to answer is retried on the other one; one whose answer had
    begun (nginx had passed its headers on) cannot be, by any proxy: with a small answer (one
    write) that window is microseconds a request, with the 200 kB status page milliseconds,
    and about one request in a thousand or two would be cut short.
    """
    url = f"{stack.base}/p/acme/api/v2/summary.json"
    bypass = "X-Cache-Bypass: 1"
    warm = requests.get(url, headers={"X-Cache-Bypass": "1"}, timeout=10)
    assert warm.status_code == 200 and warm.headers["X-Cache-Status"] == "BYPASS"
    access_log = stack.logs / "nginx-access.log"
    logged_before = access_log.read_text().count("\n")
    victim = stack.nodes[0]

    load = wrk(url, 8, headers=[bypass])
    time.sleep(3)
    victim.kill()
    output, _ = load.communicate(timeout=60)
    time.sleep(1.5)  # nginx writes its access log every second
    try:
        result = wrk_result(output)
        assert result["requests"] > 1000, output
        assert result["bad"] == 0, output
        assert result["socket_errors"] == 0, output
        # Both nodes served the run until one was killed, then the other alone.
        logged = "\n".join(access_log.read_text().splitlines()[logged_before:])
        assert logged.count(f"127.0.0.1:{victim.port} ") > 100
        assert logged.count(f"127.0.0.1:{stack.nodes[1].port} ") > 100
    finally:
        stack.restart_node(0)


def test_redis_down_pages_render_deliveries_follow_once_when_it_returns(stack, acme, receiver):
    api, page, component = acme
    name = f"During a Redis outage {uuid.uuid4().hex[:8]}"
    stack.stop_redis()
    try:
        for url in (f"{stack.base}/p/acme/", f"{node_url(stack, 0)}/p/acme/",
                    f"{node_url(stack, 1)}/p/acme/api/v2/summary.json"):  # fmt: skip
            for _ in range(3):
                answer = requests.get(url, headers={"X-Cache-Bypass": "1"}, timeout=10)
                assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        started = time.monotonic()
        posted = declare(api, page, component, name)
        assert posted.status_code == 201, posted.text
        assert time.monotonic() - started < 2.0
        # The other node shows it within its PAGE_CACHE_LOCAL_SECONDS (1 s), rendering from
        # the database.
        declared = time.monotonic()
        while True:
            shown = requests.get(f"{node_url(stack, 1)}/p/acme/", timeout=10)
            assert shown.status_code == 200
            if name in shown.text:
                break
            assert time.monotonic() - declared < 2.0, "the other node never showed the incident"
            time.sleep(0.05)
        time.sleep(2)
        assert not emails_about(stack, name) and not receiver.about(name)
    finally:
        stack.start_redis()
    back = time.monotonic()
    assert delivered_once(stack, receiver, name, timeout=DELIVERY_SECONDS) == (1, 1)
    print(f"delivered {time.monotonic() - back - REPEAT_WATCH_SECONDS:.1f} s after Redis returned")
    ids = message_ids(stack)
    assert len(ids) == len(set(ids)), "an email went out twice"


def sign_in(base):
    session = requests.Session()
    form = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    signed_in = session.post(
        f"{base}/accounts/login/",
        data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert signed_in.status_code == 200 and "/manage/" in signed_in.url, signed_in.text[:500]
    return session


def test_postgresql_down_pages_stay_up_writes_get_503_then_work_again(stack, acme):
    api, page, component = acme
    before = f"Before the database outage {uuid.uuid4().hex[:8]}"
    posted = declare(api, page, component, before)
    assert posted.status_code == 201, posted.text
    incident = posted.json()["id"]
    public = [f"{stack.base}/p/acme/", f"{stack.base}/p/acme/incidents/{incident}/",
              f"{stack.base}/p/acme/api/v2/summary.json"]  # fmt: skip
    # Each public URL read once the incident shows, so that nginx holds a good copy.
    for url in public:
        wait_for(lambda url=url: before in requests.get(url, timeout=10).text, 15,
                 f"{url} to show the incident")  # fmt: skip
    console = sign_in(stack.base)
    assert console.get(f"{stack.base}/manage/", timeout=10).status_code == 200

    stack.postgres.stop("fast")
    down = time.monotonic()
    reads = {}
    writes = []
    try:
        while time.monotonic() - down < OUTAGE_SECONDS:
            for url in public:
                answer = requests.get(url, timeout=10)
                reads.setdefault(answer.status_code, 0)
                reads[answer.status_code] += 1
                assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
                assert before in answer.text, url
            if len(writes) < 3:
                writes.append(declare(api, page, component, "During the database outage"))
                writes.append(console.get(f"{stack.base}/manage/", timeout=10))
            time.sleep(1)
    finally:
        stack.postgres.start()
    print(f"{sum(reads.values())} reads during {OUTAGE_SECONDS:.0f} s without PostgreSQL")

    api_write, console_read = writes[0], writes[1]
    assert api_write.status_code == 503, api_write.text[:300]
    assert api_write.json()["message"]
    assert console_read.status_code == 503, console_read.text[:300]
    assert "<html" in console_read.text.lower()

    after = f"After the database outage {uuid.uuid4().hex[:8]}"
    posted = declare(api, page, component, after)
    assert posted.status_code == 201, posted.text
    # The micro-cache keeps a page at most s-maxage (5 s), then refreshes it in the background.
    wait_for(lambda: after in requests.get(public[0], timeout=10).text, 15,
             "the page to show the write made after the outage")  # fmt: skip
    assert json.loads(requests.get(public[2], timeout=10).text)["page"]["id"] == page
