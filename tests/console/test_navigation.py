"""The console's navigation: every section, the current one marked, folded into a menu on a
phone (a <details>, no script) and listed in full on wider screens (the CSS chooses)."""

from tests.html import hrefs, visible


def test_the_navigation_lists_every_section_and_marks_the_current_one(client, tenant_a, viewer_a):
    page = tenant_a.page
    client.force_login(viewer_a)
    for path, current in [
        ("", "Overview"),
        ("incidents/", "Incidents"),
        ("incidents/new/", "Incidents"),
        ("components/", "Components"),
        ("deliveries/", "Subscribers"),
        ("integrations/", "Integrations"),
        ("monitors/", "Monitors"),
        ("metrics/", "Metrics"),
        ("api-keys/", "API keys"),
        ("audit/", "Audit log"),
    ]:
        response = client.get(f"/manage/{page.code}/{path}")
        if response.status_code == 403:  # a viewer may not open the declare form
            continue
        nav = visible(response).find("nav", class_="console-nav")
        links = nav.find("div", class_="console-links")
        assert [a.text for a in links.find_all("a")] == [
            "Overview", "Incidents", "Maintenance", "Components", "Templates", "Integrations",
            "Monitors", "Metrics", "Subscribers", "Team", "API keys", "Audit log", "Security",
            "Settings",
        ]  # fmt: skip
        assert [a.text for a in links.find_all("a", **{"aria-current": "page"})] == [current]
        assert f"/manage/{page.code}/audit/" in hrefs(links)

        menu = nav.find("details", class_="console-menu")
        assert "open" not in menu.attrs  # folded until tapped
        assert menu.find("summary").text == f"Menu: {current}"
        assert [a.text for a in menu.find_all("a")] == [a.text for a in links.find_all("a")]
        assert not nav.find_all("script")
