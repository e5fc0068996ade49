"""The OpenAPI schema is valid and served with its docs, and schemathesis, fuzzing every
operation with a valid key on a real page, finds no server error."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

from status.models import ApiKey

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()


def test_the_schema_is_served_as_openapi_3(client, db):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    data = response.json()
    assert data["openapi"].startswith("3.")
    assert "/api/v1/pages/{page_code}/incidents" in data["paths"]


def test_the_docs_use_local_assets_only(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg" not in html


@pytest.fixture
def fuzz_key(tenant_a, settings):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    return ApiKey.issue(tenant_a, "Fuzzer")[1]


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_a_server_error(case, fuzz_key, tenant_a):
    if "page_code" in case.path_parameters:
        case.path_parameters["page_code"] = tenant_a.page.code
    response = case.call(headers={"Authorization": f"OAuth {fuzz_key}"})
    assert response.status_code < 500, (case.method, case.formatted_path, case.body)
