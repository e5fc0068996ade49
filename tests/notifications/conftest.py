import shutil
import sys
from pathlib import Path

from tests.services import need


def pytest_runtest_setup(item):
    """A real worker needs its `celery` command, and the Redis test its own redis-server."""
    if item.get_closest_marker("celery"):
        if not Path(sys.executable).with_name("celery").exists():
            need("the celery command beside the test's Python")
        if not shutil.which("redis-server"):
            need("redis-server")
