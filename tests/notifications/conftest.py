import shutil
import sys
from pathlib import Path

import pytest

from tests.notifications.real import Real
from tests.notifications.servers import FakeTwilio, Receiver, SmtpSink
from tests.services import need


def pytest_runtest_setup(item):
    """A real worker needs its `celery` command, and the Redis test its own redis-server."""
    if item.get_closest_marker("celery"):
        if not Path(sys.executable).with_name("celery").exists():
            need("the celery command beside the test's Python")
        if not shutil.which("redis-server"):
            need("redis-server")


@pytest.fixture(scope="module")
def real_servers():
    """An SMTP sink, an HTTP receiver and a fake Twilio for all the tests of a module (`real`
    clears them before each)."""
    servers = SmtpSink().start(), Receiver().start(), FakeTwilio().start()
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def real(real_servers, settings):
    """The real parts of one test (tests/notifications/real.py): its Redis database, the
    workers it starts (stopped at its end), the sink, the receiver and the fake Twilio."""
    sink, receiver, twilio = real_servers
    sink.clear()
    receiver.clear()
    twilio.clear()
    # This process (the fan-out's choice of channels) sees the same platform as the workers.
    for name, value in twilio.settings().items():
        setattr(settings, name, value)
    parts = Real(sink, receiver, twilio)
    yield parts
    parts.close()
