"""Read a page from Statuspage's management API (v1) with the customer's API key and convert it
into an export document (format heliograph.page, version 1: the README's "Export and
restore"), as notifications/statuspage_import.py does from the public JSON. `plan_api` returns
the same Plan; the document's ids are Statuspage's ids, so an import can find again what an
earlier one made.

What is read (each list in pages of PER_PAGE, `page=1, 2, …` until a page comes back shorter):
- `GET /pages/{page_id}`: the page's name, time zone, address on Statuspage (its subdomain, kept
  as the page's slug when free here), company and support URLs, which subscriptions it allows;
- `/components` and `/component-groups`: groups and components, in Statuspage's order;
- `/incidents`: every incident and scheduled maintenance (the list holds both; the
  maintenances of `/incidents/scheduled` and `/incidents/active_maintenance` are merged in by
  id, so that none can be missed) with every update and the statuses each update set on the
  affected components, impact, window,
  Statuspage's automatic start and end (`scheduled_auto_in_progress` / `_completed` → auto_start
  / auto_complete), whether those transitions notify (`auto_transition_deliver_notifications_at_
  start` / `_end` → notify_on_start / notify_on_complete), the reminder (`scheduled_remind_prior`
  → 60 minutes before, Statuspage's reminder; `scheduled_reminded_at` → reminder_sent_at), the
  postmortem (published when `postmortem_published_at` is set, else kept as a draft), the
  shortlink as a reference at the end of the first update; each component's history is rebuilt
  from the updates as statuspage_import.rebuild_history does (its docstring says where that
  differs from Statuspage's own uptime bars: status changes made outside incidents);
- `/incident_templates`: name, title, body, the status it opens with and its components.
  Statuspage's templates name components but no status for them: they get the template's
  default, degraded performance. Templates for maintenance (opening `scheduled` or
  `in_progress`) are left out with a warning: here a template opens an incident;
- `/subscribers`, once per state (`state=active`, `pending`, `quarantined`; unsubscribed ones
  are not read): email, SMS (the number and its country → international format), webhook (its
  endpoint and contact email) and Microsoft Teams (its endpoint) subscribers, with their
  component scope. Active ones stay confirmed (dated at their `created_at`: Statuspage does
  not say when they confirmed), pending ones stay waiting for confirmation, quarantined ones
  come quarantined (with `quarantined_at`). Slack subscriptions through Statuspage's Slack app
  (no webhook URL), integration partners and anything without an address cannot be carried
  over: they are left out, counted in a warning;
- `/metrics`: each metric's definition. Statuspage's API has no way to read a metric's data
  points (only to add or reset them), so metrics arrive empty, with a warning.

Every request carries `Authorization: OAuth <key>` and goes over the platform's hardened
outbound HTTP (statuspage_import.http_get: address filter, no redirects, size and time limits).
Answers 420 and 429 (Statuspage's rate limit: about one request a second) and 503 are retried
after their Retry-After (at most MAX_WAIT seconds), ATTEMPTS times in all. Anything else wrong
stops the import with an ImportFailure whose message says what to do; the key is never in a
message.
"""

import json
import re
import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from incidents.models import INCIDENT_STATUSES, MAINTENANCE_STATUSES, IncidentStatus, Kind
from notifications import sms
from notifications.models import Channel, SubscriberState, normalise_email
from notifications.statuspage_import import (
    ImportFailure,
    Plan,
    Source,
    convert_components,
    convert_incident_items,
    export_document,
    http_get,
    known_time_zone,
    plain_text_markdown,
    rebuild_history,
)
from notifications.transports import parse_retry_after
from status.models import MAX_DECIMAL_PLACES, ComponentStatus
from status.portability import iso_utc

TIMEOUT = 20  # seconds, to connect and between bytes (tests lower it)
TOTAL_TIMEOUT = 120  # seconds for one answer (a page of 100 incidents with their updates)
PER_PAGE = 100  # Statuspage's maximum
MAX_PAGES = 1000  # of one list: 100,000 objects; more means the API ignores `page`
ATTEMPTS = 5  # tries of a request that is rate-limited (420, 429) or not served (503)
BACKOFF = (1, 2, 4, 8)  # seconds between tries when the answer says no Retry-After
MAX_WAIT = 60  # seconds: the longest Retry-After honoured (Statuspage asks up to 60)
RETRY_STATUSES = {420, 429, 503}
REMINDER_MINUTES = 60  # Statuspage reminds subscribers an hour before a maintenance
PAGE_ID = re.compile(r"^[A-Za-z0-9]{1,40}$")
SUBSCRIBER_STATES = (
    # (the list's `state` filter, our state, what progress calls them)
    ("active", SubscriberState.CONFIRMED, "confirmed"),
    ("pending", SubscriberState.PENDING, "unconfirmed"),
    ("quarantined", SubscriberState.QUARANTINED, "quarantined"),
)
# Then the list of those who unsubscribed (GET …/subscribers/unsubscribed).
STATES_READ = (*SUBSCRIBER_STATES, ("unsubscribed", SubscriberState.UNSUBSCRIBED, "unsubscribed"))
MODES = {
    "email": Channel.EMAIL,
    "sms": Channel.SMS,
    "webhook": Channel.WEBHOOK,
    "teams": Channel.TEAMS,
    "slack": Channel.SLACK,
}
LENGTHS = {"template name": 100, "template title": 200, "metric name": 100}


def pause(seconds):
    """Wait between tries of a rate-limited request (tests replace it)."""
    time.sleep(seconds)


def api_base(url):
    """The API's address as given (`https://api.statuspage.io/v1`), checked."""
    url = (url or settings.STATUSPAGE_API_URL or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImportFailure(
            f"{url or 'The address'} is not the address of Statuspage's API "
            "(https://api.statuspage.io/v1)."
        )
    if parts.username is not None or parts.password is not None or parts.query:
        raise ImportFailure(
            f"{parts.scheme}://{parts.hostname}…: give the API's address without a user name, "
            "password or ?…: the key goes in its own field."
        )
    return url


class Client:
    """GETs of one page's objects with one key."""

    def __init__(self, api_url, page_id, api_key, *, progress=None, sleep=None):
        self.api = api_base(api_url)
        page_id = (page_id or "").strip()
        if not PAGE_ID.match(page_id):
            raise ImportFailure(
                "Give the Statuspage page id: letters and digits, as on Statuspage's API info "
                "page (e.g. kctbh9vrtdwd)."
            )
        api_key = (api_key or "").strip()
        if not api_key or any(c.isspace() or ord(c) < 32 for c in api_key):
            raise ImportFailure(
                "Give a Statuspage API key (Statuspage → your avatar → API info), without spaces."
            )
        self.page_id, self.key = page_id, api_key
        self.progress = progress or (lambda label: None)
        self.sleep = sleep or pause
        self.page_url = f"{self.api}/pages/{page_id}"

    def get(self, url):
        """The JSON at `url` (status 200), retried while rate-limited; (status, data) for 401,
        403 and 404, which the caller explains; ImportFailure otherwise."""
        for attempt in range(ATTEMPTS):
            status, headers, content = http_get(
                url,
                headers={"authorization": f"OAuth {self.key}"},
                timeout=TIMEOUT,
                total_timeout=TOTAL_TIMEOUT,
            )
            if status not in RETRY_STATUSES:
                break
            if attempt == ATTEMPTS - 1:
                raise ImportFailure(
                    f"Statuspage's API answered {status} ("
                    + ("not available" if status == 503 else "rate limited")
                    + f") to {ATTEMPTS} tries of {url}; try again in a few minutes."
                )
            wait = parse_retry_after(headers.get("retry-after"))
            seconds = BACKOFF[attempt] if wait is None else min(wait.total_seconds(), MAX_WAIT)
            self.sleep(seconds)
        if 300 <= status < 400:
            where = headers.get("location", "elsewhere")
            raise ImportFailure(
                f"{url} redirects to {where}: give the address of Statuspage's API itself "
                "(https://api.statuspage.io/v1)."
            )
        if status in (401, 403, 404):
            return status, None
        if status != 200:
            raise ImportFailure(f"{url} answered {status}; try again later.")
        try:
            return status, json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ImportFailure(
                f"{url} did not answer JSON, or the JSON was cut short: is {self.api} "
                "Statuspage's API?"
            ) from None

    def page(self):
        self.progress("Reading the page")
        status, data = self.get(self.page_url)
        if status in (401, 403, 404):
            self.explain_refusal(status)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ImportFailure(
                f"{self.page_url} did not answer a Statuspage page (an object with an id): is "
                f"{self.api} Statuspage's API?"
            )
        return data

    def explain_refusal(self, status):
        """Why the page cannot be read: a wrong key, or a key that cannot see this page
        (Statuspage answers 401 for both, or 404 / 403 for a page of another organisation):
        the key's own pages tell them apart."""
        listed, pages = self.get(f"{self.api}/pages")
        if listed in (401, 403):
            raise ImportFailure(
                f"Statuspage refused the API key ({status}): check the key (Statuspage → your "
                "avatar → API info); it may have been revoked."
            )
        if listed != 200 or not isinstance(pages, list):
            raise ImportFailure(
                f"{self.page_url} answered {status}, and {self.api}/pages lists no pages: is "
                f"{self.api} Statuspage's API (https://api.statuspage.io/v1)?"
            )
        names = [
            f"{p.get('name')} ({p.get('id')})"
            for p in pages[:5]
            if isinstance(p, dict) and isinstance(p.get("id"), str)
        ]
        raise ImportFailure(
            f"This API key cannot read the page {self.page_id} (Statuspage answered {status}): "
            "check the page id, or use a key of the organisation that owns that page. "
            + (f"The key's pages: {', '.join(names)}." if names else "The key sees no page at all.")
        )

    def listing(self, path, label, first_page=1, **params):
        """Every object of the list at `path`, page after page from `first_page`: [dict]
        (each object once, by its id)."""
        found = {}
        order = []
        for number in range(first_page, first_page + MAX_PAGES):
            self.progress(f"Reading {label} (page {number})")
            query = urlencode({**params, "page": number, "per_page": PER_PAGE})
            url = f"{self.page_url}/{path}?{query}"
            status, data = self.get(url)
            if status == 401:
                raise ImportFailure(
                    f"Statuspage refused the API key while reading {label} (401): the key was "
                    "revoked during the import, or may not read them."
                )
            if status == 403:
                raise ImportFailure(
                    f"This API key may not read the page's {label} (403): use the key of a user "
                    "who manages the page."
                )
            if status == 404:
                raise ImportFailure(
                    f"{self.page_url}/{path} was not found (404): is {self.api} Statuspage's "
                    "API (…/v1)?"
                )
            if not isinstance(data, list):
                raise ImportFailure(
                    f"{url}: expected a list of {label}, not "
                    f"{type(data).__name__ if data is not None else 'null'}: is {self.api} "
                    "Statuspage's API?"
                )
            for n, item in enumerate(data):
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    raise ImportFailure(
                        f"{url}: item {n} of the {label} is not an object with an id."
                    )
                if item["id"] not in found:
                    order.append(item["id"])
                found[item["id"]] = item
            if len(data) < PER_PAGE:
                return [found[ref] for ref in order]
        raise ImportFailure(
            f"{self.page_url}/{path}: more than {MAX_PAGES} pages of {label}; the API seems to "
            "ignore `page`."
        )


def plan_api(api_url, page_id, api_key, *, progress=None, sleep=None):
    """Read the page `page_id` from Statuspage's management API at `api_url` (None:
    settings.STATUSPAGE_API_URL) with `api_key`, and convert it: a Plan, or ImportFailure.
    `progress(label)` is called before each request; `sleep(seconds)` waits between tries of
    a rate-limited one."""
    client = Client(api_url, page_id, api_key, progress=progress, sleep=sleep)
    page = client.page()
    data = {
        "page": page,
        "components": client.listing("components", "components"),
        "groups": client.listing("component-groups", "component groups"),
        "incidents": merged(
            client.listing("incidents", "incidents"),
            # Already in the list above as far as Statuspage documents it; asked again so
            # that no upcoming or running maintenance can be missed (two short requests).
            client.listing("incidents/scheduled", "scheduled maintenances"),
            client.listing("incidents/active_maintenance", "maintenances in progress"),
        ),
        "incident_templates": client.listing("incident_templates", "incident templates"),
        "subscribers": {
            # From page 0: Statuspage's references disagree on whether this list counts its
            # pages from 0 or from 1 (where page 0 is page 1 again); the same subscribers read
            # twice are kept once, and none is missed either way.
            **{
                state: client.listing(
                    "subscribers", f"subscribers: {words}", first_page=0, state=state
                )
                for state, _ours, words in SUBSCRIBER_STATES
            },
            # Those who unsubscribed: a re-run unsubscribes them here too.
            "unsubscribed": client.listing(
                "subscribers/unsubscribed", "subscribers: unsubscribed", first_page=0
            ),
        },
        "metrics": client.listing("metrics", "metrics"),
    }
    try:
        return convert_api(client.page_url, data)
    except (TypeError, ValueError, OverflowError, KeyError, AttributeError) as error:
        # A value of a type or range Statuspage never sends: refused whole.
        raise ImportFailure(
            f"{client.page_url}: the API's JSON is not Statuspage's as documented "
            f"({error.__class__.__name__}: {str(error)[:200]})."
        ) from None


def merged(*lists):
    """The objects of `lists`, each once (by id): the most recently updated copy."""
    found = {}
    for items in lists:
        for item in items:
            seen = found.get(item["id"])
            if seen is None or str(item.get("updated_at") or "") > str(
                seen.get("updated_at") or ""
            ):
                found[item["id"]] = item
    return list(found.values())


def convert_api(source, data):
    """The Plan for the objects `data` read from the management API: {"page": {…},
    "components": […], "groups": […], "incidents": […], "incident_templates": […],
    "subscribers": {"active": […], "pending": […], "quarantined": […]}, "metrics": […]}."""
    warnings = []
    page = Source(data["page"], "page")
    page_data = {
        "id": page.text("id"),
        "name": page.text("name", "")[:100] or "Imported page",
        "time_zone": known_time_zone(page.text("time_zone", "UTC") or "UTC", warnings),
        "company_url": checked_url(page.text("url", ""), "company", warnings),
        "support_url": checked_url(page.text("support_url", ""), "support", warnings),
        "created_at": iso_utc(page.moment("created_at")),
        "updated_at": iso_utc(page.moment("updated_at")),
    }
    subdomain = page.text("subdomain", "")
    if subdomain:
        page_data["slug"] = subdomain.lower()
    for name in ("allow_email_subscribers", "allow_sms_subscribers", "allow_webhook_subscribers"):
        page_data[name] = page.flag(name, True)
    domain = page.text("domain", "")
    if domain:
        warnings.append(
            f"The page's custom domain {domain} is not carried over: add it in the page's "
            "settings and point it here once the page is ready."
        )

    groups, components = convert_components(structure(data), warnings)
    known = {c["id"]: c for c in components}
    raw = {}
    items = []
    for n, incident in enumerate(data["incidents"]):
        item = Source(incident, f"incidents[{n}]")
        raw[item.text("id")] = item
        items.append(item)
    incidents = convert_incident_items(items, known, warnings)
    for incident in incidents:
        add_api_fields(incident, raw[incident["id"]])
    rebuild_history(components, incidents)
    document = export_document(
        page_data,
        groups,
        components,
        incidents,
        incident_templates=convert_templates(data["incident_templates"], known, warnings),
        subscribers=convert_subscribers(data["subscribers"], known, warnings),
        metrics=convert_metrics(data["metrics"], warnings),
    )
    return Plan(source=source, document=document, warnings=warnings)


def checked_url(url, what, warnings):
    if not url:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        warnings.append(f"The page's {what} URL {url[:80]!r} is not a web address; left out.")
        return ""
    return url[:200]


def number(value):
    """An int from Statuspage's positions (numbers, or numbers as text); 0 otherwise."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def structure(data):
    """The components and groups in the shape statuspage_import.convert_components reads (the
    public JSON's: groups are components with `group: true` listing their members)."""
    items = []
    for group in data["groups"]:
        members = group.get("components")
        items.append(
            {
                **group,
                "group": True,
                "position": number(group.get("position")),
                "components": [
                    m.get("id") if isinstance(m, dict) else m
                    for m in (members if isinstance(members, list) else [])
                ],
            }
        )
    group_ids = {g["id"] for g in items}
    for component in data["components"]:
        if component.get("group") is True or component.get("id") in group_ids:
            continue  # a group listed among the components: it came with the groups
        items.append({**component, "group": False, "position": number(component.get("position"))})
    return Source({"components": items}, "components")


def add_api_fields(incident, item):
    """What the management API says beyond the public JSON: whether automatic transitions
    notify, the reminder, and unpublished postmortems (drafts)."""
    if incident["kind"] == Kind.MAINTENANCE:
        incident["notify_on_start"] = item.flag(
            "auto_transition_deliver_notifications_at_start", True
        )
        incident["notify_on_complete"] = item.flag(
            "auto_transition_deliver_notifications_at_end", True
        )
        if item.flag("scheduled_remind_prior", False):
            incident["remind_before_minutes"] = REMINDER_MINUTES
            incident["reminder_sent_at"] = iso_utc(item.moment("scheduled_reminded_at"))
    postmortem = incident["postmortem"]
    if postmortem["body"] and not postmortem["published_at"]:
        postmortem["draft"], postmortem["body"] = postmortem["body"], ""


def refs(value):
    """Component ids from a list of ids or of component objects."""
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        ref = item.get("id") if isinstance(item, dict) else item
        if isinstance(ref, str) and ref not in found:
            found.append(ref)
    return found


def convert_templates(items, known, warnings):
    converted, maintenance = [], 0
    for n, raw in enumerate(items):
        item = Source(raw, f"incident_templates[{n}]")
        status = item.text("update_status", IncidentStatus.INVESTIGATING) or (
            IncidentStatus.INVESTIGATING
        )
        if status in MAINTENANCE_STATUSES:
            maintenance += 1
            continue
        if status not in INCIDENT_STATUSES:
            warnings.append(
                f"The template “{item.text('name', '')[:40]}” opens with the unknown status "
                f"{status!r}; it opens investigating here."
            )
            status = IncidentStatus.INVESTIGATING
        name = item.text("name", "") or item.text("title", "") or "Template"
        title = item.text("title", "") or name
        component_status = ComponentStatus.DEGRADED_PERFORMANCE
        converted.append(
            {
                "id": item.text("id"),
                "name": cut(name, "template name", warnings),
                "title": cut(title, "template title", warnings),
                "body": plain_text_markdown(item.text("body", "")),
                "status": status,
                "component_status": component_status,
                "components": {
                    ref: component_status for ref in refs(raw.get("components")) if ref in known
                },
                "created_at": iso_utc(item.moment("created_at")),
            }
        )
    if maintenance:
        warnings.append(
            f"{maintenance} maintenance template(s) left out: templates here open incidents."
        )
    return converted


def cut(text, kind, warnings):
    limit = LENGTHS[kind]
    if len(text) <= limit:
        return text
    warnings.append(f"The {kind} “{text[:40]}…” was cut to {limit} characters.")
    return text[: limit - 1] + "…"


def convert_subscribers(by_state, known, warnings):
    """The document's subscribers from the lists per state ({"active": […], …})."""
    chosen = {}  # Statuspage id -> (item, our state); a later state wins (quarantined)
    for state, ours, _words in STATES_READ:
        for n, raw in enumerate(by_state.get(state, [])):
            chosen[raw["id"]] = (Source(raw, f"subscribers[{state}][{n}]"), ours)
    converted, seen = [], set()
    left_out = {}  # reason -> count
    unknown_scope = 0
    for item, state in chosen.values():
        gone = state == SubscriberState.UNSUBSCRIBED
        # One who unsubscribed is not brought over: only a re-run's match needs it, so it
        # counts in no warning.
        counting = {} if gone else left_out
        mode = item.text("mode", "")
        channel = MODES.get(mode)
        email = normalise_email(item.text("email", ""))
        endpoint = item.text("endpoint", "")
        phone_number = ""
        if channel is None:
            reason = "integration partners" if mode == "integration_partner" else "of unknown kinds"
            counting[reason] = counting.get(reason, 0) + 1
            continue
        if channel == Channel.SLACK and not endpoint:
            counting["Slack app subscriptions (no webhook URL)"] = (
                counting.get("Slack app subscriptions (no webhook URL)", 0) + 1
            )
            continue
        if channel == Channel.SMS:
            try:
                phone_number = sms.normalise_phone_number(
                    item.text("phone_number", ""), item.text("phone_country", "") or None
                )
            except ValidationError:
                reason = (
                    "SMS subscribers whose number cannot be texted from here (invalid, not "
                    "mobile, or a country not served)"
                )
                counting[reason] = counting.get(reason, 0) + 1
                continue
        address = {Channel.EMAIL: email, Channel.SMS: phone_number}.get(channel, endpoint)
        if not address:
            counting["without an address"] = counting.get("without an address", 0) + 1
            continue
        key = (channel, address.lower() if channel == Channel.EMAIL else address)
        if key in seen:
            counting["listed twice"] = counting.get("listed twice", 0) + 1
            continue
        seen.add(key)
        scope = refs(item.data.get("components"))
        kept = [ref for ref in scope if ref in known]
        if len(kept) < len(scope) and not gone:
            unknown_scope += 1
            if not kept:
                # Every component it chose is gone: it would hear of everything instead.
                counting["subscribed only to components no longer on the page"] = (
                    counting.get("subscribed only to components no longer on the page", 0) + 1
                )
                continue
        created_at = item.moment("created_at")
        quarantined_at = item.moment("quarantined_at")
        if quarantined_at is not None and state == SubscriberState.CONFIRMED:
            state = SubscriberState.QUARANTINED
        converted.append(
            {
                "id": item.text("id"),
                "channel": channel,
                "email": email if channel in (Channel.EMAIL, Channel.WEBHOOK) else "",
                "endpoint": endpoint if channel not in (Channel.EMAIL, Channel.SMS) else None,
                "phone_number": phone_number,
                "state": state,
                "components": kept,
                "groups": [],
                "created_at": iso_utc(created_at),
                "confirmation_sent_at": None,
                "confirmed_at": iso_utc(created_at) if state != SubscriberState.PENDING else None,
                "unsubscribed_at": None,
                "quarantined_at": iso_utc(quarantined_at)
                if state == SubscriberState.QUARANTINED
                else None,
                "consecutive_failures": 0,
                "first_failure_at": None,
            }
        )
    if left_out:
        total = sum(left_out.values())
        details = ", ".join(f"{count} {reason}" for reason, count in left_out.items())
        warnings.append(
            f"{total} subscriber(s) cannot be carried over and were left out: {details}."
        )
    if unknown_scope:
        warnings.append(
            f"{unknown_scope} subscriber(s) chose components no longer on the page; those "
            "were left out of their choice."
        )
    return converted


def convert_metrics(items, warnings):
    converted = []
    for n, raw in enumerate(items):
        item = Source(raw, f"metrics[{n}]")
        places = raw.get("decimal_places")
        places = places if isinstance(places, int) and not isinstance(places, bool) else 0
        converted.append(
            {
                "id": item.text("id"),
                "name": cut(item.text("name", "") or "Metric", "metric name", warnings),
                "suffix": item.text("suffix", "")[:20],
                "tooltip_description": item.text("tooltip_description", "")[:500],
                "decimal_places": min(max(places, 0), MAX_DECIMAL_PLACES),
                "y_axis_min": axis(raw.get("y_axis_min")),
                "y_axis_max": axis(raw.get("y_axis_max")),
                "y_axis_hidden": item.flag("y_axis_hidden", False),
                "display": item.flag("display", True),
                "source": "api",
                "most_recent_data_at": None,
                "most_recent_value": None,
                "created_at": iso_utc(item.moment("created_at")),
                "updated_at": iso_utc(item.moment("updated_at")),
                "points": [],
                "rollups": [],
            }
        )
    if converted:
        warnings.append(
            f"{len(converted)} metric(s) come without their data: Statuspage's API cannot read "
            "a metric's data points. New data sent to the metric's API here shows from then on."
        )
    return converted


def axis(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if abs(value) < 1e15 else None
