"""Statuspage's JSON shapes of a page, its status, components and groups: one definition each,
used by the public API v2, the management API v1 and the webhook bodies.

Every object has Statuspage's keys in Statuspage's order, with null where we have nothing, so
clients written for Statuspage work unchanged (tests/api/test_public_api.py compares them with
real responses).
"""

from datetime import UTC

from status import domains
from status.models import worst_status


def timestamp(moment):
    """ISO 8601 in UTC with milliseconds, as Statuspage writes them: 2020-04-02T20:20:54.013Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_json(page):
    return {
        "id": page.code,
        "name": page.name,
        "url": page.public_url(),
        "time_zone": page.time_zone,
        "updated_at": timestamp(page.updated_at),
    }


def domain_verification_json(page):
    """The proof of the page's custom domain (ours; Statuspage has none): where it stands and
    the TXT record that proves it, as the console's settings show them; None without a custom
    domain."""
    status = domains.verification_status(page)
    if status is None:
        return None
    return {
        "status": status,
        "record_type": "TXT",
        "record_name": page.domain_challenge_name,
        "record_value": page.domain_challenge_value,
        "verified_at": timestamp(page.domain_verified_at),
        "checked_at": timestamp(page.domain_checked_at),
        "missing_since": timestamp(page.domain_missing_since),
    }


def status_json(overall):
    return {"indicator": overall.indicator, "description": overall.description}


def component_json(component, page, groups_by_id):
    group = groups_by_id.get(component.group_id)
    return {
        "id": component.code,
        "name": component.name,
        "status": component.status,
        "created_at": timestamp(component.created_at),
        "updated_at": timestamp(component.updated_at),
        "position": component.position,
        "description": component.description or None,
        "showcase": component.showcase,
        "start_date": component.start_date.isoformat() if component.start_date else None,
        "group_id": group.code if group else None,
        "page_id": page.code,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def group_json(group, members, page):
    return {
        "id": group.code,
        "name": group.name,
        "status": worst_status(c.status for c in members),
        "created_at": timestamp(group.created_at),
        "updated_at": timestamp(group.updated_at),
        "position": group.position,
        "description": group.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": page.code,
        "group": True,
        "only_show_if_degraded": False,
        "components": [c.code for c in members],
    }


def components_json(page, groups, components):
    """Groups and components in one flat list, in display order: ungrouped components, then
    each group followed by its members (Statuspage's components.json)."""
    groups_by_id = {g.pk: g for g in groups}
    items = [component_json(c, page, groups_by_id) for c in components if c.group_id is None]
    for group in groups:
        members = [c for c in components if c.group_id == group.pk]
        items.append(group_json(group, members, page))
        items.extend(component_json(c, page, groups_by_id) for c in members)
    return items
