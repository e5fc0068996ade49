import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from status.models import Component, ComponentStatus, ComponentStatusChange


def history_rows(component):
    return list(component.status_changes.order_by("started_at"))


def assert_contiguous(rows):
    open_rows = [row for row in rows if row.ended_at is None]
    assert len(open_rows) == 1
    assert rows[-1].ended_at is None
    for before, after in zip(rows, rows[1:], strict=False):
        assert before.ended_at == after.started_at


def test_a_new_component_starts_with_one_open_history_row(tenant_a):
    component = tenant_a.page.components.get(name="API")
    rows = history_rows(component)
    assert [(row.status, row.ended_at) for row in rows] == [("operational", None)]


def test_set_status_closes_the_open_row_and_opens_a_new_one(tenant_a):
    component = tenant_a.page.components.get(name="API")
    start = timezone.now()
    component.set_status(ComponentStatus.PARTIAL_OUTAGE, at=start + timedelta(minutes=1))
    component.set_status(ComponentStatus.MAJOR_OUTAGE, at=start + timedelta(minutes=5))
    component.set_status(ComponentStatus.OPERATIONAL, at=start + timedelta(minutes=9))

    rows = history_rows(component)
    assert [row.status for row in rows] == [
        "operational",
        "partial_outage",
        "major_outage",
        "operational",
    ]
    assert_contiguous(rows)
    assert rows[2].ended_at - rows[2].started_at == timedelta(minutes=4)
    component.refresh_from_db()
    assert component.status == "operational"


def test_setting_the_same_status_writes_nothing(tenant_a):
    component = tenant_a.page.components.get(name="API")
    assert component.set_status("operational") is False
    assert len(history_rows(component)) == 1


def test_a_change_cannot_be_dated_before_the_current_period(tenant_a):
    component = tenant_a.page.components.get(name="API")
    component.set_status("major_outage")
    with pytest.raises(ValueError, match="cannot be dated before"):
        component.set_status("operational", at=timezone.now() - timedelta(days=1))
    assert [row.status for row in history_rows(component)] == ["operational", "major_outage"]


def test_an_unknown_status_is_refused(tenant_a):
    component = tenant_a.page.components.get(name="API")
    with pytest.raises(ValueError):
        component.set_status("on_fire")
    assert len(history_rows(component)) == 1


def test_status_changes_bump_the_page_version(tenant_a):
    page = tenant_a.page
    page.refresh_from_db()
    before = page.version
    page.components.get(name="API").set_status("degraded_performance")
    page.refresh_from_db()
    assert page.version > before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_leave_one_open_row(tenant_a):
    component = tenant_a.page.components.get(name="API")
    statuses = ["degraded_performance", "partial_outage", "major_outage", "under_maintenance"] * 3
    barrier = threading.Barrier(len(statuses))
    errors = []

    def change(status):
        try:
            barrier.wait()
            Component.objects.get(pk=component.pk).set_status(status)
        except Exception as error:  # noqa: BLE001 (collected and asserted on below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=change, args=(status,)) for status in statuses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = list(
        ComponentStatusChange.objects.filter(component=component).order_by("started_at", "id")
    )
    assert_contiguous(rows)
    component.refresh_from_db()
    assert component.status == rows[-1].status
