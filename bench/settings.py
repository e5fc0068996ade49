"""Settings for `make bench`: the production settings, plus the bare view of bench/urls.py."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
