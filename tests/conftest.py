import os

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection

from status.models import Component, ComponentGroup, Membership, Page, Role, Tenant

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_runtest_setup(item):
    """Tests that need a real server: skipped without it, except in CI where that fails."""
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        need("PostgreSQL (run the suite through `make test`)")
    if item.get_closest_marker("redis") and not os.environ.get("TEST_REDIS_URL"):
        need("Redis (TEST_REDIS_URL; run the suite through `make test`)")


def need(what):
    if IN_CI:
        pytest.fail(f"this test needs {what}, and CI must not skip it")
    pytest.skip(f"needs {what}")


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "testserver"]
    settings.SITE_URL = "http://testserver"
    # Hashing is not what these tests are about; the default hasher makes each user cost ~0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def make_user(username, password="correct horse battery"):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=password
    )


def make_page(tenant, slug, **fields):
    page = Page.objects.create(
        tenant=tenant, name=fields.pop("name", slug.title()), slug=slug, **fields
    )
    group = ComponentGroup.objects.create(page=page, name="Core")
    Component.objects.create(page=page, group=group, name="API", position=0)
    Component.objects.create(page=page, group=group, name="Website", position=1)
    return page


@pytest.fixture
def tenant_a(db):
    """Tenant A with an owner, an editor and a viewer, and one page with two components."""
    tenant = Tenant.objects.create(name="Alpha", slug="alpha")
    for role in Role:
        user = make_user(f"a-{role.value}")
        Membership.objects.create(user=user, tenant=tenant, role=role)
    tenant.page = make_page(tenant, "alpha", custom_domain="status.alpha.example")
    return tenant


@pytest.fixture
def tenant_b(db):
    """Tenant B and its owner: the outsider."""
    tenant = Tenant.objects.create(name="Bravo", slug="bravo")
    Membership.objects.create(user=make_user("b-owner"), tenant=tenant, role=Role.OWNER)
    tenant.page = make_page(tenant, "bravo")
    return tenant


def member(tenant, role):
    return tenant.memberships.get(role=role).user


@pytest.fixture
def owner_a(tenant_a):
    return member(tenant_a, Role.OWNER)


@pytest.fixture
def editor_a(tenant_a):
    return member(tenant_a, Role.EDITOR)


@pytest.fixture
def viewer_a(tenant_a):
    return member(tenant_a, Role.VIEWER)


@pytest.fixture
def owner_b(tenant_b):
    return member(tenant_b, Role.OWNER)
