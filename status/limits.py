"""Counting requests in the shared cache, for the rate limits of forms anyone can post
(sign-up, password reset, subscribe): each names its keys and limits."""

import ipaddress

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


def client_key(request):
    """Who is asking, for a rate limit: the IPv4 address, or the /64 network of an IPv6 one
    (one subscriber line holds a whole /64, and may use any address in it)."""
    address = request.META.get("REMOTE_ADDR", "")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
