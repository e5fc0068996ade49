"""Django's Redis cache backend, made an accelerator that can fail.

PostgreSQL is the truth and Redis only makes reads cheaper, so every cache call survives Redis
being down, slow or restarted empty: a failed read is a miss, a failed write is skipped, and
the caller never sees an error. Sockets time out quickly (REDIS_SOCKET_TIMEOUT), and after a
failure the cache is left alone for CACHE_RETRY_SECONDS, so an outage costs one short timeout
now and then instead of one per call.

It also keeps its redis.Redis clients: Django builds a new one for every cache call, and
building one (its table of response callbacks) costs more than the GET it is for. Cache
instances are per thread, so one client per connection pool is safe.
"""

import logging
import time

from django.conf import settings
from django.core.cache.backends import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(
                    self._servers[index], **self._pool_options
                )
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client


class Outage:
    """Whether Redis failed recently, shared by the process's cache instances (one a thread)."""

    down_until = 0.0

    @classmethod
    def is_on(cls):
        return time.monotonic() < cls.down_until

    @classmethod
    def begin(cls, error):
        if not cls.is_on():
            log.warning("cache unreachable, serving from the database: %s", error)
        cls.down_until = time.monotonic() + settings.CACHE_RETRY_SECONDS


def tolerant(method, failed):
    """`method`, answering `failed(*args, **kwargs)` instead of raising when Redis fails."""

    def call(self, *args, **kwargs):
        if Outage.is_on():
            return failed(*args, **kwargs)
        try:
            return method(self, *args, **kwargs)
        except (RedisError, OSError) as error:
            Outage.begin(error)
            return failed(*args, **kwargs)

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


def missing_key(*args, **kwargs):
    # What incr() says of a key it does not find: callers then set it (which fails quietly).
    raise ValueError("the cache is unreachable")


def default_of_get(key, default=None, version=None):
    return default


Base = redis.RedisCache


class RedisCache(Base):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    get = tolerant(Base.get, default_of_get)
    get_many = tolerant(Base.get_many, lambda *a, **k: {})
    has_key = tolerant(Base.has_key, lambda *a, **k: False)
    add = tolerant(Base.add, lambda *a, **k: False)
    set = tolerant(Base.set, lambda *a, **k: None)
    set_many = tolerant(Base.set_many, lambda keys, *a, **k: list(keys))
    touch = tolerant(Base.touch, lambda *a, **k: False)
    delete = tolerant(Base.delete, lambda *a, **k: False)
    delete_many = tolerant(Base.delete_many, lambda *a, **k: None)
    incr = tolerant(Base.incr, missing_key)
    clear = tolerant(Base.clear, lambda *a, **k: False)
