"""The component rows built in Python (status/templatetags/component_rows.py) are the markup the
template loop they replace wrote, byte for byte, and bars remembered across renders follow the
history."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils import timezone

from status.models import Component, ComponentGroup, ComponentStatus
from tests.factories import make_component, make_outage, make_resolved_incident

# The status page's component section as a template loop, before it became
# templates/public/_components.html.
LOOP = """{% load heliograph %}  {% for group, components in sections %}
    {% if group %}
    <details class="component-group"{% if not group.collapsed %} open{% endif %}>
      <summary><span class="name">{{ group.name }}</span> {% status_label group.status %}</summary>
      {% if group.uptime %}
      <div class="uptime group-uptime">
        {% uptime_bars group.uptime group.name|add:" uptime, the worst of its components each day" group.day_incidents %}
        {% uptime_legend group.uptime %}
      </div>
      {% endif %}
      {% if group.description %}<p class="muted small">{{ group.description }}</p>{% endif %}
    {% else %}
    <div class="component-group">
    {% endif %}
      <ul class="components">{% for component in components %}
<li class="component">
  <div class="component-head">
    <span class="name">{{ component.name }}{% if component.description %} <span class="muted small">– {{ component.description }}</span>{% endif %}</span>
    {% status_label component.status %}
  </div>
  {% if component.uptime %}
  <div class="uptime">
    {% uptime_bars component.uptime component.name|add:" uptime, one bar per day" component.day_incidents %}
    {% uptime_legend component.uptime %}
  </div>
  {% endif %}
</li>
      {% endfor %}</ul>
    {% if group %}</details>{% else %}</div>{% endif %}
  {% endfor %}
"""  # noqa: E501


@pytest.fixture
def busy_page(tenant_a):
    """Groups and ungrouped components, names to escape, outages, incidents, a component
    without bars and one that started a few days ago."""
    page = tenant_a.page
    now = timezone.now()
    long_ago = now - timedelta(days=200)
    Component.objects.filter(page=page).update(created_at=long_ago)
    page.components.get(name="API").status_changes.update(started_at=long_ago)
    page.components.get(name="Website").status_changes.update(started_at=long_ago)
    edge = ComponentGroup.objects.create(page=page, name="Edge <eu>", position=1)
    cdn = make_component(
        page, name='CDN "fast" & <cheap>', group=edge, description="Images & <video>",
        created_at=long_ago,
    )  # fmt: skip
    make_component(page, name="Hidden bars", group=edge, showcase=False, created_at=long_ago)
    young = make_component(page, name="Young", created_at=now - timedelta(days=3, hours=5))
    api = page.components.get(name="API")
    make_outage(api, ComponentStatus.MAJOR_OUTAGE, now - timedelta(days=2), now - timedelta(days=1))
    make_outage(
        cdn, ComponentStatus.PARTIAL_OUTAGE, now - timedelta(days=9), now - timedelta(days=8)
    )
    make_outage(
        young,
        ComponentStatus.UNDER_MAINTENANCE,
        now - timedelta(hours=30),
        now - timedelta(hours=29),
    )
    incident = make_resolved_incident(page, "Slow <logins>", now - timedelta(days=2), minutes=60)
    incident.components.add(api)
    cdn.set_status(ComponentStatus.DEGRADED_PERFORMANCE)
    return page


def render_sections(client, page):
    response = client.get(f"/p/{page.slug}/")
    assert response.status_code == 200
    return response


@pytest.mark.django_db
def test_the_rows_are_the_template_loops_markup_byte_for_byte(client, busy_page):
    response = render_sections(client, busy_page)
    context = {name: response.context[name] for name in ("page", "sections")}
    built = render_to_string("public/_components.html", context)
    looped = engines["django"].from_string(LOOP).template.render(Context(context))

    assert built == looped.rstrip("\n")[2:]  # the include's indent and newline stay outside
    assert built in response.text
    assert "CDN &quot;fast&quot; &amp; &lt;cheap&gt;" in built
    assert "Slow &lt;logins&gt;" in built
    assert built.count('<ol class="uptime-days"') == 6  # 4 components, Core and Edge
    # Remembered bars give the same markup on the next render.
    assert render_to_string("public/_components.html", context) == built


def test_the_partial_is_included_where_the_loop_was():
    page = Path(__file__).resolve().parents[2] / "templates/public/status_page.html"
    assert '  {% include "public/_components.html" %}\n' in page.read_text()


@pytest.mark.django_db
def test_remembered_bars_follow_a_new_outage(client, busy_page):
    before = render_sections(client, busy_page).text
    website = busy_page.components.get(name="Website")
    now = timezone.now()
    make_outage(
        website,
        ComponentStatus.MAJOR_OUTAGE,
        now - timedelta(days=4),
        now - timedelta(days=3, hours=23),
    )
    busy_page.bump_version()
    after = render_sections(client, busy_page).text

    def website_bars(text):
        start = text.index('aria-label="Website uptime, one bar per day"')
        return text[start : text.index("</ol>", start)]

    assert website_bars(before).count("day-major_outage") == 0
    assert website_bars(after).count("day-major_outage") == 1
    assert "Major outage: 1 h" in website_bars(after)
