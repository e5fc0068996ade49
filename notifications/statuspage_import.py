"""Import a page from the public JSON of any Statuspage-hosted status page (the quick start of
issue 16, no API key): `/api/v2/summary.json` (the page, its components and groups, unresolved
incidents, active and upcoming maintenance), `/api/v2/incidents.json` (the 50 most recent
incidents) and `/api/v2/scheduled-maintenances.json` (the 50 most recent maintenances).

The three documents are fetched over the platform's hardened outbound HTTP (the session of
notifications/transports.py: its address filter, no redirects; here with a time limit and a size
limit) and converted into an export document (format heliograph.page, version 1: the README's
"Export and restore"), whose ids are Statuspage's; notifications/importing.py imports it (a
new page, or the page imported before from the same Statuspage page, updated), sending
nothing.

What is converted:
- groups (components with `group: true`) and components, each with its current status, in
  Statuspage's order: members in their group's order; ungrouped components come before the
  groups here (Statuspage may interleave them, which is then warned about);
- incidents and maintenance with every update: status, body, display_at and created_at, the
  statuses each update set on the affected components (`affected_components`), impact (kept as
  staff's choice when the components would give another), scheduled_for/until, a postmortem if
  the JSON has one (`postmortem_body`); the shortlink is added at the end of the first update's
  text, as a reference. Bodies are plain text on Statuspage: Markdown's special characters are
  escaped and line breaks kept as hard breaks, so they read as they did (addresses stay links);
- each component's status history, rebuilt from the incidents' affected components.

Where the public data cannot give the exact history (the uptime bars are therefore close to
Statuspage's, not equal):
- only the 50 most recent incidents and maintenances are public: older changes are not seen, and
  each component's history starts, at its creation, in the status its earliest known change
  started from (a component no incident names is operational until its `updated_at`, then in
  its current status);
- a status change made by hand, outside an incident, is not in the JSON: it shows only as the
  component's current status, dated at its `updated_at` (which any edit of the component moves),
  and as a jump where an update's old status is not the status before it;
- updates older than Statuspage's `affected_components` (and updates that set no status) say
  nothing about components, so such incidents leave the history unchanged;
- a change is dated at its update's display time, which its author may have backdated.
Maintenance is imported without automatic start and end unless the JSON has Statuspage's
`scheduled_auto_in_progress` / `scheduled_auto_completed` (the management API's; the public JSON
does not say): staff turn them on, or move the maintenance on by hand.
"""

import http.client
import json
import re
import time
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import requests
import urllib3
from requests_hardened.ip_filter import InvalidIPAddress

from incidents.models import (
    CLOSED_STATUSES,
    IMPACT_OF_STATUS,
    INCIDENT_STATUSES,
    MAINTENANCE_STATUSES,
    Impact,
    IncidentStatus,
    Kind,
)
from notifications.models import TransportError
from notifications.transports import check_endpoint, http_session, parse_retry_after
from status.models import ComponentStatus, worst_status
from status.portability import FORMAT, VERSION, iso_utc

TIMEOUT = 20  # seconds, to connect and between bytes
TOTAL_TIMEOUT = 60  # seconds for a whole document
MAX_BYTES = 20 * 1024 * 1024
ATTEMPTS = 4  # tries of a document that Statuspage rate-limits (420, 429) or cannot serve (503)
BACKOFF = (1, 2, 4)  # seconds between them, unless the answer says (Retry-After, at most 30)
RETRY_STATUSES = {420, 429, 503}
DOCUMENTS = ("summary.json", "incidents.json", "scheduled-maintenances.json")
NAME_LENGTHS = {"group": 100, "component": 100, "incident": 200}
SHOWN_NAMES = 5


class ImportFailure(Exception):
    """The source cannot be imported; the message says why. Nothing was written."""


@dataclass
class Plan:
    """What an import would create: the export document, and what the conversion left out."""

    source: str
    document: dict
    warnings: list = field(default_factory=list)

    def names(self, kind):
        """The names of the groups, components, incidents or maintenances, in the document's
        order (incidents: newest first)."""
        if kind in ("groups", "components"):
            return [item["name"] for item in self.document[kind]]
        wanted = Kind.MAINTENANCE if kind == "maintenances" else Kind.INCIDENT
        items = [i for i in self.document["incidents"] if i["kind"] == wanted]
        return [i["name"] for i in sorted(items, key=lambda i: i["started_at"], reverse=True)]


# Fetching ---------------------------------------------------------------------------------------


def base_url(url):
    """The page's address as given (`https://status.example.com`, perhaps with a path, a
    trailing slash or `/api/v2`), checked: http or https, with a host."""
    url = (url or "").strip().rstrip("/")
    url = re.sub(r"/api/v2(/[\w.-]*)?$", "", url)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImportFailure(
            f"{url or 'The address'} is not the address of a status page (https://…)."
        )
    if parts.username is not None or parts.password is not None:
        raise ImportFailure(
            "Give the page's address without a user name or password: the public JSON needs none."
        )
    if parts.query or parts.fragment:
        raise ImportFailure(f"{url}: give the page's address without ?… or #….")
    return url


def http_get(url, *, max_bytes=None, headers=None, timeout=None, total_timeout=None):
    """GET `url` over the hardened session (address filter, no redirects): (status, headers,
    body), the body at most `max_bytes` long (ImportFailure beyond), the whole answer within
    `total_timeout` seconds (TOTAL_TIMEOUT), with at most `timeout` seconds (TIMEOUT) to
    connect and between bytes. `headers` are sent besides `accept`. ImportFailure when it
    cannot be fetched."""
    try:
        check_endpoint(url)
    except TransportError as error:
        raise ImportFailure(f"{url}: {error}") from None
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    timeout = TIMEOUT if timeout is None else timeout
    total_timeout = TOTAL_TIMEOUT if total_timeout is None else total_timeout
    deadline = time.monotonic() + total_timeout
    try:
        response = http_session().get(
            url,
            headers={"accept": "application/json", **(headers or {})},
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        )
    except InvalidIPAddress:
        raise ImportFailure(
            f"{url}: refused, its host resolves to a private or reserved address."
        ) from None
    except requests.Timeout:
        raise ImportFailure(f"{url}: no answer within {timeout} seconds.") from None
    except (requests.RequestException, ValueError) as error:
        raise ImportFailure(f"{url}: the request failed ({error.__class__.__name__}).") from None
    content = bytearray()
    try:
        with response:
            # read1: whatever has arrived (at least a byte), so that a source sending a byte
            # now and then is stopped at the deadline, not after a whole chunk.
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                content += chunk
                if len(content) > max_bytes:
                    raise ImportFailure(
                        f"{url}: the answer is larger than {max_bytes // (1024 * 1024)} MiB."
                    )
                if time.monotonic() > deadline:
                    raise ImportFailure(f"{url}: the answer took over {total_timeout} seconds.")
    except requests.Timeout:
        raise ImportFailure(f"{url}: the answer stopped for {timeout} seconds.") from None
    except (urllib3.exceptions.ProtocolError, http.client.IncompleteRead) as error:
        # The connection closed before the length the answer announced.
        if isinstance(error, http.client.IncompleteRead) or "IncompleteRead" in str(error):
            raise ImportFailure(
                f"{url}: the answer was cut short (the connection closed after "
                f"{len(content)} bytes)."
            ) from None
        raise ImportFailure(
            f"{url}: reading the answer failed ({error.__class__.__name__})."
        ) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise ImportFailure(
            f"{url}: reading the answer failed ({error.__class__.__name__})."
        ) from None
    headers = {key.lower(): value for key, value in response.headers.items()}
    return response.status_code, headers, bytes(content)


def fetch_json(url, sleep=time.sleep):
    """The JSON object at `url`, retried with backoff while rate-limited."""
    for attempt in range(ATTEMPTS):
        status, headers, content = http_get(url)
        if status not in RETRY_STATUSES:
            break
        if attempt == ATTEMPTS - 1:
            raise ImportFailure(
                f"{url} answered {status} (rate limited) {ATTEMPTS} times; try again later."
            )
        wait = parse_retry_after(headers.get("retry-after"))
        seconds = BACKOFF[attempt] if wait is None else min(wait.total_seconds(), 30)
        sleep(seconds)
    if 300 <= status < 400:
        where = headers.get("location", "elsewhere")
        raise ImportFailure(f"{url} redirects to {where}: give that address instead.")
    if status == 404:
        raise ImportFailure(f"{url} was not found (404): is this a Statuspage page?")
    if status != 200:
        raise ImportFailure(f"{url} answered {status}.")
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: JSON's and ints
        raise ImportFailure(
            f"{url} did not answer JSON (or it was cut short): is this a Statuspage page?"
        ) from None
    if not isinstance(data, dict):
        raise ImportFailure(f"{url}: expected a JSON object.")
    return data


def fetch(url):
    """The three public documents of the page at `url`: {name: JSON object}."""
    base = base_url(url)
    return base, {name: fetch_json(f"{base}/api/v2/{name}") for name in DOCUMENTS}


# Converting -------------------------------------------------------------------------------------


class Source:
    """One object of a Statuspage document, read with its path for messages."""

    def __init__(self, data, path):
        if not isinstance(data, dict):
            raise ImportFailure(f"{path}: expected an object.")
        self.data, self.path = data, path

    def at(self, key):
        return f"{self.path}.{key}"

    def text(self, key, default=None):
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise ImportFailure(f"{self.at(key)}: missing.")
            return default
        if not isinstance(value, str):
            raise ImportFailure(f"{self.at(key)}: expected text.")
        return value.replace("\x00", "")

    def flag(self, key, default):
        value = self.data.get(key)
        return value if isinstance(value, bool) else default

    def moment(self, key, required=False):
        value = self.data.get(key)
        if value is None and not required:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ImportFailure(f"{self.at(key)}: expected a date-time (ISO 8601), not {value!r}.")
        return parsed.astimezone(UTC)

    def items(self, key, required=False):
        value = self.data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise ImportFailure(f"{self.at(key)}: expected a list.")
        return [Source(item, f"{self.at(key)}[{n}]") for n, item in enumerate(value)]


def shortened(name, kind, warnings):
    limit = NAME_LENGTHS[kind]
    if len(name) <= limit:
        return name
    warnings.append(f"The {kind} name “{name[:40]}…” was cut to {limit} characters.")
    return name[: limit - 1] + "…"


URL = re.compile(r"(?:https?://|www\.)[^\s<>]+", re.IGNORECASE)
# Characters that mean something to Markdown anywhere in a line, and at a line's start.
INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
ENTITY = re.compile(r"&(?=#?\w+;)")
LINE_START = re.compile(r"^([#>+=-]|\d+(?=[.)]))")


def plain_text_markdown(text):
    """Statuspage's plain text as Markdown that renders the same words: special characters
    escaped, each line break a hard break, leading spaces kept (as no-break spaces), web
    addresses left as they are (they become links)."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.rstrip()
        body = stripped.lstrip(" \t")
        indent = "\u00a0" * (len(stripped) - len(body))
        pieces, last = [], 0
        for match in URL.finditer(body):
            url = link_target(match.group(0))
            pieces.append(escape_inline(body[last : match.start()]))
            # An autolink: its text is its address, whatever Markdown the address holds.
            pieces.append(f"<{url if '://' in url else 'http://' + url}>")
            last = match.start() + len(url)
        pieces.append(escape_inline(body[last:]))
        escaped = "".join(pieces)
        escaped = LINE_START.sub(
            lambda m: m.group(1) + "\\" if m.group(1)[0].isdigit() else "\\" + m.group(1),
            escaped,
        )
        lines.append(indent + escaped)
    # A line followed by another non-blank line ends in a hard break (a backslash).
    out = []
    for n, line in enumerate(lines):
        following = lines[n + 1] if n + 1 < len(lines) else ""
        out.append(line + "\\" if line.strip() and following.strip() else line)
    return "\n".join(out).strip("\n")


def link_target(found):
    """A web address found in text, without the punctuation that ends its sentence."""
    url = found.rstrip(".,;:!?'\"")
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1].rstrip(".,;:!?'\"")
    return url


def escape_inline(text):
    return ENTITY.sub("\\&", INLINE_SPECIAL.sub(r"\\\1", text))


def convert(base, documents):
    """The export document (heliograph.page version 1) for the page whose public JSON is
    `documents` ({"summary.json": …, "incidents.json": …, "scheduled-maintenances.json": …}):
    a Plan. ImportFailure when a document is not Statuspage's."""
    warnings = []
    summary = Source(documents["summary.json"], "summary.json")
    if not isinstance(summary.data.get("page"), dict) or not isinstance(
        summary.data.get("components"), list
    ):
        raise ImportFailure(
            f"{base}/api/v2/summary.json has no page and components: is this a Statuspage page?"
        )
    page = Source(summary.data["page"], "summary.json.page")
    page_data = {
        "id": page.text("id", ""),
        "name": page.text("name")[:100] or "Imported page",
        "time_zone": known_time_zone(page.text("time_zone", "UTC"), warnings),
    }
    groups, components = convert_components(summary, warnings)
    known = {c["id"]: c for c in components}
    incidents = convert_incidents(documents, known, warnings)
    rebuild_history(components, incidents)
    document = export_document(page_data, groups, components, incidents)
    return Plan(source=base, document=document, warnings=warnings)


def export_document(page, groups, components, incidents, **more):
    """An export document (format heliograph.page) of what a converter read."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso_utc(datetime.now(UTC)),
        "includes_secrets": False,
        "page": page,
        "groups": groups,
        "components": components,
        "incidents": incidents,
        **more,
    }


def known_time_zone(name, warnings):
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        warnings.append(f"The page's time zone {name!r} is unknown here; the page uses UTC.")
        return "UTC"
    return name


def day_or_none(value):
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        return None


def convert_components(summary, warnings):
    items = summary.items("components", required=True)
    groups, members, loose = {}, {}, []
    for item in items:
        ref = item.text("id")
        if item.data.get("group") is True:
            groups[ref] = item
        else:
            loose.append(item)
    # A member names its group (group_id), and a group lists its members (components).
    listed_in = {}
    for ref, item in groups.items():
        listed = item.data.get("components")
        for member in listed if isinstance(listed, list) else []:
            if isinstance(member, str):
                listed_in.setdefault(member, ref)
    for item in loose:
        group_ref = item.data.get("group_id") or listed_in.get(item.text("id"))
        if group_ref and group_ref not in groups:
            warnings.append(
                f"The component “{item.text('name')}” names a group that is not on the page; "
                "it is imported without a group."
            )
            group_ref = None
        members.setdefault(group_ref, []).append(item)

    def position(item):
        value = item.data.get("position")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    top = sorted([*groups.values(), *members.get(None, [])], key=position)
    # Here ungrouped components come first, then the groups: say so if Statuspage mixed them.
    kinds = [item.data.get("group") is True for item in top]
    if True in kinds and False in kinds[kinds.index(True) :]:
        warnings.append(
            "Statuspage shows some ungrouped components between groups; here ungrouped "
            "components come first, then the groups."
        )
    group_docs = []
    for item in sorted(groups.values(), key=position):
        group_docs.append(
            {
                "id": item.text("id"),
                "name": shortened(item.text("name"), "group", warnings),
                "description": item.text("description", ""),
                "collapsed": False,
                "created_at": iso_utc(item.moment("created_at")),
                "updated_at": iso_utc(item.moment("updated_at")),
            }
        )
    component_docs = []
    for group_ref in [None, *(g["id"] for g in group_docs)]:
        listed = groups[group_ref].data.get("components") if group_ref else None
        order = {ref: n for n, ref in enumerate(listed)} if isinstance(listed, list) else {}
        for item in sorted(
            members.get(group_ref, []), key=lambda i: (position(i), order.get(i.text("id"), 0))
        ):
            status = item.text("status", ComponentStatus.OPERATIONAL)
            if status not in ComponentStatus.values:
                warnings.append(
                    f"The component “{item.text('name')}” has the unknown status {status!r}; "
                    "it is imported as operational."
                )
                status = ComponentStatus.OPERATIONAL
            component_docs.append(
                {
                    "id": item.text("id"),
                    "group": group_ref,
                    "name": shortened(item.text("name"), "component", warnings),
                    "description": item.text("description", ""),
                    "status": status,
                    "showcase": item.flag("showcase", True),
                    "only_show_if_degraded": item.flag("only_show_if_degraded", False),
                    "start_date": day_or_none(item.data.get("start_date")),
                    "created_at": iso_utc(item.moment("created_at")),
                    "updated_at": iso_utc(item.moment("updated_at")),
                    "history": [],
                    # Only for rebuild_history; dropped there.
                    "_updated_at": item.moment("updated_at"),
                    "_created_at": item.moment("created_at"),
                }
            )
    return group_docs, component_docs


def source_incidents(documents):
    """Every incident and maintenance of the three documents, once each (the most recently
    updated copy): [Source]."""
    found = {}
    lists = [
        ("summary.json", "incidents"),
        ("summary.json", "scheduled_maintenances"),
        ("incidents.json", "incidents"),
        ("scheduled-maintenances.json", "scheduled_maintenances"),
    ]
    for name, key in lists:
        document = Source(documents[name], name)
        required = name != "summary.json"
        for item in document.items(key, required=required):
            ref = item.text("id")
            seen = found.get(ref)
            if seen is None or (item.moment("updated_at") or datetime.min.replace(tzinfo=UTC)) > (
                seen.moment("updated_at") or datetime.min.replace(tzinfo=UTC)
            ):
                found[ref] = item
    return list(found.values())


def convert_incidents(documents, known, warnings):
    converted = convert_incident_items(source_incidents(documents), known, warnings)
    for name, key in (
        ("incidents.json", "incidents"),
        ("scheduled-maintenances.json", "scheduled_maintenances"),
    ):
        if len(Source(documents[name], name).items(key)) >= 50:
            warnings.append(
                f"{name} lists only the 50 most recent: older ones, and the status history they "
                "hold, are not in the public JSON."
            )
    return converted


def convert_incident_items(items, known, warnings):
    """The document's incidents for Statuspage incident objects `items` ([Source], in the
    shape of the public JSON or of the management API, which have the same fields here);
    `known`: {component id: component document}. Oldest first."""
    converted = []
    unknown_components = set()
    by_hand = 0
    for item in items:
        name = item.text("name")
        status = item.text("status")
        maintenance = status in MAINTENANCE_STATUSES
        if status not in (*INCIDENT_STATUSES, IncidentStatus.POSTMORTEM, *MAINTENANCE_STATUSES):
            warnings.append(f"“{name}” has the unknown status {status!r}; it was left out.")
            continue
        scheduled_for, scheduled_until = (
            item.moment("scheduled_for"),
            item.moment("scheduled_until"),
        )
        if maintenance and not (scheduled_for and scheduled_until):
            warnings.append(f"The maintenance “{name}” has no window; it was left out.")
            continue
        updates, impacted, worst = [], [], []
        for update in sorted(
            item.items("incident_updates"),
            key=lambda u: u.moment("display_at") or u.moment("created_at", required=True),
        ):
            update_status = update.text("status")
            if update_status not in IncidentStatus.values:
                warnings.append(
                    f"An update of “{name}” has the unknown status {update_status!r}; "
                    "it was left out."
                )
                continue
            created_at = update.moment("created_at", required=True)
            impacts = []
            for affected in update.items("affected_components"):
                ref = affected.text("code")
                old, new = affected.text("old_status"), affected.text("new_status")
                if ref not in known:
                    unknown_components.add(ref)
                    continue
                if old not in ComponentStatus.values or new not in ComponentStatus.values:
                    warnings.append(
                        f"An update of “{name}” gives an unknown status of “{known[ref]['name']}”"
                        f" ({old!r} → {new!r}); that status was left out."
                    )
                    continue
                impacts.append({"component": ref, "old_status": old, "new_status": new})
                if ref not in impacted:
                    impacted.append(ref)
                if new != ComponentStatus.OPERATIONAL:
                    worst.append(new)
            updates.append(
                {
                    "id": update.text("id"),
                    "status": update_status,
                    "body": plain_text_markdown(update.text("body", "")),
                    "display_at": iso_utc(update.moment("display_at") or created_at),
                    "deliver_notifications": update.flag("deliver_notifications", True),
                    "created_at": iso_utc(created_at),
                    "updated_at": iso_utc(update.moment("updated_at") or created_at),
                    "impacts": impacts,
                }
            )
        if not updates:
            warnings.append(f"“{name}” has no updates in the public JSON; it was left out.")
            continue
        shortlink = item.data.get("shortlink")
        if isinstance(shortlink, str) and URL.fullmatch(shortlink):
            first = updates[0]
            first["body"] = (first["body"] + "\n\n" if first["body"] else "") + (
                f"Statuspage: {shortlink}"
            )
        for component in item.items("components"):
            ref = component.text("id")
            if ref in known and ref not in impacted:
                impacted.append(ref)
            elif ref not in known:
                unknown_components.add(ref)

        def first_at(wanted, updates=updates):
            return next((u["display_at"] for u in updates if u["status"] == wanted), None)

        created_at = item.moment("created_at", required=True)
        worst_component = worst_status(worst, default="") if worst else ""
        impact = item.text("impact", Impact.NONE)
        if impact not in Impact.values:
            impact = Impact.MAINTENANCE if maintenance else Impact.NONE
        if maintenance:
            started_at = first_at(IncidentStatus.IN_PROGRESS) or iso_utc(scheduled_for)
            override = ""
            impact = Impact.MAINTENANCE
        else:
            started_at = iso_utc(item.moment("started_at") or created_at)
            computed = IMPACT_OF_STATUS[worst_component] if worst_component else Impact.NONE
            override = impact if impact != computed else ""
        closed = status in CLOSED_STATUSES
        if maintenance and not closed and "scheduled_auto_completed" not in item.data:
            by_hand += 1
        resolved_at = item.moment("resolved_at")
        if closed and resolved_at is None:
            resolved_at = datetime.fromisoformat(
                first_at(IncidentStatus.COMPLETED if maintenance else IncidentStatus.RESOLVED)
                or updates[-1]["display_at"]
            )
        postmortem_body = item.data.get("postmortem_body")
        converted.append(
            {
                "id": item.text("id"),
                "kind": Kind.MAINTENANCE if maintenance else Kind.INCIDENT,
                "name": shortened(name, "incident", warnings),
                "status": status,
                "impact": impact,
                "impact_override": override,
                "worst_component_status": worst_component,
                "components": impacted,
                "started_at": started_at,
                "identified_at": first_at(IncidentStatus.IDENTIFIED),
                "monitoring_at": iso_utc(item.moment("monitoring_at"))
                or first_at(IncidentStatus.MONITORING),
                "resolved_at": iso_utc(resolved_at) if closed else None,
                "scheduled_for": iso_utc(scheduled_for) if maintenance else None,
                "scheduled_until": iso_utc(scheduled_until) if maintenance else None,
                # Statuspage's flags when the JSON has them (its management API does), else
                # by hand (see the module's docstring).
                "auto_start": item.flag("scheduled_auto_in_progress", False),
                "auto_complete": item.flag("scheduled_auto_completed", False),
                "postmortem": {
                    "body": plain_text_markdown(postmortem_body)
                    if isinstance(postmortem_body, str)
                    else "",
                    "published_at": iso_utc(item.moment("postmortem_published_at"))
                    if isinstance(postmortem_body, str)
                    else None,
                },
                "created_at": iso_utc(created_at),
                "updated_at": iso_utc(item.moment("updated_at") or created_at),
                "updates": updates,
            }
        )
    if by_hand:
        warnings.append(
            f"{by_hand} maintenance(s) not completed yet will not start or end by themselves "
            "(the public JSON does not say whether Statuspage would): turn that on in the "
            "console, or move them on by hand."
        )
    if unknown_components:
        warnings.append(
            f"{len(unknown_components)} component(s) named by incidents are no longer on the "
            "page; they were left out of those incidents."
        )
    converted.sort(key=lambda i: (i["created_at"], i["id"]))
    return converted


@dataclass
class Period:
    status: str
    started_at: datetime
    ended_at: datetime | None = None
    incident: str | None = None


def change(periods, at, status, incident):
    """Move the history in `periods` to `status` at `at` (the latest change at one moment
    wins)."""
    last = periods[-1]
    if status == last.status:
        return
    if at <= last.started_at:
        if len(periods) > 1 and periods[-2].status == status:
            periods.pop()
            periods[-1].ended_at = None
        else:
            last.status, last.incident = status, incident
        return
    last.ended_at = at
    periods.append(Period(status, at, None, incident))


def rebuild_history(components, incidents):
    """Each component's status history from the incidents' affected components (the module's
    docstring says where it differs from Statuspage's own)."""
    now = datetime.now(UTC)
    changes = {}
    for incident in incidents:
        for update in incident["updates"]:
            at = datetime.fromisoformat(update["display_at"])
            for impact in update["impacts"]:
                changes.setdefault(impact["component"], []).append(
                    (at, impact["old_status"], impact["new_status"], incident["id"])
                )
    for component in components:
        created_at = component.pop("_created_at")
        updated_at = component.pop("_updated_at")
        found = sorted(changes.get(component["id"], []), key=lambda c: c[0])
        if not found and component["status"] == ComponentStatus.OPERATIONAL:
            continue  # one open period in its status, since its history's start
        known = [at for at in (created_at, updated_at, found[0][0] if found else None) if at]
        start = min(known, default=now)
        periods = [Period(found[0][1] if found else ComponentStatus.OPERATIONAL, start)]
        for at, _old, new, incident in found:
            change(periods, at, new, incident)
        if periods[-1].status != component["status"]:
            # Changed outside any incident the JSON shows: dated at the component's last edit.
            at = max(updated_at or now, periods[-1].started_at)
            change(periods, at, component["status"], None)
        component["history"] = [
            {
                "status": p.status,
                "started_at": iso_utc(p.started_at),
                "ended_at": iso_utc(p.ended_at),
                "incident": p.incident,
            }
            for p in periods
        ]


# Importing --------------------------------------------------------------------------------------


def plan(url):
    """Fetch and convert the public JSON of the Statuspage page at `url`: a Plan, or
    ImportFailure."""
    base, documents = fetch(url)
    try:
        return convert(base, documents)
    except (TypeError, ValueError, OverflowError, KeyError, AttributeError) as error:
        # A value of a type or range Statuspage never sends (the reader checks what it uses,
        # but not every odd shape): refused whole, as any malformed source.
        raise ImportFailure(
            f"{base}: the JSON is not Statuspage's as documented ({error.__class__.__name__}:"
            f" {str(error)[:200]})."
        ) from None
