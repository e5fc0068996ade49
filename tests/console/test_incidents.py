"""The console's incidents: declare, post updates, resolve, edit updates, backfill, postmortems."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident, IncidentUpdate
from notifications.models import NotificationEvent
from status.models import AuditLogEntry, ComponentStatusChange
from tests.html import parse_html, visible

HTMX = {"HX-Request": "true"}


def url(page, path=""):
    return f"/manage/{page.code}/{path}"


def public_statuses(client):
    """{component name: status words} as the public status page shows them."""
    body = visible(client.get("/p/alpha/"))
    return {
        li.find("span", class_="name").text: li.find("span", class_="status").text
        for li in body.find_all("li", class_="component")
    }


def declare(client, page, **fields):
    data = {"name": "API errors", "status": "investigating", "body": "Looking into it."}
    data.update(fields)
    return client.post(url(page, "incidents/new/"), data)


def declared(page, name="API errors"):
    return Incident.objects.get(page=page, name=name)


def field(component):
    return f"component-{component.code}"


def form_values(html, form_class):
    """{name: value} the form with `form_class` would submit as it is shown."""
    form = parse_html(html).find("form", class_=form_class)
    values = {}
    for element in form.find_all("input"):
        kind = element.attrs.get("type", "text")
        if kind in ("checkbox", "radio") and "checked" not in element.attrs:
            continue
        if kind != "submit" and "name" in element.attrs:
            values[element.attrs["name"]] = element.attrs.get("value", "on")
    for select in form.find_all("select"):
        chosen = [o for o in select.find_all("option") if "selected" in o.attrs]
        values[select.attrs["name"]] = chosen[0].attrs["value"] if chosen else ""
    for textarea in form.find_all("textarea"):
        values[textarea.attrs["name"]] = textarea.text
    values.pop("csrfmiddlewaretoken", None)
    return values


# Declaring


def test_declaring_with_two_affected_components_shows_on_the_public_page(
    client, editor, page, api, website
):
    response = declare(
        editor,
        page,
        **{field(api): "partial_outage", field(website): "degraded_performance"},
    )

    incident = declared(page)
    assert response.status_code == 302
    assert response["Location"] == url(page, f"incidents/{incident.code}/")
    assert public_statuses(client) == {"API": "Partial outage", "Website": "Degraded performance"}
    public = visible(client.get("/p/alpha/"))
    card = public.find("article", class_="incident-card")
    assert "API errors" in card.text
    assert "Looking into it." in card.text


def test_the_declare_form_offers_every_component_with_not_affected_and_the_five_statuses(
    editor, page, api
):
    form = parse_html(editor.get(url(page, "incidents/new/")).text)
    options = form.find("select", name=field(api)).find_all("option")
    assert [o.text for o in options] == [
        "Not affected",
        "Operational",
        "Degraded performance",
        "Partial outage",
        "Major outage",
        "Under maintenance",
    ]
    assert "selected" in options[0].attrs
    assert "checked" in form.find("input", name="notify").attrs


def test_the_declare_form_asks_for_the_message_before_the_components(editor, page, api):
    # As Statuspage's form does: on a page with many components the message stays in sight.
    form = parse_html(editor.get(url(page, "incidents/new/")).text).find(
        "form", class_="console-form"
    )
    names = [f.attrs.get("name") for f in form.iter() if f.tag in ("input", "select", "textarea")]
    order = [n for n in names if n in ("name", "status", "body", field(api), "notify")]
    assert order == ["name", "status", "body", field(api), "notify"]


def test_declaring_records_who_did_it_and_notifies_when_asked(editor, editor_a, page, api):
    declare(editor, page, notify="on", **{field(api): "major_outage"})

    incident = declared(page)
    assert incident.updates.get().author == editor_a
    assert NotificationEvent.objects.filter(incident=incident).count() == 1
    entry = AuditLogEntry.objects.get(action="incident.create")
    assert entry.actor == editor_a
    assert entry.object_code == incident.code
    assert entry.after["components"] == [api.code]
    assert entry.after["status"] == "investigating"


def test_declaring_without_notify_sends_nothing(editor, page):
    declare(editor, page)
    assert not NotificationEvent.objects.exists()


def test_an_impact_override_wins_over_the_components(editor, page, api):
    declare(editor, page, impact_override="critical", **{field(api): "degraded_performance"})
    assert declared(page).impact == "critical"


def test_the_impact_reads_the_same_in_the_declare_form_the_console_and_the_public_pages(
    client, editor, page, api
):
    form = parse_html(editor.get(url(page, "incidents/new/")).text)
    impacts = form.find("select", name="impact_override").find_all("option")
    assert [o.text for o in impacts][1:] == ["None", "Minor", "Major", "Critical"]
    # What "Automatic" will make of the components, in the same words.
    assert (
        "degraded performance is Minor, partial outage is Major, major outage is Critical"
        in form.text
    )

    declare(editor, page, **{field(api): "partial_outage"})
    incident = declared(page)

    detail = visible(editor.get(url(page, f"incidents/{incident.code}/")))
    facts = {
        div.find("dt").text: div.find("dd").text
        for div in detail.find_all("div")
        if [child.tag for child in div.iter()][:2] == ["dt", "dd"]
    }
    assert facts["Impact"] == "Major"
    assert "Impact: Major" in visible(editor.get(url(page))).text
    public = visible(client.get(f"/p/alpha/incidents/{incident.code}/"))
    assert public.find("dd", class_="impact").text == "Major"
    # The component's timeline beside it says what made it Major.
    timeline = public.find("li", class_="affected-component").find("ul", class_="timeline")
    assert timeline.text.startswith("Partial outage since ")
    assert "Impact: Major" in visible(client.get("/p/alpha/history/")).text


def test_a_declare_form_without_a_name_shows_the_error_and_saves_nothing(editor, page, api):
    response = declare(editor, page, name="", **{field(api): "major_outage"})

    assert response.status_code == 200
    assert "This field is required." in response.text
    assert "<html" in response.text  # the whole page without JavaScript
    assert not Incident.objects.exists()
    api.refresh_from_db()
    assert api.status == "operational"


def test_an_unknown_status_for_a_component_is_an_inline_error(editor, page, api):
    response = declare(editor, page, **{field(api): "on_fire"})
    assert "Select a valid choice" in response.text
    assert not Incident.objects.exists()


def test_with_htmx_the_declare_form_comes_back_alone_with_its_errors(editor, page):
    response = editor.post(url(page, "incidents/new/"), {"name": ""}, headers=HTMX)

    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith("<form")
    assert "This field is required." in response.text


def test_with_htmx_a_declared_incident_sends_the_browser_to_its_page(editor, page):
    response = editor.post(
        url(page, "incidents/new/"), {"name": "Outage", "status": "identified"}, headers=HTMX
    )
    incident = declared(page, "Outage")
    assert response["HX-Redirect"] == url(page, f"incidents/{incident.code}/")
    assert incident.status == "identified"


def test_the_markdown_preview_renders_and_escapes_script(editor, page):
    response = editor.post(
        url(page, "incidents/preview/"),
        {"body": "**Bold** <script>alert(1)</script>"},
        headers=HTMX,
    )
    assert "<strong>Bold</strong>" in response.text
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert "<html" not in response.text


def test_without_javascript_preview_shows_the_rendered_body_and_saves_nothing(editor, page):
    response = declare(editor, page, body="# Cause\n\n<script>x</script>", preview="1")

    assert response.status_code == 200
    preview = parse_html(response.text).find("div", class_="preview")
    assert preview.find("h3").text == "Cause"
    assert "<script>" not in response.text.split('class="preview')[1]
    assert not Incident.objects.exists()


# Posting updates


def test_the_update_form_starts_with_each_components_current_status(editor, page, api, website):
    declare(editor, page, **{field(api): "partial_outage"})
    incident = declared(page)

    html = editor.get(url(page, f"incidents/{incident.code}/")).text

    values = form_values(html, "update-form")
    assert values[field(api)] == "partial_outage"
    assert values[field(website)] == "operational"
    assert values["status"] == "investigating"
    assert values["notify"] == "on"


def test_posting_an_update_with_the_prefilled_form_changes_only_what_was_changed(
    client, editor, page, api, website
):
    declare(editor, page, **{field(api): "partial_outage"})
    incident = declared(page)
    values = form_values(editor.get(url(page, f"incidents/{incident.code}/")).text, "update-form")
    values.update(
        {"status": "identified", "body": "A bad deploy.", field(website): "degraded_performance"}
    )

    response = editor.post(url(page, f"incidents/{incident.code}/updates/"), values)

    assert response.status_code == 302
    update = incident.updates.order_by("-id").first()
    assert update.status == "identified"
    assert {i.component.name for i in update.impacts.all()} == {"Website"}
    assert public_statuses(client) == {"API": "Partial outage", "Website": "Degraded performance"}
    assert "A bad deploy." in client.get(f"/p/alpha/incidents/{incident.code}/").text
    assert AuditLogEntry.objects.filter(action="incident.update", object_code=incident.code)


def test_an_update_does_not_undo_a_change_made_since_the_form_was_shown(editor, page, api):
    declare(editor, page, **{field(api): "partial_outage"})
    incident = declared(page)
    values = form_values(editor.get(url(page, f"incidents/{incident.code}/")).text, "update-form")
    api.set_status("major_outage")  # someone else, meanwhile

    values.update({"status": "identified", "body": "Found it."})
    editor.post(url(page, f"incidents/{incident.code}/updates/"), values)

    api.refresh_from_db()
    assert api.status == "major_outage"


def test_without_javascript_preview_in_the_update_form_posts_nothing(editor, page):
    declare(editor, page)
    incident = declared(page)

    response = editor.post(
        url(page, f"incidents/{incident.code}/updates/"),
        {"status": "monitoring", "body": "Watching **closely**.", "preview": "1"},
    )

    preview = parse_html(response.text).find("div", class_="preview")
    assert "Watching closely." in preview.text
    assert "<html" in response.text
    assert incident.updates.count() == 1


def test_an_update_without_text_is_refused_inline(editor, page):
    declare(editor, page)
    incident = declared(page)

    response = editor.post(
        url(page, f"incidents/{incident.code}/updates/"),
        {"status": "monitoring", "body": ""},
        headers=HTMX,
    )

    assert "Write what changed" in response.text
    assert "<html" not in response.text
    assert incident.updates.count() == 1


# Resolving


def test_resolving_in_one_step_restores_components_and_puts_the_incident_in_history(
    client, editor, page, api, website
):
    declare(editor, page, **{field(api): "major_outage", field(website): "partial_outage"})
    incident = declared(page)

    response = editor.post(url(page, f"incidents/{incident.code}/resolve/"))

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.updates.order_by("-id").first().body == "This incident has been resolved."
    assert public_statuses(client) == {"API": "Operational", "Website": "Operational"}
    history = visible(client.get("/p/alpha/history/"))
    assert "API errors" in history.find("article", class_="history-incident").text
    assert AuditLogEntry.objects.filter(action="incident.resolve").count() == 1


def test_resolving_notifies_when_the_box_is_ticked_and_keeps_a_given_message(editor, page):
    declare(editor, page)
    incident = declared(page)

    editor.post(
        url(page, f"incidents/{incident.code}/resolve/"), {"notify": "on", "body": "All good."}
    )

    assert incident.updates.order_by("-id").first().body == "All good."
    assert NotificationEvent.objects.filter(incident=incident).count() == 1


def test_resolving_twice_changes_nothing_the_second_time(editor, page):
    declare(editor, page)
    incident = declared(page)
    editor.post(url(page, f"incidents/{incident.code}/resolve/"))

    response = editor.post(url(page, f"incidents/{incident.code}/resolve/"), follow=True)

    assert "already resolved" in response.text
    assert incident.updates.count() == 2


def test_the_incident_page_shows_the_timeline_newest_first_in_the_pages_time_zone(
    editor, page, editor_a
):
    page.time_zone = "America/Guayaquil"
    page.save()
    declare(editor, page, body="First")
    incident = declared(page)
    update = incident.updates.get()
    update.display_at = datetime(2026, 4, 1, 5, 26, tzinfo=UTC)
    update.save()
    incident.post_update("identified", "Second", by=editor_a)

    body = visible(editor.get(url(page, f"incidents/{incident.code}/")))

    items = body.find("ol", class_="console-timeline").find_all("li", class_="update")
    assert [i.find("h3").text for i in items] == ["Identified", "Investigating"]
    assert "Apr 1, 2026, 12:26 AM -05" in items[1].text
    assert "by a-editor" in items[1].text


# Editing an update


def test_editing_an_updates_text_shows_publicly(client, editor, page):
    declare(editor, page, body="Typo hree.")
    incident = declared(page)
    update = incident.updates.get()
    form = form_values(
        editor.get(url(page, f"incidents/{incident.code}/updates/{update.code}/edit/")).text,
        "edit-update-form",
    )
    assert form["body"] == "Typo hree."

    form["body"] = "Fixed **here**."
    response = editor.post(
        url(page, f"incidents/{incident.code}/updates/{update.code}/edit/"), form
    )

    assert response.status_code == 302
    public = client.get(f"/p/alpha/incidents/{incident.code}/").text
    assert "Fixed <strong>here</strong>." in public
    assert "Typo" not in public
    entry = AuditLogEntry.objects.get(action="incident_update.edit")
    assert (entry.before["body"], entry.after["body"]) == ("Typo hree.", "Fixed **here**.")


def test_editing_an_updates_time_reads_it_in_the_pages_time_zone(editor, page):
    page.time_zone = "Europe/Paris"
    page.save()
    declare(editor, page)
    incident = declared(page)
    update = incident.updates.get()

    editor.post(
        url(page, f"incidents/{incident.code}/updates/{update.code}/edit/"),
        {"body": "x", "display_at": "2025-01-15T10:30"},
    )

    update.refresh_from_db()
    assert update.display_at == datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def test_an_update_cannot_be_dated_in_the_future(editor, page):
    declare(editor, page, body="Original")
    incident = declared(page)
    update = incident.updates.get()
    future = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    response = editor.post(
        url(page, f"incidents/{incident.code}/updates/{update.code}/edit/"),
        {"body": "Changed", "display_at": future},
        headers=HTMX,
    )

    assert "cannot be dated in the future" in response.text
    assert "<html" not in response.text
    update.refresh_from_db()
    assert update.body == "Original"


# Backfilling


def backfill(client, page, **fields):
    data = {
        "name": "Old outage",
        "started_at": "2026-01-10T08:00",
        "resolved_at": "2026-01-10T09:15",
        "body": "The database fell over.",
    }
    data.update(fields)
    return client.post(url(page, "incidents/backfill/"), data)


def test_backfilling_records_a_resolved_past_incident_without_touching_component_history(
    client, editor, page, api, time_machine
):
    time_machine.move_to(datetime(2026, 2, 1, 12, 0, tzinfo=UTC), tick=False)
    history_before = list(ComponentStatusChange.objects.values_list("id", "status", "ended_at"))

    response = backfill(editor, page, **{field(api): "major_outage"})

    incident = declared(page, "Old outage")
    assert response.status_code == 302
    assert incident.status == "resolved"
    assert incident.backfilled
    assert incident.started_at == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    assert incident.resolved_at == datetime(2026, 1, 10, 9, 15, tzinfo=UTC)
    assert incident.impact == "critical"
    assert list(incident.components.all()) == [api]
    assert [u.status for u in incident.updates.all()] == ["resolved", "investigating"]
    assert (
        list(ComponentStatusChange.objects.values_list("id", "status", "ended_at"))
        == history_before
    )
    assert not NotificationEvent.objects.exists()
    assert public_statuses(client)["API"] == "Operational"
    history = visible(client.get("/p/alpha/history/?page=1"))
    assert "Old outage" in history.text
    assert AuditLogEntry.objects.filter(action="incident.backfill").exists()


def test_a_backfill_resolved_before_it_started_is_refused_inline(editor, page, time_machine):
    time_machine.move_to(datetime(2026, 2, 1, 12, 0, tzinfo=UTC), tick=False)

    response = backfill(editor, page, resolved_at="2026-01-10T07:00")

    assert "cannot be resolved before it started" in response.text
    assert not Incident.objects.exists()


def test_a_backfill_in_the_future_is_refused_inline(editor, page, time_machine):
    time_machine.move_to(datetime(2026, 2, 1, 12, 0, tzinfo=UTC), tick=False)

    response = backfill(editor, page, started_at="2026-03-01T08:00", resolved_at="2026-03-01T09:00")

    assert "must have started in the past" in response.text
    assert "must be resolved in the past" in response.text
    assert not Incident.objects.exists()


# Postmortems


@pytest.fixture
def resolved(editor, page):
    declare(editor, page)
    incident = declared(page)
    editor.post(url(page, f"incidents/{incident.code}/resolve/"))
    incident.refresh_from_db()
    return incident


def postmortem_url(page, incident):
    return url(page, f"incidents/{incident.code}/postmortem/")


def test_a_postmortem_draft_is_saved_but_not_public(client, editor, page, resolved):
    response = editor.post(
        postmortem_url(page, resolved), {"action": "save", "body": "## Root cause\n\nDNS."}
    )

    assert response.status_code == 302
    resolved.refresh_from_db()
    assert resolved.postmortem_draft == "## Root cause\n\nDNS."
    assert resolved.postmortem_published_at is None
    assert "Root cause" not in client.get(f"/p/alpha/incidents/{resolved.code}/").text
    assert "Root cause" in editor.get(postmortem_url(page, resolved)).text


def test_a_postmortem_preview_renders_it_without_saving(editor, page, resolved):
    response = editor.post(
        postmortem_url(page, resolved),
        {"action": "preview", "body": "**Why** <script>x</script>"},
        headers=HTMX,
    )

    assert "<strong>Why</strong>" in response.text
    assert "<script>x" not in response.text
    assert "<html" not in response.text
    resolved.refresh_from_db()
    assert resolved.postmortem_body == ""


def test_publishing_a_postmortem_shows_it_publicly(client, editor, page, resolved):
    response = editor.post(
        postmortem_url(page, resolved), {"action": "publish", "body": "We fixed **DNS**."}
    )

    assert response.status_code == 302
    resolved.refresh_from_db()
    assert resolved.status == "postmortem"
    public = visible(client.get(f"/p/alpha/incidents/{resolved.code}/"))
    assert "We fixed DNS." in public.find("section", class_="postmortem").text
    assert AuditLogEntry.objects.filter(action="postmortem.publish").exists()


def test_publishing_an_empty_postmortem_is_refused_inline(editor, page, resolved):
    response = editor.post(
        postmortem_url(page, resolved), {"action": "publish", "body": "  "}, headers=HTMX
    )

    assert "Write the postmortem before publishing it." in response.text
    resolved.refresh_from_db()
    assert resolved.status == "resolved"


def test_an_open_incident_has_no_postmortem_form_and_a_clear_message(editor, page):
    declare(editor, page)
    incident = declared(page)

    shown = editor.get(postmortem_url(page, incident))
    posted = editor.post(postmortem_url(page, incident), {"action": "publish", "body": "Early"})

    assert "once the incident is resolved" in shown.text
    assert "postmortem-form" not in shown.text
    assert posted.status_code == 200
    incident.refresh_from_db()
    assert (incident.postmortem_body, incident.status) == ("", "investigating")


# The list


def test_the_list_shows_open_incidents_first_then_resolved_ones_paginated(editor, page):
    for n in range(22):
        Incident.declare(page, name=f"Old {n}", notify=False).post_update("resolved", notify=False)
    Incident.declare(page, name="Ongoing", notify=False)

    body = visible(editor.get(url(page, "incidents/")))

    open_section, resolved_section = body.find_all("section")
    assert row_names(open_section) == ["Ongoing"]
    assert row_names(resolved_section) == [f"Old {n}" for n in range(21, 1, -1)]
    assert "Page 1 of 2" in body.text
    second = visible(editor.get(url(page, "incidents/?page=2")))
    assert row_names(second.find_all("section")[1]) == ["Old 1", "Old 0"]


def row_names(element):
    return [th.find("a").text for th in element.find_all("th", scope="row")]


# Roles


def test_a_viewer_reads_incidents_without_edit_controls(client, viewer_a, page, api):
    incident = Incident.declare(page, name="API errors", component_statuses={api: "major_outage"})
    client.force_login(viewer_a)

    detail = client.get(url(page, f"incidents/{incident.code}/"))
    listing = client.get(url(page, "incidents/"))

    assert detail.status_code == listing.status_code == 200
    assert "API errors" in detail.text
    for html in (detail.text, listing.text):
        assert "<select" not in html
        assert "<textarea" not in html
        assert 'action="/manage/' not in html
        assert "Resolve incident" not in html
        assert "Declare incident" not in html
        assert "/edit/" not in html


def test_a_viewer_gets_403_on_every_change(client, viewer_a, page, api):
    incident = Incident.declare(page, name="API errors", component_statuses={api: "major_outage"})
    update = incident.updates.get()
    client.force_login(viewer_a)
    posts = [
        "incidents/new/",
        "incidents/preview/",
        "incidents/backfill/",
        f"incidents/{incident.code}/updates/",
        f"incidents/{incident.code}/resolve/",
        f"incidents/{incident.code}/updates/{update.code}/edit/",
        f"incidents/{incident.code}/postmortem/",
    ]
    for path in posts:
        response = client.post(url(page, path), {"name": "x", "status": "resolved", "body": "x"})
        assert response.status_code == 403, path
    assert client.get(url(page, "incidents/new/")).status_code == 403

    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert Incident.objects.count() == 1


# Another tenant


def test_another_tenants_owner_gets_404_and_changes_nothing(client, page, api, tenant_b, owner_b):
    incident = Incident.declare(page, name="API errors", component_statuses={api: "major_outage"})
    update = incident.updates.get()
    client.force_login(owner_b)
    paths = [
        "",
        "incidents/",
        "incidents/new/",
        "incidents/preview/",
        "incidents/backfill/",
        f"incidents/{incident.code}/",
        f"incidents/{incident.code}/updates/",
        f"incidents/{incident.code}/resolve/",
        f"incidents/{incident.code}/updates/{update.code}/edit/",
        f"incidents/{incident.code}/postmortem/",
    ]
    post_only = {"incidents/preview/", paths[6], paths[7]}
    get_only = {"", "incidents/", paths[5]}
    data = {"name": "x", "status": "resolved", "body": "hacked", "action": "publish"}
    for path in paths:
        # Another tenant's page is not found, whatever the method.
        assert client.get(url(page, path)).status_code == 404, path
        assert client.post(url(page, path), data).status_code == 404, path
    # B's own page with A's codes: not found, or (before anything is looked up) a method the
    # route never serves.
    for path in paths[5:]:
        assert client.get(url(tenant_b.page, path)).status_code == (
            405 if path in post_only else 404
        )
        assert client.post(url(tenant_b.page, path), data).status_code == (
            405 if path in get_only else 404
        ), path

    incident.refresh_from_db()
    api.refresh_from_db()
    assert (incident.status, incident.postmortem_body) == ("investigating", "")
    assert api.status == "major_outage"
    assert IncidentUpdate.objects.get(pk=update.pk).body == ""
    assert Incident.objects.count() == 1
    assert not AuditLogEntry.objects.filter(actor__isnull=False).exists()


def test_a_draft_saved_after_publishing_does_not_change_the_public_postmortem(
    client, editor, page, resolved
):
    editor.post(postmortem_url(page, resolved), {"action": "publish", "body": "First cause: DNS."})
    editor.post(postmortem_url(page, resolved), {"action": "save", "body": "Half-written second"})

    public = client.get(f"/p/alpha/incidents/{resolved.code}/").text
    assert "First cause: DNS." in public
    assert "Half-written second" not in public
    assert "Half-written second" in editor.get(postmortem_url(page, resolved)).text

    editor.post(
        postmortem_url(page, resolved), {"action": "publish", "body": "Half-written second"}
    )
    assert "Half-written second" in client.get(f"/p/alpha/incidents/{resolved.code}/").text
