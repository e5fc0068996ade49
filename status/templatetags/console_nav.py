"""The console's sections, for its navigation (templates/manage/base.html)."""

from dataclasses import dataclass

from django import template
from django.urls import reverse

register = template.Library()

# (label, URL name, the URL names under it: a name equal to one of these or starting with one
# followed by "-").
SECTIONS = [
    ("Overview", "manage:page", ["page"]),
    ("Incidents", "manage:incidents", ["incidents", "incident"]),
    ("Maintenance", "manage:maintenance", ["maintenance"]),
    ("Components", "manage:components", ["components", "component", "group"]),
    ("Templates", "manage:templates", ["templates", "template"]),
    ("Integrations", "manage:integrations", ["integrations", "integration"]),
    ("Monitors", "manage:monitors", ["monitors", "monitor"]),
    ("Metrics", "manage:metrics", ["metrics", "metric"]),
    ("Subscribers", "manage:subscribers", ["subscribers", "subscriber", "deliveries", "event",
                                           "delivery"]),
    ("Team", "manage:team", ["team", "member", "invite"]),
    ("API keys", "manage:api-keys", ["api-keys", "api-key"]),
    ("Audit log", "manage:audit", ["audit"]),
    ("Security", "manage:security", ["security"]),
    ("Settings", "manage:settings", ["settings"]),
]  # fmt: skip


@dataclass
class Section:
    label: str
    url: str
    current: bool


def under(url_name, names):
    return any(url_name == name or url_name.startswith(name + "-") for name in names)


@register.simple_tag(takes_context=True)
def console_sections(context, page):
    """[Section] of the console of `page`, the one the request is in marked current."""
    match = getattr(context.get("request"), "resolver_match", None)
    here = match.url_name if match else ""
    return [
        Section(label, reverse(name, kwargs={"page_code": page.code}), under(here or "", names))
        for label, name, names in SECTIONS
    ]
