import os

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from status.models import Role
from tests.dns import LocalDns
from tests.factories import make_page, make_tenant
from tests.notifications.servers import FakeTwilio
from tests.services import need


def pytest_runtest_setup(item):
    """Tests that need a real server: skipped without it, except in CI where that fails."""
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        need("PostgreSQL (run the suite through `make test`)")
    if item.get_closest_marker("redis") and not os.environ.get("TEST_REDIS_URL"):
        need("Redis (TEST_REDIS_URL; run the suite through `make test`)")


@pytest.fixture(scope="session")
def local_dns():
    """The DNS every test asks (custom domains' TXT records): a server of our own on 127.0.0.1,
    never the machine's resolver."""
    server = LocalDns().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _site(settings, local_dns):
    # One DNS server for the session, its records each test's own: tenant A's page publishes a
    # new challenge each time, and a name with hundreds of TXT records no longer fits a UDP
    # answer (the lookup would go on over TCP, which this server does not answer).
    local_dns.clear()
    settings.DNS_RESOLVER = local_dns.address
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "testserver"]
    settings.SITE_URL = "http://testserver"
    # Hashing is not what these tests are about; the default hasher makes each user cost ~0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def twilio(settings):
    """A local fake of Twilio's Messages API (tests/notifications/servers.py) that this process
    sends SMS to, with local receivers allowed."""
    fake = FakeTwilio().start()
    for name, value in fake.settings().items():
        setattr(settings, name, value)
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    yield fake
    fake.stop()


@pytest.fixture
def tenant_a(db, local_dns):
    """Tenant A with an owner, an editor and a viewer, and one page with two components: a
    customer the platform trusts (tenant B, the outsider, is a new one)."""
    tenant = make_tenant(
        "Alpha", "alpha", [(f"a-{role.value}", role) for role in Role], trusted=True
    )
    # Its custom domain is proved, and its TXT record published (tests/status/test_domains.py
    # proves one from the start).
    tenant.page = make_page(
        tenant, "alpha", custom_domain="status.alpha.example", domain_verified_at=timezone.now()
    )
    local_dns.publish(tenant.page.domain_challenge_name, tenant.page.domain_challenge_value)
    return tenant


@pytest.fixture
def tenant_b(db):
    """Tenant B and its owner: the outsider."""
    tenant = make_tenant("Bravo", "bravo", [("b-owner", Role.OWNER)])
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


# Tenant A's page and what tests/factories.py's make_page puts in it


@pytest.fixture
def page(tenant_a):
    return tenant_a.page


@pytest.fixture
def api(page):
    return page.components.get(name="API")


@pytest.fixture
def website(page):
    return page.components.get(name="Website")


@pytest.fixture
def core(page):
    return page.groups.get(name="Core")
