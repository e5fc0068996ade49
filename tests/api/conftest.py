import json

import pytest
from django.test import Client

from status.models import ApiKey


class StatuspageClient:
    """Speaks the management API the way Statuspage's clients do: `Authorization: OAuth`,
    JSON bodies wrapped in the resource's key, paths under /api/v1/pages/<page>/."""

    def __init__(self, secret, page_code=None):
        self.http = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")
        self.page_code = page_code

    def url(self, path):
        if path.startswith("/"):
            return path
        return (
            f"/api/v1/pages/{self.page_code}/{path}" if path else f"/api/v1/pages/{self.page_code}"
        )

    def request(self, method, path, body=None, **query):
        kwargs = {}
        if body is not None:
            kwargs = {"data": json.dumps(body), "content_type": "application/json"}
        if query:
            kwargs["QUERY_STRING"] = "&".join(f"{k}={v}" for k, v in query.items())
        return getattr(self.http, method)(self.url(path), **kwargs)

    def get(self, path, **query):
        return self.request("get", path, **query)

    def post(self, path, body):
        return self.request("post", path, body)

    def patch(self, path, body):
        return self.request("patch", path, body)

    def put(self, path, body=None):
        return self.request("put", path, body)

    def delete(self, path):
        return self.request("delete", path)


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):
    settings.API_RATE_LIMIT_BURST = 10_000


@pytest.fixture
def key_a(tenant_a):
    return ApiKey.issue(tenant_a, "Automation")


@pytest.fixture
def key_b(tenant_b):
    return ApiKey.issue(tenant_b, "Outsider")


@pytest.fixture
def api_a(tenant_a, key_a):
    return StatuspageClient(key_a[1], tenant_a.page.code)


@pytest.fixture
def api_b(tenant_b, key_b):
    """Tenant B's key, pointed at tenant A's page."""
    return StatuspageClient(key_b[1])
