"""`Idempotency-Key` on the management API's POST and PATCH: a client that lost an answer sends
the request again and gets the first answer, and nothing is written or notified twice."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents.models import Incident
from notifications.models import NotificationEvent
from status.models import ApiKey, AuditLogEntry, IdempotentRequest
from status.tasks import prune

DECLARE = {"incident": {"name": "Payments failing", "status": "investigating", "body": "Looking."}}


@pytest.fixture
def send(tenant_a):
    _key, secret = ApiKey.issue(tenant_a, "Retrying client")
    http = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")

    def send(method, path, body, key=None, page=tenant_a.page):
        headers = {"Idempotency-Key": key} if key is not None else {}
        return getattr(http, method)(
            f"/api/v1/pages/{page.code}/{path}",
            data=json.dumps(body),
            content_type="application/json",
            headers=headers,
        )

    return send


def test_a_retried_post_gets_the_first_answer_and_writes_once(send, tenant_a):
    first = send("post", "incidents", DECLARE, key="declare-1")
    again = send("post", "incidents", DECLARE, key="declare-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Incident.objects.filter(page=tenant_a.page).count() == 1
    assert NotificationEvent.objects.filter(page=tenant_a.page).count() == 1
    assert AuditLogEntry.objects.filter(action="incident.create").count() == 1


def test_a_retried_patch_posts_its_update_once(send, tenant_a):
    incident = Incident.declare(tenant_a.page, name="Slow", notify=False)
    resolve = {"incident": {"status": "resolved", "body": "Fixed."}}

    first = send("patch", f"incidents/{incident.code}", resolve, key="resolve-1")
    again = send("patch", f"incidents/{incident.code}", resolve, key="resolve-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert incident.updates.count() == 2


def test_without_a_key_every_post_writes(send, tenant_a):
    send("post", "incidents", DECLARE)
    send("post", "incidents", DECLARE)
    assert Incident.objects.filter(page=tenant_a.page).count() == 2


def test_the_same_key_with_another_body_is_refused(send, tenant_a):
    send("post", "incidents", DECLARE, key="k")
    other = {"incident": {**DECLARE["incident"], "name": "Something else"}}

    response = send("post", "incidents", other, key="k")

    assert response.status_code == 422
    assert response.json()["error"] == "unprocessable_entity"
    assert "another request" in response.json()["message"]
    assert Incident.objects.filter(page=tenant_a.page).count() == 1


def test_a_refused_request_is_not_remembered(send, tenant_a):
    bad = send("post", "incidents", {"incident": {"name": ""}}, key="fix-and-retry")
    good = send("post", "incidents", {"incident": {"name": "Now right"}}, key="fix-and-retry")

    assert bad.status_code == 422
    assert good.status_code == 201
    assert not IdempotentRequest.objects.filter(status_code__gte=400).exists()


def test_keys_are_per_tenant(send, tenant_a, tenant_b):
    _key, secret_b = ApiKey.issue(tenant_b, "B")
    b = Client(HTTP_AUTHORIZATION=f"OAuth {secret_b}")
    send("post", "incidents", DECLARE, key="shared")

    response = b.post(
        f"/api/v1/pages/{tenant_b.page.code}/incidents",
        data=json.dumps(DECLARE),
        content_type="application/json",
        headers={"Idempotency-Key": "shared"},
    )

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Incident.objects.filter(page=tenant_b.page).count() == 1


def test_a_key_is_remembered_for_a_day(send, tenant_a, time_machine):
    time_machine.move_to(timezone.now())
    send("post", "incidents", DECLARE, key="daily")
    time_machine.shift(timedelta(hours=23))
    assert send("post", "incidents", DECLARE, key="daily")["Idempotent-Replayed"] == "true"
    time_machine.shift(timedelta(hours=2))

    later = send("post", "incidents", DECLARE, key="daily")

    assert later.status_code == 201 and "Idempotent-Replayed" not in later
    assert Incident.objects.filter(page=tenant_a.page).count() == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\there"])
def test_a_malformed_key_is_a_clear_400(send, tenant_a, key):
    response = send("post", "incidents", DECLARE, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["message"]
    assert not Incident.objects.filter(page=tenant_a.page).exists()


def test_old_answers_are_pruned(send, time_machine):
    time_machine.move_to(timezone.now())
    send("post", "incidents", DECLARE, key="old")
    time_machine.shift(timedelta(hours=25))
    assert prune()["idempotency_keys"] == 1
    assert not IdempotentRequest.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_key_sent_twice_at_once_writes_once(tenant_a):
    _key, secret = ApiKey.issue(tenant_a, "Impatient client")
    start = threading.Barrier(2)
    answers = []

    def post():
        try:
            start.wait()
            response = Client(HTTP_AUTHORIZATION=f"OAuth {secret}").post(
                f"/api/v1/pages/{tenant_a.page.code}/incidents",
                data=json.dumps(DECLARE),
                content_type="application/json",
                headers={"Idempotency-Key": "at-once"},
            )
            answers.append((response.status_code, response.get("Idempotent-Replayed")))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One wrote; the other waited for it and got its answer, or was told to ask again.
    assert sorted(answers, key=str) in (
        [(201, None), (201, "true")],
        [(201, None), (409, None)],
    )
    assert Incident.objects.filter(page=tenant_a.page).count() == 1
