"""A fake Atlassian Statuspage on 127.0.0.1, for the import's tests and benchmark: one page served
both through the management API v1 and through the public v2 JSON, from the same data.

    from tests.fake_statuspage import FakeStatuspage, big_page, small_page

    with FakeStatuspage(big_page(), api_key="k", page_id="p") as fake:
        fake.url              # http://127.0.0.1:PORT (the public JSON: fake.url + "/api/v2/…")
        fake.api_url          # fake.url + "/v1" (the management API)
        fake.requests         # [Request(path, query, headers)], in the order they came
        fake.pages_asked("subscribers")   # the `page` numbers asked of a list, e.g. [1, 2, 3]

The outbound address filter refuses 127.0.0.1: tests set settings.WEBHOOKS_ALLOW_PRIVATE_IPS.

`data` is a dict of Statuspage's management-API objects (the shapes of developer.statuspage.io):
{"page": {…}, "components": […], "groups": [… component groups …], "incidents": [… incidents
and scheduled maintenances, with incident_updates …], "incident_templates": […], "subscribers":
[…], "metrics": […]}. Each subscriber also carries a "state" the fake uses for the list's
`state` filter ("active", "pending", "quarantined" or "unsubscribed") and does not serve.
`page_id` defaults to data["page"]["id"] (given, it replaces it).

The management API (under /v1): `Authorization: OAuth <api_key>` or 401 {"error": …};
GET /pages (the key's pages), /pages/<id>, and the lists /pages/<id>/components,
component-groups, incidents (incidents and maintenances; also incidents/unresolved, upcoming,
scheduled, active_maintenance), incident_templates, subscribers (`state`: active by default,
pending, quarantined, unsubscribed or all; `type`; and subscribers/unsubscribed), metrics.
Lists are paginated with `page` (from 1) and `per_page` (at most MAX_PER_PAGE = 100,
Statuspage's limit; 100 by default).
Another page id answers `foreign_page_status` (404 {"error": "Not found"} by default; Statuspage
may answer 401 or 403 there). A path it does not know answers 404.

The public v2 JSON, derived from the same data in its public shapes (no subscribers,
templates, metrics, postmortem drafts or management-only flags): /api/v2/summary.json (page,
components and groups as components with `group: true`, unresolved incidents, upcoming and
active maintenance), /api/v2/incidents.json (the 50 most recent incidents) and
/api/v2/scheduled-maintenances.json (the 50 most recent maintenances).

Faults, for the next requests of a path (the path without its query, e.g.
"/v1/pages/p/subscribers"): `fake.script(path, [answer, …])`, an answer being (status,
headers, body), ("slow", seconds) (wait, then answer as usual), ("truncate", n) (announce the
whole body, send its first n bytes, close); or the shorthands `fake.rate_limit(path, times,
status=429, retry_after="1")`, `fake.truncate(path)`, `fake.slow(path, seconds)`.

`big_page(...)` makes a realistic page deterministically (the same arguments, the same page);
`small_page()` loads the hand-built one in tests/fixtures/statuspage/api_v1/.
"""

import json
import random
import string
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.notifications.servers import LocalServer

MAX_PER_PAGE = 100
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "statuspage" / "api_v1"
FIXTURE_FILES = {
    "page": "page.json",
    "components": "components.json",
    "groups": "component-groups.json",
    "incidents": "incidents.json",
    "incident_templates": "incident_templates.json",
    "subscribers": "subscribers.json",
    "metrics": "metrics.json",
}
LISTS = {
    "components": "components",
    "component-groups": "groups",
    "incidents": "incidents",
    "incident_templates": "incident_templates",
    "subscribers": "subscribers",
    "metrics": "metrics",
}
MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
MANAGEMENT_ONLY = (
    "impact_override", "scheduled_auto_in_progress", "scheduled_auto_completed",
    "auto_transition_deliver_notifications_at_start",
    "auto_transition_deliver_notifications_at_end",
    "auto_transition_to_maintenance_state", "auto_transition_to_operational_state",
    "scheduled_remind_prior", "scheduled_reminded_at", "postmortem_body",
    "postmortem_body_last_updated_at", "postmortem_ignored", "postmortem_notified_subscribers",
    "postmortem_notified_twitter", "postmortem_published_at", "metadata",
)  # fmt: skip


@dataclass
class Request:
    path: str
    query: dict  # name -> last value
    headers: dict  # lower-case names


class FakeStatuspage(LocalServer):
    """See the module's docstring."""

    def __init__(
        self, data, *, api_key="k", page_id=None, foreign_page_status=404, first_page=None
    ):
        self.data = json.loads(json.dumps(data))  # a copy the test may change: fake.data[…]
        # Lists count pages from 1, a page below 1 meaning the first (Rails' way); with
        # first_page={"subscribers": 0}, that list counts them from 0 (page 0 is the first), as
        # an older Statuspage reference says of the subscribers' list.
        self.first_page = first_page or {}
        if page_id:
            self.data["page"]["id"] = page_id
            for item in (*self.data["components"], *self.data["groups"], *self.data["incidents"]):
                item["page_id"] = page_id
        self.page_id = self.data["page"]["id"]
        self.api_key = api_key
        self.foreign_page_status = foreign_page_status
        self.requests = []
        self.scripts = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    fake.requests.append(Request(parts.path, query, headers))
                    script = fake.scripts.get(parts.path)
                    answer = script.pop(0) if script else None
                cut = None
                if isinstance(answer, tuple) and answer[0] == "slow":
                    time.sleep(answer[1])
                    answer = None
                elif isinstance(answer, tuple) and answer[0] == "truncate":
                    cut, answer = answer[1], None
                if answer is None:
                    answer = fake.answer(parts.path, query, headers)
                status, extra, body = answer
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json; charset=utf-8")
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(body)))
                    if cut is not None:
                        self.send_header("connection", "close")
                    self.end_headers()
                    self.wfile.write(body if cut is None else body[:cut])
                    if cut is not None:
                        self.wfile.flush()
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.serve(Handler)

    # The fake's API ---------------------------------------------------------------------------

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self):
        return f"{self.url}/v1"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def script(self, path, answers):
        with self.lock:
            self.scripts[path] = list(answers)

    def rate_limit(self, path, times, status=429, retry_after="1"):
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        body = {"error": "Rate limit exceeded. Please try again later."}
        self.script(path, [(status, headers, json.dumps(body).encode())] * times)

    def truncate(self, path, keep=200):
        self.script(path, [("truncate", keep)])

    def slow(self, path, seconds):
        self.script(path, [("slow", seconds)])

    def list_path(self, name):
        """The path of one of the page's lists ("subscribers" → /v1/pages/<id>/subscribers)."""
        return f"/v1/pages/{self.page_id}/{name}"

    def pages_asked(self, name):
        """The `page` numbers asked of the list `name`, in order."""
        path = self.list_path(name)
        with self.lock:
            return [int(r.query.get("page", 1)) for r in self.requests if r.path == path]

    # Answers ----------------------------------------------------------------------------------

    def answer(self, path, query, headers):
        if path.startswith("/api/v2/"):
            return self.public(path.removeprefix("/api/v2/"))
        if not path.startswith("/v1/"):
            return 404, {}, {"error": "Not found"}
        if headers.get("authorization") != f"OAuth {self.api_key}":
            return 401, {}, {"error": "Could not authenticate"}
        parts = path.removeprefix("/v1/").strip("/").split("/")
        if parts == ["pages"]:
            return 200, {}, [self.data["page"]]
        if len(parts) < 2 or parts[0] != "pages":
            return 404, {}, {"error": "Not found"}
        if parts[1] != self.page_id:
            status = self.foreign_page_status
            message = {401: "Could not authenticate", 403: "Forbidden"}.get(status, "Not found")
            return status, {}, {"error": message}
        if len(parts) == 2:
            return 200, {}, self.data["page"]
        items = self.selected(parts[2:], query)
        if items is None:
            return 404, {}, {"error": "Not found"}
        first = self.first_page.get(parts[2], 1)
        try:
            number = max(int(query.get("page", first)), first)
            per_page = min(max(int(query.get("per_page", MAX_PER_PAGE)), 1), MAX_PER_PAGE)
        except ValueError:
            return 400, {}, {"error": "page and per_page are numbers"}
        start = (number - first) * per_page
        return 200, {}, items[start : start + per_page]

    def selected(self, parts, query):
        name = parts[0]
        if name not in LISTS or len(parts) > 2:
            return None
        items = self.data.get(LISTS[name], [])
        if name == "incidents" and len(parts) == 2:
            now = datetime.now(UTC).isoformat()
            wanted = {
                "unresolved": lambda i: (
                    i["status"] in ("investigating", "identified", "monitoring")
                ),
                "upcoming": lambda i: i["status"] == "scheduled" and i["scheduled_for"] > now,
                "scheduled": lambda i: i["status"] == "scheduled",
                "active_maintenance": lambda i: i["status"] in ("in_progress", "verifying"),
            }.get(parts[1])
            if wanted is None:
                return None
            items = [i for i in items if wanted(i)]
        elif parts == ["subscribers", "unsubscribed"]:
            query = {**query, "state": "unsubscribed"}
        elif len(parts) == 2:
            return None
        if name == "incidents":
            items = sorted(items, key=lambda i: i["created_at"], reverse=True)
        if name == "subscribers":
            state = query.get("state", "active")
            kind = query.get("type")
            items = [
                {k: v for k, v in s.items() if k != "state"}
                for s in items
                if (state == "all" or s.get("state", "active") == state)
                and (kind is None or s.get("mode") == kind)
            ]
        return items

    def public(self, name):
        page = self.data["page"]
        public_page = {
            "id": page["id"],
            "name": page["name"],
            "url": f"https://{page.get('subdomain', 'example')}.statuspage.io",
            "time_zone": page.get("time_zone", "Etc/UTC"),
            "updated_at": page.get("updated_at"),
        }
        incidents = sorted(self.data["incidents"], key=lambda i: i["created_at"], reverse=True)
        maintenances = [self.public_incident(i) for i in incidents if is_maintenance(i)]
        plain = [self.public_incident(i) for i in incidents if not is_maintenance(i)]
        if name == "summary.json":
            return (
                200,
                {},
                {
                    "page": public_page,
                    "components": self.public_components(),
                    "incidents": [
                        i
                        for i in plain
                        if i["status"] in ("investigating", "identified", "monitoring")
                    ],
                    "scheduled_maintenances": [
                        m
                        for m in maintenances
                        if m["status"] in ("scheduled", "in_progress", "verifying")
                    ],
                    "status": {"indicator": "none", "description": "All Systems Operational"},
                },
            )
        if name == "incidents.json":
            return 200, {}, {"page": public_page, "incidents": plain[:50]}
        if name == "scheduled-maintenances.json":
            return 200, {}, {"page": public_page, "scheduled_maintenances": maintenances[:50]}
        if name == "components.json":
            return 200, {}, {"page": public_page, "components": self.public_components()}
        return 404, {}, {"error": "Not found"}

    def public_components(self):
        items = []
        for group in self.data["groups"]:
            items.append(
                {
                    "id": group["id"],
                    "name": group["name"],
                    "status": "operational",
                    "created_at": group.get("created_at"),
                    "updated_at": group.get("updated_at"),
                    "position": int(group.get("position") or 0),
                    "description": group.get("description"),
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": self.page_id,
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": list(group.get("components") or []),
                }
            )
        for component in self.data["components"]:
            public = {k: v for k, v in component.items() if k != "automation_email"}
            public["group"] = False
            items.append(public)
        return sorted(items, key=lambda c: c.get("position") or 0)

    def public_incident(self, incident):
        public = {k: v for k, v in incident.items() if k not in MANAGEMENT_ONLY}
        if not is_maintenance(incident):
            public.pop("scheduled_for", None)
            public.pop("scheduled_until", None)
        return public


def is_maintenance(incident):
    return incident.get("scheduled_for") is not None or incident["status"] in MAINTENANCE_STATUSES


# Pages ----------------------------------------------------------------------------------------


def small_page():
    """The hand-built page of tests/fixtures/statuspage/api_v1/ (see its files)."""
    return {key: json.loads((FIXTURES / name).read_text()) for key, name in FIXTURE_FILES.items()}


def iso(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


IMPACT = {"degraded_performance": "minor", "partial_outage": "major", "major_outage": "critical"}
BAD = ("degraded_performance", "partial_outage", "major_outage")
WORDS = (
    "requests", "logins", "uploads", "searches", "payments", "webhooks", "reports", "exports",
    "notifications", "builds", "deploys", "queries",
)  # fmt: skip


def big_page(
    groups=3,
    components=20,
    incidents=200,
    updates_per_incident=4,
    maintenances=30,
    subscribers=5000,
    seed=0,
    now=None,
):
    """A realistic page in the management API's shapes, the same for the same arguments:
    `components` components spread over `groups` groups (plus two ungrouped ones), `incidents`
    incidents over the last two years with `updates_per_incident` updates each (the affected
    components' old and new statuses on each, the last one resolving; the most recent incident
    is still open), some with a postmortem (published or draft) and an impact override,
    `maintenances` maintenances (all but four completed, those four scheduled in the coming
    weeks, with automatic transitions and reminders), five templates (one for maintenance),
    `subscribers` subscribers (email, SMS, webhook, Teams, Slack-app and integration-partner
    ones; some choosing components; most confirmed, some pending, some quarantined) and two
    metrics. `now` (default: today at midnight UTC) anchors the dates."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    used = set()

    def code():
        while True:
            value = "".join(rng.choices(string.ascii_lowercase + string.digits, k=12))
            if value not in used:
                used.add(value)
                return value

    page_id = code()
    start = now - timedelta(days=730)
    page = {
        "id": page_id,
        "created_at": iso(start - timedelta(days=30)),
        "updated_at": iso(now - timedelta(days=2)),
        "name": "Big Cloud",
        "page_description": "Status of Big Cloud's services",
        "headline": "",
        "branding": "premium",
        "subdomain": f"bigcloud{seed}",
        "domain": "status.bigcloud.example",
        "url": "https://bigcloud.example",
        "support_url": "https://bigcloud.example/support",
        "hidden_from_search": False,
        "allow_page_subscribers": True,
        "allow_incident_subscribers": True,
        "allow_email_subscribers": True,
        "allow_sms_subscribers": True,
        "allow_rss_atom_feeds": True,
        "allow_webhook_subscribers": True,
        "notifications_from_email": "status@bigcloud.example",
        "notifications_email_footer": "",
        "activity_score": 0,
        "twitter_username": "",
        "viewers_must_be_team_members": False,
        "ip_restrictions": "",
        "city": "",
        "state": "",
        "country": "",
        "time_zone": "Europe/London",
        "css_body_background_color": "#ffffff",
        "css_font_color": "#333333",
        "css_light_font_color": "#a7a7a7",
        "css_greens": "#2fcc66",
        "css_yellows": "#f1c40f",
        "css_oranges": "#e67e22",
        "css_blues": "#3498db",
        "css_reds": "#e74c3c",
        "css_border_color": "#ecf0f1",
        "css_graph_color": "#3498db",
        "css_link_color": "#3498db",
        "css_no_data": "#b3bac5",
    }
    created = iso(start - timedelta(days=20))
    group_docs, component_docs = [], []
    position = 1
    loose = 2 if components > 2 else 0
    for n in range(components):
        component_docs.append(
            {
                "id": code(),
                "page_id": page_id,
                "group_id": None,
                "created_at": created,
                "updated_at": created,
                "group": False,
                "name": f"Service {n + 1}",
                "description": f"What service {n + 1} does" if n % 3 == 0 else None,
                "position": 0,
                "status": "operational",
                "showcase": n % 5 != 4,
                "only_show_if_degraded": False,
                "automation_email": f"component+{n}@notifications.statuspage.io",
                "start_date": (start - timedelta(days=20)).date().isoformat(),
            }
        )
    for component in component_docs[:loose]:
        component["position"] = position
        position += 1
    grouped = component_docs[loose:]
    for g in range(groups):
        members = grouped[g::groups] if groups else []
        group = {
            "id": code(),
            "page_id": page_id,
            "name": f"Region {g + 1}",
            "description": f"Services hosted in region {g + 1}",
            "components": [m["id"] for m in members],
            "position": position,
            "created_at": created,
            "updated_at": created,
        }
        position += 1
        for member in members:
            member["group_id"] = group["id"]
            member["position"] = position
            position += 1
        group_docs.append(group)

    ids = [c["id"] for c in component_docs]
    by_id = {c["id"]: c for c in component_docs}
    status_now = dict.fromkeys(ids, "operational")
    incident_docs = []

    def affected(refs, old, new):
        return [
            {"code": ref, "name": by_id[ref]["name"], "old_status": old[ref], "new_status": new}
            for ref in refs
        ]

    days = 730
    for n in range(incidents):
        day = start + timedelta(days=n * days // max(incidents, 1))
        opened = day + timedelta(hours=1 + n % 6, minutes=rng.randrange(60))
        refs = rng.sample(ids, k=min(len(ids), rng.randint(1, 3))) if ids else []
        worst = rng.choice(BAD)
        last = n == incidents - 1
        steps = ["investigating", "identified", "monitoring", "resolved"]
        if updates_per_incident <= 4:
            statuses = steps[: max(updates_per_incident - 1, 0)] + ["resolved"]
            statuses = statuses[-updates_per_incident:] if updates_per_incident else []
        else:
            statuses = steps[:3] + ["monitoring"] * (updates_per_incident - 4) + ["resolved"]
        if last and statuses:
            statuses = statuses[:-1] or ["investigating"]
        incident_id = code()
        updates, at = [], opened
        word = rng.choice(WORDS)
        for u, status in enumerate(statuses):
            if status == "resolved":
                new = "operational"
            elif u == 0:
                new = worst
            elif status == "monitoring":
                new = "degraded_performance"
            else:
                new = worst
            old = dict(status_now)
            changed = affected(refs, old, new) if status_now and refs else []
            for ref in refs:
                status_now[ref] = new
            body = {
                "investigating": f"We are investigating failed {word} on {by_id[refs[0]]['name']}."
                if refs
                else f"We are investigating failed {word}.",
                "identified": f"The cause is known: a faulty release.\nWe are rolling it back.\n"
                f"Details: https://bigcloud.example/incidents/{n}",
                "monitoring": "A fix is in place; we are watching the results.",
                "resolved": "This incident has been resolved.",
            }[status]
            updates.append(
                {
                    "id": code(),
                    "incident_id": incident_id,
                    "affected_components": changed,
                    "body": body,
                    "created_at": iso(at),
                    "custom_tweet": None,
                    "deliver_notifications": True,
                    "display_at": iso(at),
                    "status": status,
                    "tweet_id": None,
                    "twitter_updated_at": None,
                    "updated_at": iso(at),
                    "wants_twitter_update": False,
                }
            )
            at += timedelta(minutes=rng.randint(10, 55))
        closed_at = updates[-1]["created_at"] if updates and not last else None
        postmortem = n % 10 == 5 and not last
        draft = n % 25 == 7 and not last
        incident_docs.append(
            {
                "id": incident_id,
                "components": [dict(by_id[ref], status=status_now[ref]) for ref in refs],
                "created_at": iso(opened),
                "impact": IMPACT[worst],
                "impact_override": "critical" if n % 40 == 3 else None,
                "incident_updates": list(reversed(updates)),
                "metadata": {},
                "monitoring_at": next(
                    (u["created_at"] for u in updates if u["status"] == "monitoring"), None
                ),
                "name": f"Elevated errors for {word}",
                "page_id": page_id,
                "postmortem_body": (
                    f"What happened: {word} failed for some customers.\n\n"
                    "- Cause: a configuration change\n- Fix: a new check before releases"
                )
                if postmortem or draft
                else None,
                "postmortem_body_last_updated_at": iso(at) if postmortem or draft else None,
                "postmortem_ignored": not (postmortem or draft),
                "postmortem_notified_subscribers": False,
                "postmortem_notified_twitter": False,
                "postmortem_published_at": iso(at + timedelta(days=2)) if postmortem else None,
                "resolved_at": closed_at,
                "scheduled_auto_completed": False,
                "scheduled_auto_in_progress": False,
                "scheduled_for": None,
                "auto_transition_deliver_notifications_at_end": False,
                "auto_transition_deliver_notifications_at_start": False,
                "auto_transition_to_maintenance_state": False,
                "auto_transition_to_operational_state": False,
                "scheduled_remind_prior": False,
                "scheduled_reminded_at": None,
                "scheduled_until": None,
                "shortlink": f"https://stspg.io/{incident_id[:7]}",
                "status": updates[-1]["status"] if updates else "investigating",
                "updated_at": iso(at),
                "started_at": iso(opened),
            }
        )
    upcoming = min(4, maintenances)
    for m in range(maintenances):
        future = m >= maintenances - upcoming
        if future:
            begins = now + timedelta(days=3 + 7 * (m - (maintenances - upcoming)), hours=14)
        else:
            begins = start + timedelta(days=5 + m * (days - 10) // max(maintenances, 1), hours=14)
        ends = begins + timedelta(hours=2)
        refs = rng.sample(ids, k=min(len(ids), rng.randint(1, 4))) if ids else []
        maintenance_id = code()
        announced = begins - timedelta(days=7)
        updates = [
            {
                "id": code(),
                "incident_id": maintenance_id,
                "affected_components": [],
                "body": f"We will upgrade the databases of {len(refs)} service(s).\n"
                "Expect short interruptions.",
                "created_at": iso(announced),
                "display_at": iso(announced),
                "deliver_notifications": True,
                "status": "scheduled",
                "updated_at": iso(announced),
            }
        ]
        if not future:
            # Maintenance happens between incidents, while its components are operational.
            old = dict.fromkeys(refs, "operational")
            for status, at, new in (
                ("in_progress", begins, "under_maintenance"),
                ("completed", ends, "operational"),
            ):
                updates.append(
                    {
                        "id": code(),
                        "incident_id": maintenance_id,
                        "affected_components": affected(refs, old, new),
                        "body": "The maintenance has started."
                        if status == "in_progress"
                        else "The maintenance is complete.",
                        "created_at": iso(at),
                        "display_at": iso(at),
                        "deliver_notifications": True,
                        "status": status,
                        "updated_at": iso(at),
                    }
                )
                old = dict.fromkeys(refs, new)
        auto = m % 3 != 2
        incident_docs.append(
            {
                "id": maintenance_id,
                "components": [dict(by_id[ref]) for ref in refs],
                "created_at": iso(announced),
                "impact": "maintenance",
                "impact_override": None,
                "incident_updates": list(reversed(updates)),
                "metadata": {},
                "monitoring_at": None,
                "name": f"Database upgrade {m + 1}",
                "page_id": page_id,
                "postmortem_body": None,
                "postmortem_ignored": True,
                "postmortem_published_at": None,
                "resolved_at": None if future else iso(ends),
                "scheduled_auto_completed": auto,
                "scheduled_auto_in_progress": auto,
                "scheduled_for": iso(begins),
                "scheduled_until": iso(ends),
                "auto_transition_deliver_notifications_at_end": m % 2 == 0,
                "auto_transition_deliver_notifications_at_start": True,
                "auto_transition_to_maintenance_state": True,
                "auto_transition_to_operational_state": True,
                "scheduled_remind_prior": m % 4 != 1,
                "scheduled_reminded_at": iso(begins - timedelta(hours=1))
                if not future and m % 4 != 1
                else None,
                "shortlink": f"https://stspg.io/{maintenance_id[:7]}",
                "status": "scheduled" if future else "completed",
                "updated_at": updates[-1]["created_at"],
                "started_at": iso(announced),
            }
        )
    # Components are in the status the last incident left them in (maintenances end operational
    # and happen between incidents, so they leave the status as it was).
    for ref, status in status_now.items():
        by_id[ref]["status"] = status
        if status != "operational":
            by_id[ref]["updated_at"] = incident_docs[incidents - 1]["updated_at"]
    for incident in incident_docs:
        for component in incident["components"]:
            component["status"] = by_id[component["id"]]["status"]

    templates = [
        {
            "id": code(),
            "components": [by_id[ref] for ref in ids[:2]],
            "name": "Degraded API",
            "title": "Degraded API performance",
            "body": "We are investigating slow API responses.\nMore soon.",
            "group_id": None,
            "update_status": "investigating",
            "should_tweet": False,
            "should_send_notifications": True,
        },
        {
            "id": code(),
            "components": [],
            "name": "Login problems",
            "title": "Customers cannot sign in",
            "body": "Some customers cannot sign in. We are on it.",
            "group_id": None,
            "update_status": "identified",
            "should_tweet": False,
            "should_send_notifications": True,
        },
        {
            "id": code(),
            "components": [by_id[ids[-1]]] if ids else [],
            "name": "Third-party outage",
            "title": "A provider we rely on is down",
            "body": "A provider we rely on has an outage; we are following their updates.",
            "group_id": None,
            "update_status": "monitoring",
            "should_tweet": False,
            "should_send_notifications": False,
        },
        {
            "id": code(),
            "components": [],
            "name": "All clear",
            "title": "Resolved",
            "body": "Everything works again.",
            "group_id": None,
            "update_status": "resolved",
            "should_tweet": False,
            "should_send_notifications": True,
        },
        {
            "id": code(),
            "components": [by_id[ref] for ref in ids[:3]],
            "name": "Planned upgrade",
            "title": "Planned database upgrade",
            "body": "We will upgrade our databases.",
            "group_id": None,
            "update_status": "scheduled",
            "should_tweet": False,
            "should_send_notifications": True,
        },
    ]

    subscriber_docs = []
    for n in range(subscribers):
        kind = n % 20
        sid = code()
        created_at = start + timedelta(minutes=n * 97 % (days * 24 * 60))
        doc = {
            "id": sid,
            "skip_confirmation_notification": False,
            "mode": "email",
            "email": None,
            "endpoint": None,
            "phone_number": None,
            "phone_country": None,
            "display_phone_number": None,
            "obfuscated_channel_name": None,
            "workspace_name": None,
            "quarantined_at": None,
            "purge_at": None,
            "components": [],
            "page_access_user_id": None,
            "created_at": iso(created_at),
        }
        if kind < 14:
            doc["email"] = f"person{n}@customer{n % 97}.example.com"
        elif kind < 16:
            doc["mode"] = "sms"
            doc["phone_country"] = "GB"
            doc["phone_number"] = f"7400{n:06d}"
            doc["display_phone_number"] = f"+44 7400 {n:06d}"
        elif kind < 18:
            doc["mode"] = "webhook"
            doc["endpoint"] = f"https://hooks.customer{n}.example.com/statuspage"
            doc["email"] = f"ops{n}@customer{n}.example.com"
        elif kind == 18:
            if n % 40 == 18:
                doc["mode"] = "slack"
                doc["obfuscated_channel_name"] = "#st…us"
                doc["workspace_name"] = f"Customer {n}"
            else:
                doc["mode"] = "teams"
                doc["endpoint"] = (
                    f"https://prod-{n % 90:02d}.westeurope.logic.azure.com:443/workflows/"
                    f"{sid}/triggers/manual/paths/invoke?sig={sid}"
                )
        else:
            doc["mode"] = "integration_partner" if n % 40 == 19 else "email"
            doc["email"] = None if doc["mode"] != "email" else f"late{n}@example.org"
        if rng.random() < 0.3 and ids:
            doc["components"] = rng.sample(ids, k=rng.randint(1, 3))
        roll = rng.random()
        state = "active" if roll < 0.85 else "pending" if roll < 0.95 else "quarantined"
        if state == "quarantined":
            doc["quarantined_at"] = iso(now - timedelta(days=1 + n % 30))
            doc["purge_at"] = iso(now + timedelta(days=60 - n % 30))
        doc["state"] = state
        subscriber_docs.append(doc)

    metrics = [
        {
            "id": code(),
            "metrics_provider_id": code(),
            "metric_identifier": "api.latency",
            "name": "API response time",
            "display": True,
            "tooltip_description": "Median time to answer an API request",
            "backfilled": False,
            "y_axis_min": 0,
            "y_axis_max": None,
            "y_axis_hidden": False,
            "suffix": "ms",
            "decimal_places": 0,
            "most_recent_data_at": iso(now - timedelta(minutes=5)),
            "created_at": created,
            "updated_at": created,
            "last_fetched_at": iso(now - timedelta(minutes=5)),
            "backfill_percentage": 100,
            "reference_name": "API response time",
        },
        {
            "id": code(),
            "metrics_provider_id": code(),
            "metric_identifier": "api.errors",
            "name": "Error rate",
            "display": False,
            "tooltip_description": "",
            "backfilled": False,
            "y_axis_min": 0,
            "y_axis_max": 100,
            "y_axis_hidden": True,
            "suffix": "%",
            "decimal_places": 2,
            "most_recent_data_at": iso(now - timedelta(minutes=5)),
            "created_at": created,
            "updated_at": created,
            "last_fetched_at": iso(now - timedelta(minutes=5)),
            "backfill_percentage": 100,
            "reference_name": "Error rate",
        },
    ]
    return {
        "page": page,
        "components": component_docs,
        "groups": group_docs,
        "incidents": incident_docs,
        "incident_templates": templates,
        "subscribers": subscriber_docs,
        "metrics": metrics,
    }
