"""The Content-Security-Policy every response carries (config/settings.py): scripts from our own
files only, none at all on public pages, no framing but for the widget and the badge. What a
browser does with it is in tests/browser/test_content_security_policy.py."""

import re
from pathlib import Path

import pytest

from incidents.models import Incident

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def policy(response):
    """The response's Content-Security-Policy as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


@pytest.fixture
def incident(page, api):
    return Incident.declare(page, name="API errors", component_statuses={api: "partial_outage"})


def public_paths(incident):
    return [
        "/p/alpha/",
        f"/p/alpha/incidents/{incident.code}/",
        "/p/alpha/history/",
        "/p/alpha/subscribe/",
    ]


def test_a_public_page_runs_no_script_and_cannot_be_framed(client, incident):
    # Over: the status page does not refresh itself (see the test after the next).
    incident.post_update("resolved", "Fixed.")
    for path in public_paths(incident):
        for _ in range(2):  # a miss, then (for the cached ones) a hit
            response = client.get(path)
            assert response.status_code == 200, path
            csp = policy(response)
            assert csp["script-src"] == ["'none'"], (path, response.get("X-Cache"))
            assert csp["frame-ancestors"] == ["'none'"], path
            assert csp["default-src"] == ["'self'"]
            assert csp["object-src"] == ["'none'"]
            assert csp["base-uri"] == ["'none'"]
            assert csp["form-action"] == ["'self'"]
            assert response["X-Frame-Options"] == "DENY"
    assert client.get("/p/alpha/")["X-Cache"] == "hit"


def test_a_public_page_on_its_own_domain_runs_no_script_either(client, page):
    for _ in range(2):
        response = client.get("/", HTTP_HOST="status.alpha.example")
        assert response.status_code == 200
        assert policy(response)["script-src"] == ["'none'"]


def test_a_not_modified_answer_carries_the_public_policy_too(client, page):
    etag = client.get("/p/alpha/")["ETag"]

    response = client.get("/p/alpha/", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert policy(response)["script-src"] == ["'none'"]


def test_the_public_page_allows_its_inline_accent_colour(client, page):
    response = client.get("/p/alpha/")

    # The accent colour is a <style> in the cached page, shared by every visitor: no nonce.
    assert f"--accent: {page.accent_color}" in response.text
    assert policy(response)["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy(response)["img-src"] == ["'self'", "data:"]


@pytest.mark.parametrize("path", ["/p/alpha/embed/", "/p/alpha/badge.svg"])
def test_the_widget_and_the_badge_may_be_framed_by_any_site(client, page, path):
    for cache in ("miss", "hit"):
        response = client.get(path)
        assert response["X-Cache"] == cache
        csp = policy(response)
        assert csp["frame-ancestors"] == ["*"]
        assert csp["script-src"] == ["'none'"]
        assert "X-Frame-Options" not in response


def test_the_widget_on_the_pages_own_domain_may_be_framed_too(client, page):
    response = client.get("/embed/", HTTP_HOST="status.alpha.example")

    assert response.status_code == 200
    assert policy(response)["frame-ancestors"] == ["*"]
    assert "X-Frame-Options" not in response


def test_the_console_runs_our_own_scripts_only_and_cannot_be_framed(client, owner_a, page):
    client.force_login(owner_a)
    for path in [f"/manage/{page.code}/", f"/manage/{page.code}/settings/", "/manage/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        csp = policy(response)
        assert csp["script-src"] == ["'self'"], path
        assert csp["connect-src"] == ["'self'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert response["X-Frame-Options"] == "DENY"


def test_the_console_page_keeps_htmx_within_the_policy(client, owner_a, page):
    client.force_login(owner_a)
    html = client.get(f"/manage/{page.code}/").text

    # htmx would otherwise inject a <style> and evaluate hx-on/js: attributes.
    assert '"includeIndicatorStyles": false' in html
    assert '"allowEval": false' in html
    assert '"allowScriptTags": false' in html


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/api/v1/schema/"])
def test_other_responses_carry_the_policy_too(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    assert policy(response)["script-src"] == ["'self'"]
    assert policy(response)["frame-ancestors"] == ["'none'"]


def test_the_api_docs_load_their_init_script_from_our_origin(client, db):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert policy(response)["script-src"] == ["'self'"]
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert scripts and all("src=" in attributes for attributes in scripts), scripts
    [init] = [s for s in scripts if "script=" in s]
    url = re.search(r'src="([^"]+)"', init)[1].replace("&amp;", "&")
    script = client.get(url)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.text


def test_no_template_has_an_inline_script_or_event_handler():
    """Inline code would be refused by the policy; email templates are not web pages."""
    for template in TEMPLATES.rglob("*.html"):
        if "emails" in template.parts:
            continue
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, (template, tag)
        assert not re.search(r"<[^>]*\son[a-z]+=", text), template
        assert "javascript:" not in text, template


def test_a_pale_or_dark_accent_is_made_readable_in_each_theme():
    from status.templatetags.heliograph import accent_style, contrast

    assert round(contrast("#777777", "#ffffff"), 2) == 4.48
    for chosen in ["#ffd700", "#1e3a8a", "#2563eb", "#00ff00", "#000000", "#ffffff"]:
        style = str(accent_style(chosen))
        light, dark = re.findall(r"--accent: (#[0-9a-f]{6}); --accent-text: (#[0-9a-f]{6})", style)
        for (accent, text), backgrounds in [
            (light, ["#f7f8fa", "#ffffff"]),
            (dark, ["#11151a", "#1a2028"]),
        ]:
            assert all(contrast(accent, background) >= 4.5 for background in backgrounds), chosen
            assert contrast(text, accent) >= 4.5, chosen
    # A colour that already reads well is kept as it was chosen.
    assert "--accent: #2563eb;" in str(accent_style("#2563eb"))


def test_only_a_page_with_something_going_on_may_run_our_own_script(client, page):
    from incidents.models import Incident

    calm = client.get("/p/alpha/")
    assert "script-src 'none'" in calm["Content-Security-Policy"]
    assert "<script" not in calm.text

    Incident.declare(page, name="Elevated errors", body="Looking.")
    for _ in range(2):  # rendered, then from the cache
        live = client.get("/p/alpha/")
        assert "script-src 'self'" in live["Content-Security-Policy"]
        assert '<script src="/static/js/live.js" defer></script>' in live.text
        assert 'data-live-refresh="30"' in live.text
    assert live["X-Cache"] == "hit"


def test_an_unknown_hosts_404_carries_the_policy_too(client, db):
    response = client.get("/", HTTP_HOST="nobody.example")
    assert response.status_code == 404
    assert policy(response)["script-src"] == ["'self'"]
    assert policy(response)["frame-ancestors"] == ["'none'"]
