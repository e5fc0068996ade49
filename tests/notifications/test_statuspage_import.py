"""`manage.py import_statuspage --public-url`: a page imported from the public JSON of a
Statuspage page (notifications/statuspage_import.py), served by a fake Statuspage on 127.0.0.1
from the real samples in tests/fixtures/statuspage/ and a page built in Statuspage's documented
shapes (tests/fixtures/statuspage/grouped/). What a visitor of the new page sees, that nothing
is sent, that a dry run writes nothing, and that bad sources are refused with a message."""

import io
import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command

from incidents.models import ComponentImpact, Incident, IncidentUpdate
from notifications import statuspage_import
from notifications.models import Delivery, NotificationEvent, Subscriber
from status.models import (
    AuditLogEntry,
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Page,
)
from tests.factories import make_tenant
from tests.notifications.servers import LocalServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "statuspage"
GROUPED = FIXTURES / "grouped"
DOCUMENTS = statuspage_import.DOCUMENTS


class FakeStatuspage(LocalServer):
    """Statuspage's public API v2 of one page: /api/v2/<document> from `folder`, or what
    `script(document, [answer, …])` says for the next requests (an answer: (status, headers,
    body), a number of seconds to wait before answering as usual, or ("drip", seconds, body):
    the body a byte at a time, one every `seconds`). Records the paths asked."""

    def __init__(self, folder):
        self.documents = {name: (folder / name).read_bytes() for name in DOCUMENTS}
        self.scripts = {}
        self.paths = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                name = self.path.removeprefix("/api/v2/")
                with server.lock:
                    server.paths.append(self.path)
                    script = server.scripts.get(name)
                    answer = script.pop(0) if script else None
                if isinstance(answer, (int, float)):
                    time.sleep(answer)
                    answer = None
                if isinstance(answer, tuple) and answer[0] == "drip":
                    _drip, seconds, body = answer
                    try:
                        self.send_response(200)
                        self.send_header("content-length", str(len(body)))
                        self.end_headers()
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(seconds)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                if answer is None:
                    if self.path.startswith("/api/v2/") and name in server.documents:
                        answer = (200, {"content-type": "application/json"}, server.documents[name])
                    else:
                        answer = (404, {"content-type": "text/html"}, b"<h1>Not found</h1>")
                status, headers, body = answer
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.serve(Handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def script(self, name, answers):
        with self.lock:
            self.scripts[name] = list(answers)

    def replace(self, name, data):
        self.documents[name] = json.dumps(data).encode()


@pytest.fixture
def private_ips(settings):
    # The fake Statuspage is on 127.0.0.1, which the address filter refuses otherwise.
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


@pytest.fixture
def grouped(private_ips):
    server = FakeStatuspage(GROUPED).start()
    yield server
    server.stop()


@pytest.fixture
def github(private_ips):
    server = FakeStatuspage(FIXTURES).start()
    yield server
    server.stop()


@pytest.fixture
def tenant(db):
    return make_tenant("Movers", "movers")


def load(folder, name):
    return json.loads((folder / name).read_text())


def publish(page):
    """What the owner does once the imported page (a draft) is checked."""
    page.visibility = "public"
    page.save()


def run(tenant, url, *, apply, **options):
    out = io.StringIO()
    args = ["import_statuspage", tenant.slug, "--public-url", url]
    if apply:
        args.append("--apply")
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def written():
    """How many rows of what an import writes there are."""
    models = (Page, ComponentGroup, Component, ComponentStatusChange, Incident, IncidentUpdate,
              ComponentImpact, AuditLogEntry, Subscriber, NotificationEvent, Delivery)  # fmt: skip
    return {model.__name__: model.objects.count() for model in models}


def nothing_sent():
    assert NotificationEvent.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert mail.outbox == []


def text_of(html):
    """The visible text of some HTML, one space between words."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def bar_of(html, name):
    match = re.search(
        rf'<ol class="uptime-days" aria-label="{re.escape(name)} uptime.*?</ol>', html, re.S
    )
    assert match, f"no uptime bar for {name}"
    return match.group(0)


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_apply_imports_the_page_with_its_groups_incidents_and_history(
    grouped, tenant, frozen, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out = run(tenant, grouped.url + "/", apply=True)
    page = Page.objects.get(code=out.splitlines()[-1])
    publish(page)  # an imported page starts as a draft, as every new page
    assert page.tenant == tenant and page.name == "Example Cloud"
    assert f"Imported Example Cloud as {page.public_url()}" in out
    assert f"Imported from {grouped.url} (into a new page):" in out
    assert "  components: 7" not in out  # groups are not components
    assert "  groups: 2 created — Platform, Regions" in out
    assert "  components: 5 created — Website, API, Database, Europe, US East" in out
    assert "  incidents: 3 created" in out and "  maintenances: 3 created" in out

    # The status page: the groups with their components, in Statuspage's order.
    status_page = client.get(f"/p/{page.slug}/").content.decode()
    visible = text_of(status_page)
    components = status_page[status_page.index('class="component-group') :]
    names = ("Website", "Platform", "API", "Database", "Regions", "Europe", "US East")
    order = [components.index(f'<span class="name">{name}') for name in names]
    assert order == sorted(order)
    assert "Elevated API error rates" in visible
    assert "Europe network upgrade" in visible
    # The 90-day bars from the rebuilt history: the database's outage of Nov 10 (45 minutes
    # down, 45 degraded) and its maintenance of Nov 20 (2 hours).
    database = bar_of(status_page, "Database")
    assert re.search(r"Nov 10, 2026.*?Major outage: 45\s?m", text_of(database)), text_of(database)
    assert re.search(r"Nov 20, 2026.*?Under maintenance: 2\s?h", text_of(database))
    assert "Major outage" not in text_of(bar_of(status_page, "US East"))

    # The incident page: every update's text (plain text kept readable) and time.
    api = page.incidents.get(name="Elevated API error rates")
    html = client.get(f"/p/{page.slug}/incidents/{api.code}/").content.decode()
    assert (
        "We found the cause: a bad deploy of *api-gateway* v2.3_1.<br>\nRolling back now." in html
    )
    assert "<p>- EU customers see most errors<br>\n# of failed calls: about 5%</p>" in html
    assert "We are investigating elevated error rates on the API." in html
    assert '<time datetime="2026-11-30T10:30:00+00:00"' in html
    assert '<time datetime="2026-11-30T10:00:00+00:00"' in html
    assert 'href="https://stspg.io/inc0apie"' in html  # the shortlink, as a reference
    database_outage = page.incidents.get(name="Database outage")
    html = client.get(f"/p/{page.slug}/incidents/{database_outage.code}/").content.decode()
    assert "A fix has been applied.<br>\nWe are monitoring the results." in html
    assert html.index("This incident has been resolved.") < html.index("A fix has been applied.")

    # The history lists the incidents and the past maintenance.
    history = text_of(client.get(f"/p/{page.slug}/history/").content.decode())
    for name in ("Elevated API error rates", "Database outage", "Slow page loads"):
        assert name in history

    # API v2: the source's component statuses, groups and indicator.
    source = {c["name"]: c for c in load(GROUPED, "summary.json")["components"]}
    summary = client.get(f"/p/{page.slug}/api/v2/summary.json").json()
    assert {c["name"]: (c["status"], c["group"]) for c in summary["components"]} == {
        name: (c["status"], c["group"]) for name, c in source.items()
    }
    assert summary["status"]["indicator"] == "minor"
    assert [i["name"] for i in summary["incidents"]] == ["Elevated API error rates"]
    upcoming = client.get(f"/p/{page.slug}/api/v2/scheduled-maintenances/upcoming.json").json()
    assert [m["name"] for m in upcoming["scheduled_maintenances"]] == ["US East power work"]

    nothing_sent()

    # Again: the same page is found, and nothing changed upstream.
    again = run(tenant, grouped.url, apply=False)
    assert f"Would import from {grouped.url} (updating {page.slug}):" in again
    assert "  groups: 2 unchanged — Platform, Regions" in again
    assert "  incident updates: 13 unchanged" in again


def test_the_real_github_samples_import(github, tenant, client):
    with time_machine.travel(datetime(2024, 9, 17, 12, 0, tzinfo=UTC), tick=False):
        out = run(tenant, github.url, apply=True)
        page = Page.objects.get(code=out.splitlines()[-1])
        publish(page)  # an imported page starts as a draft, as every new page
        summary = client.get(f"/p/{page.slug}/api/v2/summary.json").json()
        incident = page.incidents.get(name="Incident with Pages and Actions")
        html = client.get(f"/p/{page.slug}/incidents/{incident.code}/").content.decode()
        history = text_of(client.get(f"/p/{page.slug}/history/").content.decode())
    assert page.name == "GitHub"
    source = load(FIXTURES, "summary.json")["components"]
    assert [(c["name"], c["status"]) for c in summary["components"]] == [
        (c["name"], c["status"]) for c in sorted(source, key=lambda c: c["position"])
    ]
    source_incident = load(FIXTURES, "incidents.json")["incidents"][0]
    for update in source_incident["incident_updates"]:
        assert update["body"] in html
        at = datetime.fromisoformat(update["display_at"]).replace(microsecond=0)
        assert f'<time datetime="{at.isoformat()}"' in html
    assert 'href="https://stspg.io/mc6sr407p78b"' in html
    assert incident.impact == "major" and incident.status == "resolved"
    assert incident.resolved_at == datetime(2024, 9, 16, 22, 8, 39, 333000, tzinfo=UTC)
    for name in ("Incident with Pages and Actions", "Disruption with Git SSH"):
        assert name in history
    maintenance = page.incidents.get(name="GitHub Packages database maintenance")
    assert maintenance.status == "completed"
    assert maintenance.scheduled_for == datetime(2024, 9, 15, 6, 0, tzinfo=UTC)
    assert maintenance.updates.count() == 3
    nothing_sent()


def test_a_dry_run_shows_what_would_be_created_and_writes_nothing(grouped, tenant, frozen):
    before = written()
    out = run(tenant, grouped.url, apply=False)
    assert written() == before
    assert f"Would import from {grouped.url} (into a new page):" in out
    assert "  groups: 2 new — Platform, Regions" in out
    assert "  incidents: 3 new — Elevated API error rates, Database outage, Slow page loads" in out
    assert (
        "  maintenances: 3 new — US East power work, Europe network upgrade, Database upgrade"
        in out
    )
    assert "  incident updates: 13 new" in out
    assert "Warning: 2 maintenance(s) not completed yet will not start or end by themselves" in out
    assert out.splitlines()[-1] == "Dry run: nothing was written. Run again with --apply to import."
    assert sorted(grouped.paths) == sorted(f"/api/v2/{name}" for name in DOCUMENTS)


def test_what_is_left_out_is_warned_about(grouped, tenant, frozen):
    incidents = load(GROUPED, "incidents.json")
    incidents["incidents"][1]["status"] = "exploded"
    incidents["incidents"][2]["components"].append({"id": "gonegonegone", "name": "Gone"})
    grouped.replace("incidents.json", incidents)
    summary = load(GROUPED, "summary.json")
    summary["components"][0]["position"] = 9  # Website after the groups on Statuspage
    grouped.replace("summary.json", summary)
    out = run(tenant, grouped.url, apply=False)
    assert "Warning: “Database outage” has the unknown status 'exploded'; it was left out." in out
    assert "Warning: 1 component(s) named by incidents are no longer on the page" in out
    assert "Warning: Statuspage shows some ungrouped components between groups" in out
    assert "  incidents: 2 new — Elevated API error rates, Slow page loads" in out


def test_a_group_that_lists_a_member_gets_it(grouped, tenant, frozen, client):
    """Statuspage's groups list their members (`components`) as the members name their group
    (`group_id`): either is enough."""
    summary = load(GROUPED, "summary.json")
    database = next(c for c in summary["components"] if c["name"] == "Database")
    database["group_id"] = None
    grouped.replace("summary.json", summary)
    page = Page.objects.get(code=run(tenant, grouped.url, apply=True).splitlines()[-1])
    publish(page)  # an imported page starts as a draft, as every new page
    components = client.get(f"/p/{page.slug}/api/v2/components.json").json()["components"]
    platform = next(c for c in components if c["name"] == "Platform")
    database = next(c for c in components if c["name"] == "Database")
    assert database["group_id"] == platform["id"] and database["id"] in platform["components"]


def refused(tenant, url, message):
    before = written()
    with pytest.raises(CommandError, match=message) as error:
        run(tenant, url, apply=True)
    assert str(error.value).startswith("Nothing was imported: ")
    assert written() == before
    nothing_sent()


NOT_FOUND = (404, {}, b"<h1>Not found</h1>")
HTML = (200, {"content-type": "text/html"}, b"<!doctype html><p>Hello</p>")
CUT_SHORT = (200, {}, (GROUPED / "summary.json").read_bytes()[:500])
MOVED = (301, {"location": "https://www.example.com/api/v2/summary.json"}, b"")
BAD_SOURCES = [
    ("incidents.json", NOT_FOUND, r"incidents\.json was not found \(404\): is this a Statuspage"),
    ("summary.json", HTML, r"summary\.json did not answer JSON"),
    ("summary.json", CUT_SHORT, r"summary\.json did not answer JSON \(or it was cut short\)"),
    ("summary.json", (200, {}, b'{"status": {}}'), r"summary\.json has no page and components"),
    ("summary.json", (200, {}, b"[1, 2]"), r"summary\.json: expected a JSON object"),
    ("scheduled-maintenances.json", (500, {}, b"oops"), r"maintenances\.json answered 500"),
    ("summary.json", MOVED, r"redirects to https://www\.example\.com/api/v2/summary\.json: give"),
]


@pytest.mark.parametrize(("document", "answer", "message"), BAD_SOURCES)
def test_a_bad_source_is_refused_with_a_message(grouped, tenant, document, answer, message):
    grouped.script(document, [answer] * statuspage_import.ATTEMPTS)
    refused(tenant, grouped.url, message)


def test_malformed_statuspage_json_is_refused_with_where(grouped, tenant):
    incidents = load(GROUPED, "incidents.json")
    incidents["incidents"][1]["incident_updates"][2]["display_at"] = "yesterday"
    grouped.replace("incidents.json", incidents)
    refused(
        tenant,
        grouped.url,
        r"incidents\.json\.incidents\[1\]\.incident_updates\[2\]\.display_at: expected a "
        r"date-time \(ISO 8601\), not 'yesterday'",
    )
    incidents["incidents"] = {"not": "a list"}
    grouped.replace("incidents.json", incidents)
    refused(tenant, grouped.url, r"incidents\.json\.incidents: expected a list")


def test_rate_limiting_is_retried_then_reported(grouped, tenant, frozen):
    limited = (429, {"retry-after": "0"}, b"slow down")
    grouped.script("summary.json", [limited, (420, {"retry-after": "0"}, b"enhance your calm")])
    out = run(tenant, grouped.url, apply=True)
    assert Page.objects.filter(code=out.splitlines()[-1]).exists()
    assert grouped.paths.count("/api/v2/summary.json") == 3

    grouped.script("incidents.json", [limited] * statuspage_import.ATTEMPTS)
    refused(tenant, grouped.url, r"answered 429 \(rate limited\) 4 times; try again later")


def test_a_source_that_does_not_answer_in_time_is_refused(grouped, tenant, monkeypatch):
    monkeypatch.setattr(statuspage_import, "TIMEOUT", 1)
    grouped.script("incidents.json", [3])
    refused(tenant, grouped.url, r"incidents\.json: no answer within 1 seconds")


def test_a_source_that_sends_a_byte_now_and_then_is_stopped_at_the_deadline(
    grouped, tenant, monkeypatch
):
    monkeypatch.setattr(statuspage_import, "TOTAL_TIMEOUT", 1)
    grouped.script("summary.json", [("drip", 0.2, b" " * 100)])

    started = time.monotonic()
    refused(tenant, grouped.url, r"summary\.json: the answer took over 1 seconds")
    assert time.monotonic() - started < 5  # not the 20 s the whole body would take


ODD_SHAPES = [
    ("summary.json", lambda d: next(c for c in d["components"] if not c.get("group"))
        .update(group_id=["a", "list"])),
    ("summary.json", lambda d: next(c for c in d["components"] if c.get("group"))
        .update(components=[{"id": "x"}])),
    ("incidents.json", lambda d: d["incidents"][1].update(created_at="0001-01-01T00:00:00+01:00")),
    ("incidents.json", lambda d: d["incidents"][1]["incident_updates"][0].update(
        display_at="9999-12-31T23:59:59-01:00")),
]  # fmt: skip


@pytest.mark.parametrize(("document", "change"), ODD_SHAPES)
def test_values_statuspage_never_sends_are_refused_with_a_message(
    grouped, tenant, frozen, document, change
):
    data = load(GROUPED, document)
    change(data)
    grouped.replace(document, data)
    refused(tenant, grouped.url, r"(not Statuspage's as documented|expected|missing)")


def test_a_number_too_long_for_python_is_refused_as_no_json(grouped, tenant):
    grouped.script("summary.json", [(200, {}, b'{"page": {"id": ' + b"9" * 5000 + b"}}")])
    refused(tenant, grouped.url, r"summary\.json did not answer JSON")


def test_a_web_address_in_a_text_is_linked_as_itself(grouped, tenant, frozen, client):
    incidents = load(GROUPED, "incidents.json")
    # (Not the first incident: summary.json has it too, and its copy there stands.)
    update = incidents["incidents"][1]["incident_updates"][0]
    update["body"] = (
        "Reset steps: https://[Sign_in_to_your_account](https://evil.example/phish) and"
        " see https://example.com/a_b_(c). Or www.example.com/help."
    )
    grouped.replace("incidents.json", incidents)

    page = Page.objects.get(code=run(tenant, grouped.url, apply=True).splitlines()[-1])
    publish(page)  # an imported page starts as a draft, as every new page
    incident = page.incidents.get(name=incidents["incidents"][1]["name"])
    html = client.get(f"/p/{page.slug}/incidents/{incident.code}/").text

    assert 'href="https://evil.example/phish"' not in html
    assert ">https://[Sign_in_to_your_account](https://evil.example/phish)</a>" in html
    assert '<a href="https://example.com/a_b_(c)"' in html
    assert '<a href="http://www.example.com/help"' in html
    assert "/help</a>." in html


def test_an_address_with_a_password_is_refused(grouped, tenant):
    refused(tenant, grouped.url.replace("http://", "http://user:secret@"), r"without a user name")
    assert grouped.paths == []


def test_an_answer_over_the_size_limit_is_refused(grouped, tenant, monkeypatch):
    monkeypatch.setattr(statuspage_import, "MAX_BYTES", 1024 * 1024)
    grouped.script("incidents.json", [(200, {}, b" " * (2 * 1024 * 1024))])
    refused(tenant, grouped.url, r"incidents\.json: the answer is larger than 1 MiB")


def test_addresses_that_are_no_status_page_are_refused(grouped, tenant, settings):
    refused(tenant, "ftp://status.example.com", r"is not the address of a status page")
    refused(tenant, "status.example.com", r"is not the address of a status page")
    refused(tenant, grouped.url + "?page=2", r"without \?… or #…")
    # A private address (here the fake itself), as the address filter refuses it in production.
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    refused(tenant, grouped.url, r"refused, its host resolves to a private or reserved address")
    assert grouped.paths == []


def test_an_unknown_tenant_is_refused(grouped, db):
    with pytest.raises(CommandError, match="No tenant with the slug 'nobody'"):
        call_command("import_statuspage", "nobody", "--public-url", grouped.url)
    assert grouped.paths == []
