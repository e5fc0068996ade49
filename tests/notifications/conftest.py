import shutil
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from notifications.models import Channel, Subscriber, SubscriberState
from tests.conftest import need


def pytest_runtest_setup(item):
    """A real worker needs its `celery` command, and the Redis test its own redis-server."""
    if item.get_closest_marker("celery"):
        if not Path(sys.executable).with_name("celery").exists():
            need("the celery command beside the test's Python")
        if not shutil.which("redis-server"):
            need("redis-server")


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


def subscriber(page, address, *, state=SubscriberState.CONFIRMED, components=(), groups=(),
               email=None):  # fmt: skip
    """An email subscriber, or a webhook one when `address` is a URL."""
    webhook = address.startswith("http")
    made = Subscriber.objects.create(
        page=page,
        channel=Channel.WEBHOOK if webhook else Channel.EMAIL,
        email=email or ("ops@example.com" if webhook else address),
        endpoint=address if webhook else "",
        state=state,
        confirmed_at=timezone.now() if state == SubscriberState.CONFIRMED else None,
    )
    made.components.set(components)
    made.groups.set(groups)
    return made
