"""The console's components page: add, edit, delete, group and reorder components."""

import re

from django.urls import reverse

from status.models import AuditLogEntry, Component, ComponentGroup, ComponentStatusChange

HTMX = {"HX-Request": "true"}


def url(name, page, **kwargs):
    return reverse(f"manage:{name}", kwargs={"page_code": page.code, **kwargs})


def console_names(html):
    """Component names in the order the console lists them."""
    return re.findall(r'<tr id="component-\w+">\s*<th scope="row">([^<\n]+)', html)


def console_groups(html):
    return re.findall(r'<h2 id="group-\w+-name">([^<\n]+)', html)


def public_names(client):
    """Component names in the order the public page shows them."""
    html = client.get("/p/alpha/").text
    return re.findall(r'<li class="component">\s*<div class="component-head">\s*'
                      r'<span class="name">([^<]+?)(?: <span|</span>)', html)  # fmt: skip


def public_groups(client):
    return re.findall(r'<summary><span class="name">([^<]+)</span>', client.get("/p/alpha/").text)


def component(page, name):
    return page.components.get(name=name)


def add(client, page, name, group=None, **fields):
    data = {"name": name, "showcase": "on", **fields}
    if group is not None:
        data["group"] = group.code
    return client.post(url("component-create", page), data)


def state(page):
    """Everything the console can change about a page's components and groups."""
    return (
        list(page.components.order_by("id").values_list(
            "code", "name", "description", "group_id", "position", "status", "showcase"
        )),
        list(page.groups.order_by("id").values_list("code", "name", "position", "collapsed")),
        ComponentStatusChange.objects.filter(component__page=page).count(),
    )  # fmt: skip


def test_the_components_page_lists_groups_and_components_with_their_controls(
    client, page, editor_a
):
    client.force_login(editor_a)
    html = client.get(url("components", page)).text
    assert console_groups(html) == ["Core"]
    assert console_names(html) == ["API", "Website"]
    assert 'name="status"' in html  # the one-click status form
    assert "Add a component" in html and "Add a group" in html
    assert 'aria-label="Move API up" aria-disabled="true"' in html
    assert 'aria-label="Move Website down" aria-disabled="true"' in html


def test_editor_adds_a_component_to_a_group_and_it_comes_last_there(client, page, core, editor_a):
    client.force_login(editor_a)
    response = add(client, page, "Search", core, description="Full-text search")
    new = component(page, "Search")
    assert response.status_code == 302
    assert response.url == url("components", page) + f"#component-{new.code}"
    assert new.group == core and new.position == 2 and new.description == "Full-text search"
    assert new.status_changes.count() == 1  # its history starts

    assert console_names(client.get(url("components", page)).text) == ["API", "Website", "Search"]
    assert public_names(client) == ["API", "Website", "Search"]


def test_an_ungrouped_component_comes_first_as_on_the_public_page(client, page, editor_a):
    client.force_login(editor_a)
    add(client, page, "Status emails")
    html = client.get(url("components", page)).text
    assert "Not in a group" in html
    assert console_names(html) == ["Status emails", "API", "Website"]
    assert public_names(client) == ["Status emails", "API", "Website"]


def test_adding_a_component_without_a_name_shows_the_error_and_saves_nothing(
    client, page, editor_a
):
    client.force_login(editor_a)
    before = state(page)
    response = add(client, page, "")
    assert response.status_code == 200
    assert "<html" in response.text  # without JavaScript: the whole form page again
    assert "This field is required." in response.text
    assert state(page) == before


def test_htmx_gets_the_form_alone_with_its_errors(client, page, editor_a):
    client.force_login(editor_a)
    before = state(page)
    response = client.post(url("component-create", page), {"name": ""}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith("<form")
    assert "This field is required." in response.text
    assert state(page) == before


def test_htmx_reloads_the_list_after_a_successful_add_or_edit(client, page, editor_a):
    client.force_login(editor_a)
    on_list = {**HTMX, "HX-Current-URL": "http://testserver" + url("components", page)}
    response = client.post(url("component-create", page), {"name": "CDN"}, headers=on_list)
    # Not to "#component-…" of the page it is on: that would only scroll.
    assert response["HX-Redirect"] == url("components", page)
    assert component(page, "CDN")

    cdn = component(page, "CDN")
    edit_url = url("component-edit", page, component_code=cdn.code)
    on_edit = {**HTMX, "HX-Current-URL": "http://testserver" + edit_url}
    response = client.post(edit_url, {"name": "Edge CDN"}, headers=on_edit)
    assert response["HX-Redirect"] == url("components", page) + f"#component-{cdn.code}"


def test_a_group_of_another_page_cannot_be_chosen(client, page, tenant_b, editor_a):
    client.force_login(editor_a)
    before = state(page)
    response = add(client, page, "Search", tenant_b.page.groups.get())
    assert "Select a valid choice" in response.text
    assert state(page) == before
    assert not Component.objects.filter(name="Search").exists()


def test_editor_edits_a_component_and_the_public_page_shows_it(client, page, editor_a):
    client.force_login(editor_a)
    api = component(page, "API")
    edit_url = url("component-edit", page, component_code=api.code)
    assert 'value="API"' in client.get(edit_url).text

    response = client.post(
        edit_url,
        {"name": "Public API", "description": "REST and GraphQL", "group": api.group.code,
         "showcase": "on", "start_date": "2026-01-15"},
    )  # fmt: skip
    assert response.status_code == 302
    api.refresh_from_db()
    assert (api.name, api.description, str(api.start_date)) == (
        "Public API",
        "REST and GraphQL",
        "2026-01-15",
    )
    assert public_names(client) == ["Public API", "Website"]
    assert "REST and GraphQL" in client.get("/p/alpha/").text


def test_an_invalid_edit_shows_errors_and_keeps_the_component(client, page, editor_a):
    client.force_login(editor_a)
    api = component(page, "API")
    before = state(page)
    response = client.post(
        url("component-edit", page, component_code=api.code),
        {"name": "", "start_date": "yesterday"},
    )
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert "Enter a valid date." in response.text
    assert "<h1>Edit API</h1>" in response.text
    assert state(page) == before


def test_a_component_moved_to_another_group_goes_last_there_and_its_old_group_closes_up(
    client, page, core, editor_a
):
    client.force_login(editor_a)
    client.post(url("group-create", page), {"name": "Edge"})
    edge = page.groups.get(name="Edge")
    add(client, page, "CDN", edge)
    api = component(page, "API")
    client.post(
        url("component-edit", page, component_code=api.code),
        {"name": "API", "group": edge.code, "showcase": "on"},
    )
    positions = dict(page.components.values_list("name", "position"))
    assert positions == {"Website": 0, "CDN": 0, "API": 1}
    assert public_names(client) == ["Website", "CDN", "API"]


def test_deleting_a_component_asks_first_then_removes_it_and_its_history(client, page, editor_a):
    client.force_login(editor_a)
    api = component(page, "API")
    delete_url = url("component-delete", page, component_code=api.code)

    confirm = client.get(delete_url).text
    assert "Delete API?" in confirm
    assert "This removes its history" in confirm
    assert Component.objects.filter(pk=api.pk).exists()

    response = client.post(delete_url)
    assert response.status_code == 302
    assert not Component.objects.filter(pk=api.pk).exists()
    assert not ComponentStatusChange.objects.filter(component_id=api.pk).exists()
    assert component(page, "Website").position == 0
    assert console_names(client.get(url("components", page)).text) == ["Website"]
    assert public_names(client) == ["Website"]


def test_moving_a_component_down_swaps_it_with_the_next_one(client, page, editor_a):
    client.force_login(editor_a)
    api = component(page, "API")
    response = client.post(
        url("component-move", page, component_code=api.code), {"direction": "down"}
    )
    assert response.status_code == 302
    assert response.url == url("components", page) + f"#component-{api.code}"
    assert console_names(client.get(url("components", page)).text) == ["Website", "API"]
    assert public_names(client) == ["Website", "API"]

    client.post(url("component-move", page, component_code=api.code), {"direction": "up"})
    assert public_names(client) == ["API", "Website"]


def test_moving_with_htmx_returns_the_reordered_list_alone(client, page, editor_a):
    client.force_login(editor_a)
    website = component(page, "Website")
    response = client.post(
        url("component-move", page, component_code=website.code),
        {"direction": "up"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="components-board"' in response.text
    assert console_names(response.text) == ["Website", "API"]


def test_moving_past_either_end_changes_nothing(client, page, editor_a):
    client.force_login(editor_a)
    api, website = component(page, "API"), component(page, "Website")
    before = state(page)
    client.post(url("component-move", page, component_code=api.code), {"direction": "up"})
    client.post(url("component-move", page, component_code=website.code), {"direction": "down"})
    assert state(page) == before
    assert not AuditLogEntry.objects.filter(action="component.move").exists()


def test_moving_normalises_positions_that_had_gaps_or_ties(client, page, core, editor_a):
    client.force_login(editor_a)
    Component.objects.filter(page=page).update(position=7)  # API and Website tie
    Component.objects.create(page=page, group=core, name="Search", position=3)
    search = component(page, "Search")
    client.post(url("component-move", page, component_code=search.code), {"direction": "down"})
    assert dict(page.components.values_list("name", "position")) == {
        "API": 0,
        "Search": 1,
        "Website": 2,
    }
    assert public_names(client) == ["API", "Search", "Website"]


def test_an_unknown_direction_is_a_clear_400(client, page, editor_a):
    client.force_login(editor_a)
    api = component(page, "API")
    before = state(page)
    response = client.post(
        url("component-move", page, component_code=api.code), {"direction": "sideways"}
    )
    assert response.status_code == 400
    assert state(page) == before


def test_a_status_change_without_javascript_returns_to_the_components_page(client, page, editor_a):
    client.force_login(editor_a)
    api = component(page, "API")
    response = client.post(
        url("component-status", page, component_code=api.code),
        {"status": "partial_outage"},
        headers={"Referer": "http://testserver" + url("components", page)},
    )
    assert response.status_code == 302
    assert response.url == "http://testserver" + url("components", page)
    api.refresh_from_db()
    assert api.status == "partial_outage"

    elsewhere = client.post(
        url("component-status", page, component_code=api.code),
        {"status": "operational"},
        headers={"Referer": "https://evil.example/"},
    )
    assert elsewhere.url == url("components", page) + f"#component-{api.code}"


# Groups


def test_editor_adds_a_group_and_it_comes_last(client, page, editor_a):
    client.force_login(editor_a)
    response = client.post(url("group-create", page), {"name": "Edge", "collapsed": "on"})
    edge = page.groups.get(name="Edge")
    assert response.url == url("components", page) + f"#group-{edge.code}"
    assert (edge.position, edge.collapsed) == (1, True)
    html = client.get(url("components", page)).text
    assert console_groups(html) == ["Core", "Edge"]
    assert "No components in this group yet" in html
    assert "collapsed by default" in html


def test_a_group_without_a_name_is_refused_inline(client, page, editor_a):
    client.force_login(editor_a)
    before = state(page)
    response = client.post(url("group-create", page), {"name": " "}, headers=HTMX)
    assert "<html" not in response.text
    assert "This field is required." in response.text
    assert state(page) == before


def test_editor_renames_a_group_and_collapses_it_on_the_public_page(client, page, core, editor_a):
    client.force_login(editor_a)
    assert '<details class="component-group" open>' in client.get("/p/alpha/").text
    response = client.post(
        url("group-edit", page, group_code=core.code), {"name": "Platform", "collapsed": "on"}
    )
    assert response.status_code == 302
    public = client.get("/p/alpha/").text
    assert public_groups(client) == ["Platform"]
    assert '<details class="component-group">' in public


def test_deleting_a_group_keeps_its_components_ungrouped(client, page, core, editor_a):
    client.force_login(editor_a)
    add(client, page, "Status emails")
    delete_url = url("group-delete", page, group_code=core.code)
    confirm = client.get(delete_url).text
    assert "Delete the group Core?" in confirm
    assert "API, Website" in confirm

    client.post(delete_url)
    assert not ComponentGroup.objects.filter(pk=core.pk).exists()
    assert list(page.components.order_by("position").values_list("name", "group")) == [
        ("Status emails", None),
        ("API", None),
        ("Website", None),
    ]
    assert public_groups(client) == []
    assert public_names(client) == ["Status emails", "API", "Website"]


def test_moving_groups_reorders_them_on_the_public_page(client, page, core, editor_a):
    client.force_login(editor_a)
    client.post(url("group-create", page), {"name": "Edge"})
    edge = page.groups.get(name="Edge")
    add(client, page, "CDN", edge)
    assert public_groups(client) == ["Core", "Edge"]

    response = client.post(url("group-move", page, group_code=edge.code), {"direction": "up"})
    assert response.url == url("components", page) + f"#group-{edge.code}"
    assert console_groups(client.get(url("components", page)).text) == ["Edge", "Core"]
    assert public_groups(client) == ["Edge", "Core"]
    assert public_names(client) == ["CDN", "API", "Website"]

    htmx = client.post(
        url("group-move", page, group_code=edge.code), {"direction": "down"}, headers=HTMX
    )
    assert "<html" not in htmx.text
    assert console_groups(htmx.text) == ["Core", "Edge"]


# Audit log


def test_every_change_is_in_the_audit_log_with_before_and_after(client, page, core, editor_a):
    client.force_login(editor_a)
    add(client, page, "Search", core)
    search = component(page, "Search")
    client.post(
        url("component-edit", page, component_code=search.code),
        {"name": "Search API", "group": core.code},
    )
    client.post(url("component-move", page, component_code=search.code), {"direction": "up"})
    client.post(url("component-delete", page, component_code=search.code))
    client.post(url("group-create", page), {"name": "Edge"})
    edge = page.groups.get(name="Edge")
    client.post(url("group-edit", page, group_code=edge.code), {"name": "Network"})
    client.post(url("group-move", page, group_code=edge.code), {"direction": "up"})
    client.post(url("group-delete", page, group_code=edge.code))

    entries = list(AuditLogEntry.objects.filter(page=page).order_by("id"))
    assert [e.action for e in entries] == [
        "component.create",
        "component.update",
        "component.move",
        "component.delete",
        "group.create",
        "group.update",
        "group.move",
        "group.delete",
    ]
    assert all(e.actor == editor_a and e.tenant == page.tenant for e in entries)
    create, update, move, delete = entries[:4]
    assert create.after["name"] == "Search" and create.after["group"] == core.code
    assert create.object_code == search.code
    assert (update.before["name"], update.after["name"]) == ("Search", "Search API")
    assert update.before["showcase"] is True and update.after["showcase"] is False
    assert (move.before, move.after) == ({"position": 2}, {"position": 1})
    assert delete.before["name"] == "Search API" and delete.after is None
    assert entries[5].before["name"] == "Edge" and entries[5].after["name"] == "Network"
    assert entries[7].object_repr == "Network"


# Roles and tenants


def test_viewer_sees_components_without_any_edit_control(client, page, viewer_a):
    client.force_login(viewer_a)
    html = client.get(url("components", page)).text
    assert console_names(html) == ["API", "Website"]
    assert "Operational" in html
    for control in ["<form", "<select", "Add a component", "Add a group", "Edit", "Delete", "↑"]:
        assert control not in html.split('<div class="console-main">')[1], control


def every_route(page, component, group):
    """(method, url) of each of this area's routes for `page`, with these object codes."""
    c, g = {"component_code": component.code}, {"group_code": group.code}
    return [
        ("get", url("components", page)),
        ("get", url("component-create", page)),
        ("post", url("component-create", page)),
        ("get", url("component-edit", page, **c)),
        ("post", url("component-edit", page, **c)),
        ("get", url("component-delete", page, **c)),
        ("post", url("component-delete", page, **c)),
        ("post", url("component-move", page, **c)),
        ("post", url("component-status", page, **c)),
        ("get", url("group-create", page)),
        ("post", url("group-create", page)),
        ("get", url("group-edit", page, **g)),
        ("post", url("group-edit", page, **g)),
        ("get", url("group-delete", page, **g)),
        ("post", url("group-delete", page, **g)),
        ("post", url("group-move", page, **g)),
    ]


CHANGE = {"name": "Hacked", "direction": "down", "status": "major_outage", "collapsed": "on"}


def test_viewer_gets_403_on_every_change(client, page, core, viewer_a):
    client.force_login(viewer_a)
    before = state(page)
    api = component(page, "API")
    for method, route in every_route(page, api, core):
        if route == url("components", page):
            continue
        response = getattr(client, method)(route, CHANGE if method == "post" else None)
        assert response.status_code == 403, (method, route)
    assert state(page) == before
    assert not AuditLogEntry.objects.exists()


def test_another_tenants_owner_gets_404_everywhere_and_changes_nothing(
    client, page, core, tenant_b, owner_b
):
    client.force_login(owner_b)
    before = state(page)
    b_before = state(tenant_b.page)
    api = component(page, "API")
    # A's page with A's codes, and B's own page with A's codes.
    codes = (api.code, core.code)
    routes = every_route(page, api, core) + [
        (method, route)
        for method, route in every_route(tenant_b.page, api, core)
        if any(code in route for code in codes)
    ]
    for method, route in routes:
        for headers in [{}, HTMX]:
            data = CHANGE if method == "post" else None
            response = getattr(client, method)(route, data, headers=headers)
            assert response.status_code == 404, (method, route)
    assert state(page) == before
    assert state(tenant_b.page) == b_before
    assert not AuditLogEntry.objects.exists()


def test_the_console_needs_sign_in(client, page, core):
    api = component(page, "API")
    for method, route in every_route(page, api, core):
        response = getattr(client, method)(route)
        assert response.status_code == 302, route
        assert response.url.startswith("/accounts/login/")
