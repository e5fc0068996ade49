"""Markdown in the console is at most MARKDOWN_MAX_LENGTH characters: a longer body is refused
with the reason, never rendered (not even in a preview) and never saved."""

import pytest
from django.utils import timezone

from incidents.markdown import MARKDOWN_MAX_LENGTH
from incidents.models import Incident, IncidentStatus, IncidentTemplate
from tests.html import parse_html

HTMX = {"HX-Request": "true"}
TOO_LONG = "**Bold** " + "a" * MARKDOWN_MAX_LENGTH
REASON = f"at most {MARKDOWN_MAX_LENGTH} characters"


def url(page, path=""):
    return f"/manage/{page.code}/{path}"


def declare(client, page, **fields):
    data = {"name": "API errors", "status": "investigating", "body": "Looking into it."}
    data.update(fields)
    return client.post(url(page, "incidents/new/"), data)


def body_errors(response):
    field = parse_html(response.text).find("textarea", name="body").parent
    return field.find("div", class_="errors").text


@pytest.fixture
def incident(page):
    return Incident.declare(page, name="API errors", body="Looking into it.")


def test_declaring_with_a_body_over_the_cap_is_refused_with_the_reason(editor, page):
    response = declare(editor, page, body=TOO_LONG)

    assert response.status_code == 200
    assert REASON in body_errors(response)
    assert not Incident.objects.exists()


def test_a_body_of_exactly_the_cap_is_declared(editor, page):
    response = declare(editor, page, body="a" * MARKDOWN_MAX_LENGTH)

    assert response.status_code == 302
    assert len(Incident.objects.get().updates.get().body) == MARKDOWN_MAX_LENGTH


def test_the_preview_refuses_a_body_over_the_cap_without_rendering_it(editor, page):
    response = editor.post(url(page, "incidents/preview/"), {"body": TOO_LONG}, headers=HTMX)

    assert response.status_code == 200
    assert REASON in parse_html(response.text).find(class_="errors").text
    assert "<strong>Bold</strong>" not in response.text


def test_the_preview_of_another_tenants_page_is_404(client, page, owner_b):
    client.force_login(owner_b)
    assert client.post(url(page, "incidents/preview/"), {"body": "x"}).status_code == 404


def test_without_javascript_the_preview_refuses_a_body_over_the_cap_and_saves_nothing(editor, page):
    response = declare(editor, page, body=TOO_LONG, preview="1")

    assert response.status_code == 200
    preview = parse_html(response.text).find("div", class_="preview")
    assert REASON in preview.find(class_="errors").text
    assert "<strong>Bold</strong>" not in response.text
    assert not Incident.objects.exists()


def test_an_update_over_the_cap_is_refused(editor, page, incident):
    response = editor.post(
        url(page, f"incidents/{incident.code}/updates/"),
        {"status": "identified", "body": TOO_LONG},
    )

    assert response.status_code == 200
    assert REASON in response.text
    assert incident.updates.count() == 1
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING


def test_an_update_cannot_be_edited_to_over_the_cap(editor, page, incident):
    update = incident.updates.get()
    response = editor.post(
        url(page, f"incidents/{incident.code}/updates/{update.code}/edit/"),
        {"body": TOO_LONG, "display_at": timezone.now().strftime("%Y-%m-%dT%H:%M")},
    )

    assert response.status_code == 200
    assert REASON in body_errors(response)
    update.refresh_from_db()
    assert update.body == "Looking into it."


@pytest.mark.parametrize("action", ["save", "preview", "publish"])
def test_a_postmortem_over_the_cap_is_refused(editor, page, incident, action):
    incident.resolve()
    response = editor.post(
        url(page, f"incidents/{incident.code}/postmortem/"), {"action": action, "body": TOO_LONG}
    )

    assert response.status_code == 200
    assert REASON in body_errors(response)
    assert "<strong>Bold</strong>" not in response.text
    incident.refresh_from_db()
    assert (incident.postmortem_draft, incident.postmortem_body) == ("", "")


def test_a_template_over_the_cap_is_refused(editor, page):
    response = editor.post(
        url(page, "templates/new/"),
        {
            "name": "Long",
            "title": "Long",
            "body": TOO_LONG,
            "status": "investigating",
            "component_status": "degraded_performance",
        },
    )

    assert response.status_code == 200
    assert REASON in body_errors(response)
    assert not IncidentTemplate.objects.exists()
