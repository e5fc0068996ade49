"""What the models recorded, read back in the shapes the tests compare."""

from notifications.models import NotificationEvent


def fresh(obj):
    """`obj` as it is saved now."""
    obj.refresh_from_db()
    return obj


def history(component):
    """(status, open?, cause) of each period of the component's history, oldest first."""
    return [
        (row.status, row.ended_at is None, row.incident)
        for row in component.status_changes.order_by("started_at", "id")
    ]


def event_kinds(page):
    """The kinds of the page's notification events, oldest first."""
    return list(
        NotificationEvent.objects.filter(page=page).order_by("id").values_list("kind", flat=True)
    )
