"""Values one process may trust for settings.PAGE_CACHE_LOCAL_SECONDS without asking the shared
cache (page versions, host and slug lookups). Nothing is kept when that is 0 (the embedded
default's cache is local memory already)."""

import time

from django.conf import settings


class LocalMemo:
    LIMIT = 10_000
    every = []  # all memos of the process, for clear_all()

    def __init__(self):
        self._values = {}  # key -> (value, monotonic deadline)
        LocalMemo.every.append(self)

    def get(self, key):
        if not settings.PAGE_CACHE_LOCAL_SECONDS:
            return None
        found = self._values.get(key)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def set(self, key, value):
        if not settings.PAGE_CACHE_LOCAL_SECONDS:
            return
        if len(self._values) > self.LIMIT:
            self._values.clear()
        self._values[key] = (value, time.monotonic() + settings.PAGE_CACHE_LOCAL_SECONDS)

    def pop(self, key):
        self._values.pop(key, None)

    def clear(self):
        self._values.clear()

    @classmethod
    def clear_all(cls):
        for memo in cls.every:
            memo.clear()
