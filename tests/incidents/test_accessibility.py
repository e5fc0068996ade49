"""Public pages are semantic HTML: landmarks, headings in order, unique ids, <time> elements."""

from html.parser import HTMLParser

import pytest
from django.core.management import call_command

from incidents.models import Incident

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
SVG_SELF_CLOSING = {"rect"}


class Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.headings, self.ids, self.errors = [], [], [], []
        self.tags, self.times = [], []
        self.doctype = None
        self.lang = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "html":
            self.lang = attrs.get("lang")
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        if tag == "time":
            self.times.append(attrs.get("datetime"))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def outline(html):
    parser = Outline()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def public_paths():
    jelou = Incident.objects.get(name="Authentication Service Degradation")
    ongoing = Incident.objects.get(page__slug="acme", status="identified")
    maintenance = Incident.objects.get(page__slug="acme", kind="maintenance")
    return [
        "/p/acme/",
        "/p/jelou/",
        f"/p/jelou/incidents/{jelou.code}/",
        f"/p/acme/incidents/{ongoing.code}/",
        f"/p/acme/incidents/{maintenance.code}/",
        "/p/acme/history/",
    ]


def test_public_pages_are_well_formed_and_outlined(client, demo):
    for path in public_paths():
        response = client.get(path)
        assert response.status_code == 200, path
        page = outline(response.text)
        assert page.doctype == "doctype html", path
        # The demo's Jelou page is Spanish-first (status/languages.py).
        assert page.lang == ("es" if path.startswith("/p/jelou/") else "en"), path
        assert page.errors == [], path
        assert page.stack == [], path
        assert len(page.ids) == len(set(page.ids)), path
        # One h1, first; no heading skips a level on the way down.
        assert page.headings.count(1) == 1 and page.headings[0] == 1, (path, page.headings)
        for before, after in zip(page.headings, page.headings[1:], strict=False):
            assert after <= before + 1, (path, page.headings)
        tags = [tag for tag, _ in page.tags]
        for landmark in ("header", "main", "footer", "nav"):
            assert landmark in tags, (path, landmark)
        assert all(page.times), path
        assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in (
            page.tags
        ), path
        # No external assets: every stylesheet and script comes from our own static files.
        for tag, attrs in page.tags:
            src = attrs.get("src") or (attrs.get("href") if tag == "link" else None)
            # The hreflang alternates are the page's own addresses, absolute, as search engines
            # want them: no asset.
            if src and "hreflang" not in attrs:
                assert src.startswith("/"), (path, src)


def test_statuses_are_never_given_by_colour_alone(client, demo):
    html = client.get("/p/acme/").text
    assert "Partial outage" in html
    assert "Degraded performance" in html
    assert "Operational" in html
    # Each day bar carries its words: its button's name (date and status), which is also what a
    # calm day's popover shows (heliograph.css draws it); a day with minutes or incidents has a
    # popover of its own besides.
    assert html.count('><button aria-label="') > 12 * 90
    assert '"></button><div><strong>' in html
