"""Reading a page from Statuspage's management API v1 (notifications/statuspage_api.py) against
the fake Statuspage on 127.0.0.1 (tests/fake_statuspage.py): every kind of object converted into
the export document, lists read page after page with the OAuth key, rate limits waited out, bad
keys, pages and answers refused with a message, and the document restorable, sending nothing."""

import json
from collections import Counter

import pytest
from django.core import mail

from notifications import statuspage_api, statuspage_import
from notifications.models import Delivery, NotificationEvent, Subscriber
from notifications.portability import restore_page
from notifications.statuspage_api import plan_api
from notifications.statuspage_import import ImportFailure
from status.models import Page
from tests.factories import make_tenant
from tests.fake_statuspage import FakeStatuspage, big_page, small_page

PAGE_ID = "y2j98763l7vs"  # the small page's


@pytest.fixture(autouse=True)
def private_ips(settings):
    # The fake is on 127.0.0.1, which the outbound address filter refuses otherwise.
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


@pytest.fixture
def fake():
    with FakeStatuspage(small_page(), api_key="secret-key") as server:
        yield server


@pytest.fixture
def sleeps(monkeypatch):
    waited = []
    monkeypatch.setattr(statuspage_api, "pause", waited.append)
    return waited


def plan_small(fake, **options):
    return plan_api(fake.api_url, PAGE_ID, "secret-key", **options)


def by_id(items):
    return {item["id"]: item for item in items}


def test_every_kind_of_object_is_converted(fake):
    plan = plan_small(fake)
    document = plan.document
    assert document["format"] == "heliograph.page" and document["version"] == 1
    assert plan.source == f"{fake.api_url}/pages/{PAGE_ID}"

    page = document["page"]
    assert page["id"] == PAGE_ID and page["name"] == "Harbour Mail"
    assert page["time_zone"] == "Europe/Lisbon" and page["slug"] == "harbourmail"
    assert page["company_url"] == "https://harbourmail.example"
    assert page["support_url"] == "https://harbourmail.example/help"

    # Groups and components in Statuspage's order, members in their group.
    assert [g["name"] for g in document["groups"]] == ["Delivery"]
    assert [(c["name"], c["group"]) for c in document["components"]] == [
        ("Web app", None),
        ("Outbound SMTP", "b13yz5g2cw10"),
        ("Inbound MX", "b13yz5g2cw10"),
    ]

    incidents = by_id(document["incidents"])
    assert len(incidents) == 4
    mail_delay = incidents["p31zjtct2jer"]
    assert mail_delay["kind"] == "incident" and mail_delay["status"] == "resolved"
    assert [(u["status"], u["display_at"], u["created_at"]) for u in mail_delay["updates"]] == [
        ("investigating", "2026-09-14T09:02:00+00:00", "2026-09-14T09:02:00+00:00"),
        ("identified", "2026-09-14T09:40:00+00:00", "2026-09-14T09:41:07+00:00"),
        ("resolved", "2026-09-14T10:32:00+00:00", "2026-09-14T10:32:00+00:00"),
    ]
    # Plain text kept readable (line breaks as hard breaks), the shortlink as a reference.
    assert mail_delay["updates"][0]["body"] == (
        "We are seeing delays sending mail.\\\nMessages are queued, not lost.\n\n"
        "Statuspage: https://stspg.io/p31zjtc"
    )
    assert mail_delay["updates"][1]["impacts"] == [
        {"component": "8l4ygp009s5s", "old_status": "partial_outage",
         "new_status": "degraded_performance"}
    ]  # fmt: skip
    assert mail_delay["postmortem"]["published_at"] == "2026-09-16T12:00:00+00:00"
    assert mail_delay["postmortem"]["body"].startswith("Root cause: log rotation stopped")
    # A postmortem never published comes as a draft.
    sign_in = incidents["q9wd2m1kyx7t"]
    assert sign_in["postmortem"] == {
        "body": "", "published_at": None, "draft": "Draft: the session store failed over."
    }  # fmt: skip
    assert sign_in["updates"][0]["deliver_notifications"] is False

    upgrade = incidents["w4m6xkc1zq2n"]
    assert upgrade["kind"] == "maintenance" and upgrade["status"] == "completed"
    assert (upgrade["scheduled_for"], upgrade["scheduled_until"]) == (
        "2026-08-01T02:00:00+00:00",
        "2026-08-01T04:00:00+00:00",
    )
    assert upgrade["auto_start"] is True and upgrade["auto_complete"] is True
    assert upgrade["notify_on_start"] is True and upgrade["notify_on_complete"] is False
    assert upgrade["remind_before_minutes"] == 60
    assert upgrade["reminder_sent_at"] == "2026-08-01T01:00:00+00:00"
    swap = incidents["k2x8c7v5b3n1"]
    assert swap["status"] == "scheduled" and swap["scheduled_for"] == "2030-01-15T01:00:00+00:00"
    assert swap["auto_start"] is False and swap["auto_complete"] is False
    assert "remind_before_minutes" not in swap

    # History rebuilt from the updates, the maintenance included.
    mx = by_id(document["components"])["gr9p8v1fm5jk"]
    assert [(p["status"], p["started_at"]) for p in mx["history"]] == [
        ("operational", "2023-04-02T09:22:00+00:00"),
        ("under_maintenance", "2026-08-01T02:00:00+00:00"),
        ("operational", "2026-08-01T04:00:00+00:00"),
    ]

    # Templates: the incident one; the maintenance one is left out, with a warning.
    assert document["incident_templates"] == [
        {
            "id": "tpl0delivery",
            "name": "Sending delays",
            "title": "Delays sending mail",
            "body": "Outgoing mail is delayed.\\\nNothing is lost: messages wait in the queue.",
            "status": "investigating",
            "component_status": "degraded_performance",
            "components": {"8l4ygp009s5s": "degraded_performance"},
            "created_at": None,
        }
    ]

    subscribers = by_id(document["subscribers"])
    assert set(subscribers) == {
        "sub0email001", "sub0email002", "sub0email003", "sub0sms00004", "sub0hook0005",
        "sub0teams006", "sub0email009",
    }  # fmt: skip
    # One who unsubscribed comes as such (a re-run unsubscribes them here; nothing brings
    # them over).
    assert subscribers["sub0email009"]["state"] == "unsubscribed"
    ana = subscribers["sub0email001"]
    assert (ana["channel"], ana["email"], ana["state"]) == (
        "email", "ana@customer.example", "confirmed"
    )  # fmt: skip
    assert ana["components"] == ["8l4ygp009s5s"]
    assert ana["confirmed_at"] == "2024-03-01T10:00:00+00:00"
    assert subscribers["sub0email002"]["state"] == "pending"
    assert subscribers["sub0email002"]["confirmed_at"] is None
    gone = subscribers["sub0email003"]
    assert gone["state"] == "quarantined" and gone["quarantined_at"] == "2026-10-01T00:00:00+00:00"
    assert subscribers["sub0sms00004"]["phone_number"] == "+447400123456"
    hook = subscribers["sub0hook0005"]
    assert hook["endpoint"] == "https://ops.customer.example/hooks/statuspage"
    assert hook["email"] == "ops@customer.example"
    assert hook["components"] == ["8l4ygp009s5s", "gr9p8v1fm5jk"]
    assert subscribers["sub0teams006"]["channel"] == "teams"

    assert [(m["name"], m["suffix"], m["decimal_places"], m["points"]) for m in
            document["metrics"]] == [("Time to deliver", "s", 1, [])]  # fmt: skip

    warnings = "\n".join(plan.warnings)
    assert "1 maintenance template(s) left out" in warnings
    assert (
        "2 subscriber(s) cannot be carried over and were left out: 1 Slack app subscriptions "
        "(no webhook URL), 1 integration partners." in warnings
    )
    assert "1 metric(s) come without their data" in warnings
    assert "custom domain status.harbourmail.example is not carried over" in warnings


def test_every_list_is_read_page_after_page_with_the_oauth_key():
    data = big_page()
    with FakeStatuspage(data, api_key="k", page_id="p") as fake:
        labels = []
        plan = plan_api(fake.api_url, "p", "k", progress=labels.append)
        requests = list(fake.requests)
        incidents_asked = fake.pages_asked("incidents")
    assert all(r.headers["authorization"] == "OAuth k" for r in requests)
    # 230 incidents and maintenances: three pages of 100; the last, shorter, ends the list.
    assert incidents_asked == [1, 2, 3]
    assert all(r.query["per_page"] == "100" for r in requests if r.path == "/v1/pages/p/incidents")
    states = Counter(s["state"] for s in data["subscribers"])
    for state in ("active", "pending", "quarantined"):
        asked = [
            int(r.query["page"])
            for r in requests
            if r.path == "/v1/pages/p/subscribers" and r.query["state"] == state
        ]
        # From page 0 (the first page again, on this fake), then on until a shorter page.
        assert asked == [0, *range(1, states[state] // 100 + 2)]
    # progress() before each request.
    assert len(labels) == len(requests)
    assert labels[0] == "Reading the page"
    assert "Reading subscribers: confirmed (page 3)" in labels

    document = plan.document
    assert len(document["components"]) == 20 and len(document["groups"]) == 3
    kinds = Counter(i["kind"] for i in document["incidents"])
    assert kinds == {"incident": 200, "maintenance": 30}
    updates = Counter(
        (i["status"], len(i["updates"])) for i in document["incidents"] if i["kind"] == "incident"
    )
    assert updates == {("resolved", 4): 199, ("monitoring", 3): 1}  # the latest is still open
    carried = [
        s for s in data["subscribers"]
        if s["mode"] not in ("slack", "integration_partner")
    ]  # fmt: skip
    assert len(document["subscribers"]) == len(carried)
    assert Counter(s["state"] for s in document["subscribers"]) == {
        "confirmed": sum(1 for s in carried if s["state"] == "active"),
        "pending": sum(1 for s in carried if s["state"] == "pending"),
        "quarantined": sum(1 for s in carried if s["state"] == "quarantined"),
    }
    assert len(document["incident_templates"]) == 4 and len(document["metrics"]) == 2


def test_big_page_is_the_same_for_the_same_arguments():
    assert big_page(seed=3, subscribers=50) == big_page(seed=3, subscribers=50)
    assert big_page(seed=3, subscribers=50) != big_page(seed=4, subscribers=50)


@pytest.mark.parametrize("status", [420, 429])
def test_rate_limited_requests_are_tried_again_after_retry_after(fake, sleeps, status):
    path = fake.list_path("subscribers")
    fake.script(path, [(status, {"retry-after": "2"}, b"{}"), (status, {"retry-after": "7"}, b"")])
    plan = plan_small(fake)
    assert sleeps == [2, 7]
    assert len(plan.document["subscribers"]) == 7  # one of them unsubscribed
    # The same page asked three times, then the other states.
    assert fake.pages_asked("subscribers")[:3] == [0, 0, 0]


def test_a_rate_limit_without_retry_after_backs_off(fake, sleeps):
    fake.rate_limit(fake.list_path("components"), times=2, retry_after=None)
    plan_small(fake)
    assert sleeps == [1, 2]


def test_a_rate_limit_that_never_ends_stops_the_import(fake, sleeps):
    fake.rate_limit(fake.list_path("incidents"), times=statuspage_api.ATTEMPTS, retry_after="90")
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "answered 429 (rate limited) to 5 tries" in str(failure.value)
    assert "try again in a few minutes" in str(failure.value)
    assert sleeps == [60, 60, 60, 60]  # Retry-After honoured up to a minute


def test_a_wrong_key_is_refused_with_a_message(fake):
    with pytest.raises(ImportFailure) as failure:
        plan_api(fake.api_url, PAGE_ID, "not-the-key")
    message = str(failure.value)
    assert message.startswith("Statuspage refused the API key (401): check the key")
    assert "not-the-key" not in message


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_page_the_key_cannot_see_is_refused_naming_the_keys_pages(status):
    with (
        FakeStatuspage(small_page(), api_key="k", foreign_page_status=status) as fake,
        pytest.raises(ImportFailure) as failure,
    ):
        plan_api(fake.api_url, "otherpage123", "k")
    assert str(failure.value) == (
        f"This API key cannot read the page otherpage123 (Statuspage answered {status}): check "
        "the page id, or use a key of the organisation that owns that page. The key's pages: "
        f"Harbour Mail ({PAGE_ID})."
    )


def test_malformed_json_is_refused(fake):
    fake.script(f"/v1/pages/{PAGE_ID}", [(200, {}, b'{"id": "y2j98763l7vs", "name": ')])
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "did not answer JSON, or the JSON was cut short" in str(failure.value)


def test_a_truncated_answer_is_refused(fake):
    fake.truncate(fake.list_path("incidents"), keep=300)
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "the answer was cut short (the connection closed after 300 bytes)" in str(failure.value)


def test_json_of_another_shape_is_refused(fake):
    fake.script(fake.list_path("components"), [(200, {}, b'{"components": []}')])
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "expected a list of components, not dict" in str(failure.value)

    fake.script(f"/v1/pages/{PAGE_ID}", [(200, {}, b"[]")])
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "did not answer a Statuspage page" in str(failure.value)

    fake.script(fake.list_path("metrics"), [(200, {}, b'[{"name": "no id"}]')])
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "item 0 of the metrics is not an object with an id" in str(failure.value)


def test_values_statuspage_never_sends_are_refused(fake):
    fake.data["incidents"][0]["incident_updates"][0]["display_at"] = "yesterday"
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "expected a date-time (ISO 8601), not 'yesterday'" in str(failure.value)


def test_a_source_that_does_not_answer_in_time_is_refused(fake, monkeypatch):
    monkeypatch.setattr(statuspage_api, "TIMEOUT", 0.5)
    fake.slow(f"/v1/pages/{PAGE_ID}", 3)
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "no answer within 0.5 seconds" in str(failure.value)


def test_a_source_that_redirects_is_refused(fake):
    fake.script(
        f"/v1/pages/{PAGE_ID}",
        [(301, {"location": "https://elsewhere.example/v1/pages/y2j98763l7vs"}, b"")],
    )
    with pytest.raises(ImportFailure) as failure:
        plan_small(fake)
    assert "redirects to https://elsewhere.example/v1/pages/y2j98763l7vs" in str(failure.value)


def test_a_server_that_is_not_statuspages_api_is_refused(fake):
    with pytest.raises(ImportFailure) as failure:
        plan_api(fake.url + "/nothing", PAGE_ID, "secret-key")
    assert str(failure.value) == (
        f"{fake.url}/nothing/pages/{PAGE_ID} answered 404, and {fake.url}/nothing/pages lists "
        f"no pages: is {fake.url}/nothing Statuspage's API (https://api.statuspage.io/v1)?"
    )


@pytest.mark.parametrize(
    ("api_url", "page_id", "key", "message"),
    [
        ("ftp://api.example", PAGE_ID, "k", "is not the address of Statuspage's API"),
        ("https://user:pw@api.example/v1", PAGE_ID, "k", "without a user name, password"),
        (None, "../pages", "k", "Give the Statuspage page id"),
        (None, PAGE_ID, "", "Give a Statuspage API key"),
        (None, PAGE_ID, "two words", "Give a Statuspage API key"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(api_url, page_id, key, message):
    with pytest.raises(ImportFailure) as failure:
        plan_api(api_url, page_id, key)
    assert message in str(failure.value)


def test_the_api_address_defaults_to_the_setting(settings, fake):
    settings.STATUSPAGE_API_URL = fake.api_url
    plan = plan_api(None, PAGE_ID, "secret-key")
    assert plan.document["page"]["name"] == "Harbour Mail"


def test_the_fake_serves_the_same_page_as_public_json(fake):
    plan = statuspage_import.plan(fake.url)
    from_api = plan_small(fake).document
    assert [c["id"] for c in plan.document["components"]] == [
        c["id"] for c in from_api["components"]
    ]
    assert {i["id"] for i in plan.document["incidents"]} == {i["id"] for i in from_api["incidents"]}


@pytest.mark.django_db
def test_the_converted_big_page_restores_and_sends_nothing(
    django_capture_on_commit_callbacks, settings
):
    settings.TWILIO_ACCOUNT_SID = ""  # no SMS on this platform: the restore leaves them out
    data = big_page(seed=1)
    with FakeStatuspage(data, api_key="k") as fake:
        plan = plan_api(fake.api_url, data["page"]["id"], "k")
    document = plan.document
    tenant = make_tenant("Movers", "movers", trusted=True)
    with django_capture_on_commit_callbacks(execute=True):
        restore = restore_page(tenant, json.dumps(document))
    page = restore.page
    assert Page.objects.get(code=data["page"]["id"]) == page
    assert restore.counts["components"] == 20 and restore.counts["groups"] == 3
    assert restore.counts["incidents"] == 200 and restore.counts["maintenances"] == 30
    assert restore.counts["incident_templates"] == 4 and restore.counts["metrics"] == 2
    # SMS is not offered on this platform (no Twilio account): those are left out by the
    # restore, with its warning; every other subscriber is there, in its state.
    expected = [s for s in document["subscribers"] if s["channel"] != "sms"]
    assert page.subscribers.count() == len(expected) == restore.counts["subscribers"]
    assert Counter(page.subscribers.values_list("state", flat=True)) == Counter(
        s["state"] for s in expected
    )
    scoped = next(s for s in expected if s["components"])
    assert sorted(
        Subscriber.objects.get(page=page, code=scoped["id"]).components.values_list(
            "code", flat=True
        )
    ) == sorted(scoped["components"])
    assert NotificationEvent.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.parametrize("first_page", [0, 1])
def test_every_subscriber_is_read_whether_pages_count_from_0_or_1(first_page):
    data = big_page(incidents=2, maintenances=1, subscribers=250)
    with FakeStatuspage(data, first_page={"subscribers": first_page}) as fake:
        plan = plan_api(fake.api_url, fake.page_id, fake.api_key)
    ids = {s["id"] for s in plan.document["subscribers"]}
    carried = {
        s["id"] for s in data["subscribers"]
        if s["mode"] not in ("slack", "integration_partner")
    }  # fmt: skip
    assert len(plan.document["subscribers"]) == len(ids)  # each once
    assert ids == carried
