"""The embed snippets on the settings page are pasted into customers' own sites: whatever the
page is called, its name is only ever data in them (a JavaScript string, an attribute value),
never code or markup."""

import html
import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from status.models import Page

NASTY_NAMES = [
    'Acme"+alert(1)+"',
    "Acme</script><script>alert(1)</script>",
    'Acme\\"+alert(1)//',
    "Acme' onload='alert(1)",
    'Acme" onload="alert(1)',
    "A & B <b>bold</b></textarea><script>alert(1)</script>",
    "Acme&quot;+alert(1)+&quot;&lt;/script&gt;",
    "<!--<script>alert(1)//",
    "Acme\\u0022+alert(1)+\\",
]
JS_STRING = re.compile(r'"(?:[^"\\\n\r]|\\.)*"')


class Events(HTMLParser):
    """What a browser's tokenizer makes of a snippet: tags with their attributes, and text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.events = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.events.append(("start", tag, dict(attrs)))

    def handle_endtag(self, tag):
        self.events.append(("end", tag, {}))

    def handle_data(self, data):
        self.events.append(("data", data, {}))

    def handle_comment(self, data):
        self.events.append(("comment", data, {}))


def snippets(client, page, name):
    """The text of each snippet, as copied from its textarea, for a page called `name`."""
    Page.objects.filter(pk=page.pk).update(name=name)
    text = client.get(reverse("manage:settings", kwargs={"page_code": page.code})).text
    found = {}
    for kind in ("script", "iframe", "badge"):
        raw = re.search(rf'<textarea id="embed-{kind}"[^>]*>(.*?)</textarea>', text, re.S)[1]
        found[kind] = html.unescape(raw)  # a textarea's content is text: only references count
    return found


def shape(events):
    """The tags and attribute names of a snippet, without the values."""
    return [(kind, tag, sorted(attrs)) for kind, tag, attrs in events]


def script_parts(snippet):
    """(the code with every string literal emptied, the literals' values) of the script."""
    events = Events(snippet).events
    assert [(kind, tag) for kind, tag, _ in events] == [
        ("start", "script"),
        ("data", events[1][1]),
        ("end", "script"),
    ], events
    code = events[1][1]
    literals = [json.loads(literal) for literal in JS_STRING.findall(code)]
    return JS_STRING.sub('""', code), literals


@pytest.fixture
def benign(client, page, owner_a):
    client.force_login(owner_a)
    return snippets(client, page, "Alpha")


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_the_script_snippet_keeps_the_name_inside_its_string(client, page, benign, name):
    code, literals = script_parts(snippets(client, page, name)["script"])

    benign_code, benign_literals = script_parts(benign["script"])
    assert code == benign_code  # the same program, whatever the name
    assert f"{name} status" in literals
    assert [v for v in literals if v != f"{name} status"] == [
        v for v in benign_literals if v != "Alpha status"
    ]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_the_iframe_and_badge_snippets_keep_the_name_inside_its_attribute(
    client, page, benign, name
):
    found = snippets(client, page, name)

    iframe = Events(found["iframe"]).events
    assert (
        shape(iframe)
        == shape(Events(benign["iframe"]).events)
        == [
            ("start", "iframe", ["loading", "src", "style", "title"]),
            ("end", "iframe", []),
        ]
    )
    assert iframe[0][2]["title"] == f"{name} status"
    assert iframe[0][2]["src"] == page.embed_url

    badge = Events(found["badge"]).events
    assert (
        shape(badge)
        == shape(Events(benign["badge"]).events)
        == [
            ("start", "a", ["href"]),
            ("start", "img", ["alt", "src"]),
            ("end", "a", []),
        ]
    )
    assert badge[1][2]["alt"] == f"{name} status"
    assert badge[1][2]["src"] == page.badge_url


def test_the_snippets_still_point_at_the_page(benign, page):
    code, literals = script_parts(benign["script"])
    assert page.embed_url in literals and "Alpha status" in literals
    assert "document.createElement" in code and "insertBefore" in code
    assert f'<iframe src="{page.embed_url}" title="Alpha status"' in benign["iframe"]
    badge = f'<a href="{page.public_url()}"><img src="{page.badge_url}" alt="Alpha status">'
    assert badge in benign["badge"]


def test_another_tenants_owner_gets_404(client, page, owner_b):
    client.force_login(owner_b)
    response = client.get(reverse("manage:settings", kwargs={"page_code": page.code}))
    assert response.status_code == 404
