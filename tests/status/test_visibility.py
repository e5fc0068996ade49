"""Who may see a page (status/access.py, the gate in status/hosts.py public_page): draft pages
for members only, private pages for the visitors their owner admits (password, emailed link,
network, read token), through every outlet; never from a shared cache, and nothing of the page
in what an unadmitted visitor gets."""

import json
import os
import re
from datetime import timedelta

import pytest
import redis as redis_client
from django.core import mail
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from incidents.models import Incident
from notifications.models import Channel, Subscriber
from status import access, pagecache
from status.models import ApiKey, AuditLogEntry, ComponentStatus, Page
from tests.factories import make_page, make_tenant
from tests.services import free_port

PASSWORD = "open sesame 42"
HOST = "status.alpha.example"
# What of tenant A's page an unadmitted visitor must never read: its name, its group, its
# components, its incident.
SECRETS = ("Alpha", "Core", "Website", "Database melted")


@pytest.fixture
def incident(page, api):
    return Incident.declare(
        page,
        name="Database melted",
        body="Looking into it.",
        component_statuses={api: ComponentStatus.MAJOR_OUTAGE},
        notify=False,
    )


def outlets(incident):
    """Every public outlet of tenant A's page: (path, kind), kind being how a refusal looks
    ("html": the sign-in page; "api": 401 JSON; "file": 404)."""
    return [
        ("/p/alpha/", "html"),
        (f"/p/alpha/incidents/{incident.code}/", "html"),
        ("/p/alpha/history/", "html"),
        ("/p/alpha/subscribe/", "html"),
        ("/p/alpha/history.atom", "file"),
        ("/p/alpha/history.rss", "file"),
        ("/p/alpha/maintenance.ics", "file"),
        ("/p/alpha/badge.svg", "file"),
        ("/p/alpha/embed/", "file"),
        ("/p/alpha/api/v2/summary.json", "api"),
        ("/p/alpha/api/v2/components.json", "api"),
        ("/p/alpha/api/v2/incidents/unresolved.json", "api"),
        ("/p/alpha/api/v2/metrics.json", "api"),
    ]


def set_access(page, **fields):
    password = fields.pop("password", None)
    page = Page.objects.get(pk=page.pk)
    for name, value in fields.items():
        setattr(page, name, value)
    if password is not None:
        page.set_access_password(password)
    page.full_clean()
    page.save()
    return page


def private(page, **fields):
    return set_access(page, visibility="private", **fields)


def shows_nothing_of_the_page(response):
    text = response.content.decode()
    for secret in SECRETS:
        assert secret not in text, (response.request["PATH_INFO"], secret)


def assert_refused(response, kind, sign_in="/p/alpha/access/"):
    if kind == "file":
        assert response.status_code == 404
    elif kind == "api":
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert "private" in response.json()["message"]
    else:
        assert response.status_code == 303
        assert response["Location"].startswith(f"{sign_in}?next=")
    assert "public" not in response.get("Cache-Control", "")
    shows_nothing_of_the_page(response)


def response_keys():
    return [key for key in cache._cache if "page-response" in key]


# -- Draft, public, private: what each outlet answers ------------------------------------------


def test_new_pages_start_as_drafts_and_the_factories_make_public_ones(tenant_a):
    assert Page.objects.create(tenant=tenant_a, name="New", slug="new").visibility == "draft"
    assert tenant_a.page.visibility == "public"


def test_every_outlet_of_a_public_page_is_open_and_shared_caches_may_keep_it(client, incident):
    for path, _kind in outlets(incident):
        response = client.get(path)
        assert response.status_code == 200, path
        if path != "/p/alpha/subscribe/":
            assert "public" in response["Cache-Control"], path


def test_a_draft_page_is_not_found_anywhere_for_visitors(client, page, incident):
    set_access(page, visibility="draft")
    for path, _kind in [*outlets(incident), ("/p/alpha/access/", "html")]:
        response = client.get(path)
        assert response.status_code == 404, path
        shows_nothing_of_the_page(response)
    assert client.get("/", headers={"host": HOST}).status_code == 404
    assert response_keys() == []


def test_members_preview_a_draft_page_and_fill_no_shared_cache(client, page, incident, viewer_a):
    set_access(page, visibility="draft")
    client.force_login(viewer_a)
    for path, _kind in outlets(incident):
        response = client.get(path)
        if path == "/p/alpha/subscribe/":
            # A draft offers no subscriptions (notifications.models.allowed_channels).
            assert response.status_code == 404
            continue
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "private, no-store", path
        assert "s-maxage" not in response["Cache-Control"]
        assert "CDN-Cache-Control" not in response
    preview = client.get(page.preview_url)
    assert preview.status_code == 200 and "Database melted" in preview.text
    assert response_keys() == []


def test_a_private_page_refuses_every_outlet_to_a_visitor_and_shows_nothing(page, incident):
    private(page, password=PASSWORD, allowed_email_domains=["example.com"])
    client = Client()
    for path, kind in outlets(incident):
        assert_refused(client.get(path), kind)
    # On the page's own host too.
    assert_refused(client.get("/", headers={"host": HOST}), "html", sign_in="/access/")
    response = client.get("/p/alpha/", follow=True)
    assert response.status_code == 200
    assert "This status page is private" in response.text
    assert "Page password" in response.text and "email" in response.text
    shows_nothing_of_the_page(response)
    assert response_keys() == []


def test_a_visitor_admitted_to_one_page_is_not_admitted_to_another_tenants(client, page):
    private(page, password=PASSWORD)
    other = make_page(make_tenant("Other", "other"), "other", visibility="private")
    other = private(other, password="another one 77")
    sign_in = client.post("/p/alpha/access/", {"action": "password", "password": PASSWORD})
    assert sign_in.status_code == 303
    assert client.get("/p/alpha/").status_code == 200
    assert client.get("/p/other/").status_code == 303
    # Nor does A's read token open B's page.
    token = access.read_token(page)
    assert client.get(f"/p/other/api/v2/summary.json?api_key={token}").status_code == 401


# -- Password ------------------------------------------------------------------------------------


def test_the_page_password_signs_a_visitor_in_and_a_wrong_one_says_so(page, incident):
    private(page, password=PASSWORD)
    client = Client()
    next_path = f"/p/alpha/incidents/{incident.code}/"
    wrong = client.post(
        "/p/alpha/access/", {"action": "password", "password": "guess", "next": next_path}
    )
    assert wrong.status_code == 400
    assert "That is not the password of this page" in wrong.text
    shows_nothing_of_the_page(wrong)

    right = client.post(
        "/p/alpha/access/", {"action": "password", "password": PASSWORD, "next": next_path}
    )
    assert right.status_code == 303 and right["Location"] == next_path
    shown = client.get(next_path)
    assert shown.status_code == 200 and "Database melted" in shown.text
    assert shown["Cache-Control"] == "private, no-store"
    assert "Cookie" in shown["Vary"]
    assert client.get("/p/alpha/api/v2/summary.json").json()["page"]["name"] == "Alpha"
    assert response_keys() == []


def test_the_next_address_cannot_lead_off_the_site(client, page):
    private(page, password=PASSWORD)
    for target in ("https://evil.example/", "//evil.example/x"):
        response = client.post(
            "/p/alpha/access/", {"action": "password", "password": PASSWORD, "next": target}
        )
        assert response["Location"] == "/p/alpha/"


def test_password_attempts_are_limited_per_visitor(page):
    private(page, password=PASSWORD)
    client = Client()
    for _ in range(access.PASSWORD_ATTEMPTS):
        response = client.post("/p/alpha/access/", {"action": "password", "password": "nope"})
        assert response.status_code == 400
    limited = client.post("/p/alpha/access/", {"action": "password", "password": PASSWORD})
    assert limited.status_code == 429
    assert "Too many attempts" in limited.text
    assert client.get("/p/alpha/").status_code == 303
    # Another visitor is not limited by the first one's attempts.
    other = Client(REMOTE_ADDR="198.51.100.9")
    response = other.post("/p/alpha/access/", {"action": "password", "password": PASSWORD})
    assert response.status_code == 303


def test_a_new_password_signs_out_everyone_who_used_the_old_one(client, page):
    private(page, password=PASSWORD)
    client.post("/p/alpha/access/", {"action": "password", "password": PASSWORD})
    assert client.get("/p/alpha/").status_code == 200
    private(page, password="a brand new one")
    assert client.get("/p/alpha/").status_code == 303


def test_signing_out_ends_the_visitors_access(client, page):
    private(page, password=PASSWORD)
    client.post("/p/alpha/access/", {"action": "password", "password": PASSWORD})
    assert client.post("/p/alpha/access/sign-out/").status_code == 303
    assert client.get("/p/alpha/").status_code == 303


# -- Email sign-in -------------------------------------------------------------------------------


def without_csrf(text):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


def link_in(message):
    return re.search(r"http://testserver(/p/alpha/access/link/[^/\s]+/)", message.body).group(1)


def test_an_allowed_domain_gets_a_one_time_link_that_signs_in(client, page, incident):
    private(page, allowed_email_domains=["example.com"])
    response = client.post("/p/alpha/access/", {"action": "email", "email": "Ann@Example.com"})
    assert response.status_code == 200
    assert "Check your email" in response.text
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@example.com"]
    path = link_in(mail.outbox[0])

    # A mail scanner following the link uses nothing up and admits nobody.
    assert Client().get(path).status_code == 200
    assert client.get("/p/alpha/").status_code == 303

    used = client.post(path)
    assert used.status_code == 303 and used["Location"] == "/p/alpha/"
    assert "Database melted" in client.get("/p/alpha/").text

    again = Client().post(path)
    assert again.status_code == 400
    assert "used already" in again.text
    shows_nothing_of_the_page(again)


def test_an_address_not_allowed_gets_the_same_answer_and_no_email(client, page):
    private(page, allowed_email_domains=["example.com", "guest@partner.example"])
    allowed = client.post("/p/alpha/access/", {"action": "email", "email": "guest@partner.example"})
    refused = client.post("/p/alpha/access/", {"action": "email", "email": "eve@evil.example"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["guest@partner.example"]
    assert refused.status_code == allowed.status_code == 200
    assert without_csrf(refused.text).replace("eve@evil.example", "X") == without_csrf(
        allowed.text
    ).replace("guest@partner.example", "X")


def test_sign_in_links_asked_for_one_address_are_limited(client, page):
    private(page, allowed_email_domains=["example.com"])
    for _ in range(access.LINK_REQUESTS_PER_ADDRESS):
        response = client.post("/p/alpha/access/", {"action": "email", "email": "ann@example.com"})
        assert response.status_code == 200
    limited = client.post("/p/alpha/access/", {"action": "email", "email": "ann@example.com"})
    assert limited.status_code == 429 and limited["Retry-After"] == "3600"
    assert "Too many attempts" in limited.text
    assert len(mail.outbox) == access.LINK_REQUESTS_PER_ADDRESS


def test_a_link_for_one_page_signs_in_to_no_other(client, page):
    private(page, allowed_email_domains=["example.com"])
    other = make_page(make_tenant("Other", "other"), "other")
    other = private(other, allowed_email_domains=["example.com"])
    client.post("/p/alpha/access/", {"action": "email", "email": "ann@example.com"})
    path = link_in(mail.outbox[0]).replace("/p/alpha/", "/p/other/")
    response = client.post(path)
    assert response.status_code == 400
    assert "not valid" in response.text
    assert client.get("/p/other/").status_code == 303


def test_a_mail_server_that_fails_changes_nothing_in_the_answer(client, settings, page):
    private(page, allowed_email_domains=["example.com"])
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    response = client.post("/p/alpha/access/", {"action": "email", "email": "ann@example.com"})
    assert response.status_code == 200
    assert "Check your email" in response.text


def test_a_link_expires_after_fifteen_minutes(client, page, time_machine):
    private(page, allowed_email_domains=["example.com"])
    time_machine.move_to(timezone.now(), tick=False)
    client.post("/p/alpha/access/", {"action": "email", "email": "ann@example.com"})
    time_machine.shift(timedelta(minutes=16))
    response = client.post(link_in(mail.outbox[0]))
    assert response.status_code == 400
    assert "expired" in response.text
    assert client.get("/p/alpha/").status_code == 303


def test_a_link_of_an_address_taken_off_the_list_no_longer_works(client, page):
    private(page, allowed_email_domains=["example.com"])
    client.post("/p/alpha/access/", {"action": "email", "email": "ann@example.com"})
    private(page, allowed_email_domains=["other.example"])
    response = client.post(link_in(mail.outbox[0]))
    assert response.status_code == 400
    assert client.get("/p/alpha/").status_code == 303


def test_the_session_lasts_the_pages_configured_days(client, page, time_machine):
    private(page, allowed_email_domains=["example.com"], access_session_days=2)
    time_machine.move_to(timezone.now(), tick=False)
    client.post("/p/alpha/access/", {"action": "email", "email": "ann@example.com"})
    client.post(link_in(mail.outbox[0]))
    time_machine.shift(timedelta(days=1))
    assert client.get("/p/alpha/").status_code == 200
    time_machine.shift(timedelta(days=1, minutes=1))
    assert client.get("/p/alpha/").status_code == 303


# -- Networks and tokens -------------------------------------------------------------------------


def test_the_ip_allow_list_admits_its_networks_ipv4_and_ipv6(page):
    private(page, allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
    for address in ("203.0.113.77", "2001:db8::5", "::ffff:203.0.113.8"):
        assert Client(REMOTE_ADDR=address).get("/p/alpha/").status_code == 200, address
    for address in ("198.51.100.1", "2001:db9::1"):
        assert Client(REMOTE_ADDR=address).get("/p/alpha/").status_code == 303, address
    assert response_keys() == []


def test_other_sites_scripts_may_not_read_a_private_pages_api(page):
    """A visitor admitted by their network would otherwise hand the page to any site they
    visit (API v2 allows every origin for public pages)."""
    assert "Access-Control-Allow-Origin" in Client().get("/p/alpha/api/v2/summary.json")
    private(page, allowed_ips=["203.0.113.0/24"])
    inside = Client(REMOTE_ADDR="203.0.113.5")
    response = inside.get(
        "/p/alpha/api/v2/summary.json", headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in inside.get("/p/alpha/api/v2/metrics.json")


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_checked(settings, page):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    private(page, allowed_ips=["203.0.113.0/24"])
    client = Client()  # built after the settings: its middleware reads TRUSTED_PROXIES
    behind = {"REMOTE_ADDR": "10.0.0.7"}
    assert client.get("/p/alpha/", HTTP_X_FORWARDED_FOR="203.0.113.9", **behind).status_code == 200
    assert client.get("/p/alpha/", HTTP_X_FORWARDED_FOR="198.51.100.2", **behind).status_code == 303
    # A client that is no proxy cannot pick its own address.
    spoofed = client.get(
        "/p/alpha/", HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="198.51.100.2"
    )
    assert spoofed.status_code == 303


def test_api_v2_takes_the_pages_read_token_in_the_query_or_a_header(client, page):
    page = private(page)
    token = access.read_token(page)
    summary = "/p/alpha/api/v2/summary.json"
    assert client.get(f"{summary}?api_key={token}").json()["page"]["name"] == "Alpha"
    assert client.get(summary, headers={"x-api-key": token}).status_code == 200
    assert client.get(summary, headers={"authorization": f"Bearer {token}"}).status_code == 200
    refused = client.get(f"{summary}?api_key=not-the-token")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    shows_nothing_of_the_page(refused)


def test_a_signed_in_viewer_gets_feed_links_of_their_own(client, page, incident):
    private(page, password=PASSWORD)
    client.post("/p/alpha/access/", {"action": "password", "password": PASSWORD})
    own = client.get("/p/alpha/access/")
    assert own.status_code == 200
    atom = re.search(r"http://testserver(/p/alpha/history\.atom\?token=[^<\s]+)", own.text)
    feed = Client().get(atom.group(1))  # a feed reader: no cookie
    assert feed.status_code == 200 and "Database melted" in feed.text
    assert feed["Cache-Control"] == "private, no-store"
    # The token ends with the password it came from.
    private(page, password="a brand new one")
    assert Client().get(atom.group(1)).status_code == 404


# -- Caching -------------------------------------------------------------------------------------


def test_a_cached_public_page_is_never_served_to_a_visitor_once_it_turns_private(
    client, page, owner_a
):
    first = client.get("/p/alpha/")
    assert first["X-Cache"] == "miss"
    assert client.get("/p/alpha/")["X-Cache"] == "hit"
    assert response_keys()

    # The owner makes it private in the console.
    owner = Client()
    owner.force_login(owner_a)
    saved = owner.post(f"/manage/{page.code}/publish/", {"visibility": "private"})
    assert saved.status_code == 302

    refused = client.get("/p/alpha/")
    assert refused.status_code == 303
    assert "X-Cache" not in refused
    shows_nothing_of_the_page(refused)


def test_the_cache_key_holds_the_visibility_whatever_the_version(client, page, settings):
    """Even a change that kept the version (another process's write that this one did not see
    being made) cannot serve the public copy: the key holds the visibility, read with the
    version."""
    settings.PAGE_CACHE_LOCAL_SECONDS = 0
    client.get("/p/alpha/")
    assert client.get("/p/alpha/")["X-Cache"] == "hit"
    Page.objects.filter(pk=page.pk).update(visibility="private")
    cache.delete(pagecache.version_key(page.pk))  # what the other process's write did not do
    refused = client.get("/p/alpha/")
    assert refused.status_code == 303
    shows_nothing_of_the_page(refused)
    Page.objects.filter(pk=page.pk).update(visibility="public")
    cache.delete(pagecache.version_key(page.pk))
    assert client.get("/p/alpha/")["X-Cache"] == "hit"


@pytest.mark.redis
def test_with_a_shared_redis_an_old_public_copy_is_never_served_once_private(
    client, settings, page
):
    """Another process's memory gone (as after PAGE_CACHE_LOCAL_SECONDS), and Redis holding
    every entry made while the page was public, as an old snapshot would: nothing of them is
    served."""
    url = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0] + "/11"
    server = redis_client.Redis.from_url(url)
    server.flushdb()
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": url}}
    settings.PAGE_CACHE_LOCAL_SECONDS = 1
    pagecache.clear_local()
    try:
        client.get("/p/alpha/")
        assert client.get("/p/alpha/")["X-Cache"] == "hit"
        old_data = {key: server.dump(key) for key in server.keys("*")}

        private(page, password=PASSWORD)
        server.flushdb()
        for key, value in old_data.items():
            server.restore(key, 0, value)
        pagecache.clear_local()

        refused = client.get("/p/alpha/")
        assert refused.status_code == 303
        shows_nothing_of_the_page(refused)
        assert client.get("/p/alpha/api/v2/summary.json").status_code == 401
    finally:
        server.flushdb()
        pagecache.clear_local()


def test_with_the_database_down_a_private_page_has_no_last_good_copy(client, page, monkeypatch):
    client.get("/p/alpha/")  # a last good copy, from when it was public
    private(page, password=PASSWORD)
    # What this process knew of it is gone: what other processes noted in the cache is left.
    pagecache._known_visibility.clear()

    def database_down(page_id):
        raise OperationalError("connection refused")

    monkeypatch.setattr(pagecache, "page_state", database_down)
    response = client.get("/p/alpha/")
    assert response.status_code == 503
    shows_nothing_of_the_page(response)


def test_with_the_database_down_a_public_page_keeps_its_last_good_copy(client, page, monkeypatch):
    client.get("/p/alpha/")
    pagecache._known_visibility.clear()

    def database_down(page_id):
        raise OperationalError("connection refused")

    monkeypatch.setattr(pagecache, "page_state", database_down)
    response = client.get("/p/alpha/")
    assert response.status_code == 200 and response["X-Cache"] == "stale"


# -- Subscriptions -------------------------------------------------------------------------------


def test_only_admitted_visitors_may_subscribe_to_a_private_page(client, page):
    private(page, password=PASSWORD)
    refused = client.post("/p/alpha/subscribe/", {"channel": "email", "email": "x@example.com"})
    assert refused.status_code == 303
    assert not Subscriber.objects.filter(page=page).exists()

    client.post("/p/alpha/access/", {"action": "password", "password": PASSWORD})
    form = client.get("/p/alpha/subscribe/")
    assert form.status_code == 200 and form["Cache-Control"] == "private, no-store"
    client.post("/p/alpha/subscribe/", {"channel": "email", "email": "x@example.com"})
    assert Subscriber.objects.filter(page=page, email="x@example.com").exists()


def test_a_subscriber_of_a_private_page_can_always_unsubscribe(page):
    subscriber = Subscriber.objects.create_subscriber(
        page, channel=Channel.EMAIL, email="ops@example.com", skip_confirmation=True
    )
    private(page, password=PASSWORD)
    response = Client().post(
        f"/p/alpha/subscribe/unsubscribe/{subscriber.token}/",
        {"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"


# -- Owners set it: the API ----------------------------------------------------------------------


@pytest.fixture
def api_key(tenant_a, owner_a):
    _key, secret = ApiKey.issue(tenant_a, "Ops", by=owner_a)
    return {"authorization": f"OAuth {secret}"}


def patch_page(client, page, api_key, body):
    return client.patch(
        f"/api/v1/pages/{page.code}",
        json.dumps({"page": body}),
        content_type="application/json",
        headers=api_key,
    )


def test_the_api_sets_visibility_and_access_and_never_returns_the_password(client, page, api_key):
    response = patch_page(
        client,
        page,
        api_key,
        {
            "visibility": "private",
            "access_password": PASSWORD,
            "allowed_ips": ["203.0.113.9/24", " 2001:DB8::/32 "],
            "allowed_email_domains": ["@Example.com", "guest@partner.example"],
            "access_session_days": 7,
        },
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["visibility"] == "private"
    assert data["allowed_ips"] == ["203.0.113.0/24", "2001:db8::/32"]
    assert data["allowed_email_domains"] == ["example.com", "guest@partner.example"]
    assert data["access_session_days"] == 7
    assert data["access_password_set"] is True
    assert PASSWORD not in response.text and 'access_password"' not in response.text
    assert client.get(f"/api/v1/pages/{page.code}", headers=api_key).json() == data
    assert Client().get("/p/alpha/").status_code == 303
    assert (
        Client().post("/p/alpha/access/", {"action": "password", "password": PASSWORD}).status_code
        == 303
    )
    entry = AuditLogEntry.objects.filter(action="page.update").latest("id")
    assert PASSWORD not in json.dumps(entry.after) and "pbkdf2" not in json.dumps(entry.after)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"allowed_ips": ["10.0.0.0/33"]}, "CIDR"),
        ({"allowed_ips": ["not-a-network"]}, "not-a-network"),
        ({"allowed_ips": "10.0.0.0/8"}, "list"),
        ({"allowed_email_domains": ["exa mple"]}, "email domain"),
        ({"access_password": "short"}, "at least 8 characters"),
        ({"visibility": "secret"}, "visibility"),
        ({"access_session_days": 0}, "access_session_days"),
    ],
)
def test_bad_access_settings_get_a_clear_422_and_change_nothing(
    client, page, api_key, body, message
):
    before = Page.objects.values().get(pk=page.pk)
    response = patch_page(client, page, api_key, body)
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "unprocessable_entity"
    assert message in response.json()["message"]
    assert Page.objects.values().get(pk=page.pk) == before


# -- Owners set it: the console ------------------------------------------------------------------


def settings_form(page, **changes):
    return {
        "name": page.name,
        "slug": page.slug,
        "custom_domain": page.custom_domain or "",
        "time_zone": page.time_zone,
        "company_url": "",
        "support_url": "",
        "accent_color": page.accent_color,
        "allow_email_subscribers": "on",
        **changes,
    }


def test_owners_make_a_page_private_in_the_settings(client, page, owner_a):
    client.force_login(owner_a)
    url = f"/manage/{page.code}/settings/"
    response = client.post(
        url,
        settings_form(
            page,
            visibility="private",
            access_password=PASSWORD,
            allowed_ips="203.0.113.0/24\n2001:db8::/32",
            allowed_email_domains="example.com, ann@partner.example",
            access_session_days="10",
        ),
    )
    assert response.status_code == 302, response.content
    page.refresh_from_db()
    assert page.visibility == "private"
    assert page.allowed_ips == ["203.0.113.0/24", "2001:db8::/32"]
    assert page.allowed_email_domains == ["example.com", "ann@partner.example"]
    assert page.access_session_days == 10
    assert (
        page.access_password.startswith(("md5$", "pbkdf2")) and PASSWORD not in page.access_password
    )
    shown = client.get(url)
    assert "Private: only the visitors you admit" in shown.text
    assert access.read_token(page) in shown.text
    assert PASSWORD not in shown.text and page.access_password not in shown.text

    # Saved again without a new password, it keeps the old one; the box removes it.
    client.post(url, settings_form(page, visibility="private", access_session_days="10"))
    page.refresh_from_db()
    assert page.access_password
    client.post(
        url,
        settings_form(
            page, visibility="private", access_session_days="10", remove_access_password="on"
        ),
    )
    page.refresh_from_db()
    assert page.access_password == ""


def test_bad_access_settings_in_the_console_are_form_errors_and_save_nothing(client, page, owner_a):
    client.force_login(owner_a)
    before = Page.objects.values().get(pk=page.pk)
    response = client.post(
        f"/manage/{page.code}/settings/",
        settings_form(
            page,
            visibility="private",
            allowed_ips="10.0.0.0/8\n300.1.2.3",
            allowed_email_domains="not a domain",
            access_password="short",
        ),
    )
    assert response.status_code == 200
    assert "CIDR" in response.text and "300.1.2.3" in response.text
    assert "email domain" in response.text
    assert "at least 8 characters" in response.text
    assert Page.objects.values().get(pk=page.pk) == before


def test_a_settings_post_without_the_access_fields_keeps_them(client, page, owner_a):
    page = private(page, password=PASSWORD, allowed_ips=["203.0.113.0/24"])
    client.force_login(owner_a)
    client.post(f"/manage/{page.code}/settings/", settings_form(page, name="Renamed"))
    page.refresh_from_db()
    assert (page.name, page.visibility, page.allowed_ips) == (
        "Renamed",
        "private",
        ["203.0.113.0/24"],
    )
    assert page.access_password


def test_a_draft_pages_overview_offers_to_publish_it_with_a_checklist(client, page, owner_a):
    set_access(page, visibility="draft")
    client.force_login(owner_a)
    overview = client.get(f"/manage/{page.code}/")
    assert "This page is a draft" in overview.text
    assert 'id="publish-components" class="done"' in overview.text
    assert 'id="publish-time-zone" class=""' in overview.text
    assert Client().get("/p/alpha/").status_code == 404

    published = client.post(f"/manage/{page.code}/publish/")
    assert published.status_code == 302
    page.refresh_from_db()
    assert page.visibility == "public"
    assert "This page is a draft" not in client.get(f"/manage/{page.code}/").text
    assert Client().get("/p/alpha/").status_code == 200


def test_only_owners_publish_and_bad_input_is_refused(client, page, editor_a, owner_a):
    set_access(page, visibility="draft")
    client.force_login(editor_a)
    assert client.post(f"/manage/{page.code}/publish/").status_code == 403
    assert "This page is a draft" not in client.get(f"/manage/{page.code}/").text
    client.force_login(owner_a)
    refused = client.post(f"/manage/{page.code}/publish/", {"visibility": "draft"})
    assert refused.status_code == 400
    page.refresh_from_db()
    assert page.visibility == "draft"
