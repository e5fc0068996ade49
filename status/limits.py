"""Counting requests in the shared cache, for the rate limits of forms anyone can post
(sign-up, password reset, subscribe): each names its keys and limits."""

from django.core.cache import cache

RATE_WINDOW = 3600  # seconds


def over_limit(key, limit, window=RATE_WINDOW):
    """Count a request against `key`; True once more than `limit` came within the window."""
    key = f"ratelimit:{key}"
    if cache.add(key, 1, window):
        return limit < 1
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between the two calls
        cache.set(key, 1, window)
        return limit < 1
