"""An Idempotency-Key with a form (multipart) body: a clear 4xx as without the key, not a 500.
(The NUL check at /hooks/ and the drafts' audit labels: tests/incidents/test_alert_queue.py and
test_alert_audit_labels.py.)"""

from django.test import Client

from status.models import ApiKey, IdempotentRequest


def test_idempotency_key_with_a_multipart_body_is_415_with_a_message(tenant_a):
    _key, secret = ApiKey.issue(tenant_a, "Form poster")
    http = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")
    response = http.post(
        f"/api/v1/pages/{tenant_a.page.code}/integrations",
        data={"integration": "x"},
        headers={"Idempotency-Key": "form-1"},
    )
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["message"]
    assert not IdempotentRequest.objects.exists()


def test_without_the_key_a_multipart_body_is_refused_alike(tenant_a):
    _key, secret = ApiKey.issue(tenant_a, "Form poster")
    http = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")
    response = http.post(
        f"/api/v1/pages/{tenant_a.page.code}/integrations", data={"integration": "x"}
    )
    assert 400 <= response.status_code < 500
    assert response.json()["message"]
