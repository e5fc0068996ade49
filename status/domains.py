"""Proof that a page's owner controls its custom domain: a DNS TXT record, as Statuspage, Vercel
and GitHub Pages ask for. The owner publishes

    _heliograph-challenge.<domain>  TXT  "heliograph-verification=<the page's token>"

and the domain serves nothing until that record is seen (Page.check_domain). It is looked up
again every hour (status.tasks.check_domains); a record gone for DOMAIN_RELEASE_DAYS releases
the domain, after its owners were told.

The resolver is the system's, or settings.DNS_RESOLVER ("host" or "host:port"), so that tests
answer from a DNS server of their own on 127.0.0.1.
"""

import dns.exception
import dns.resolver
from django.conf import settings

CHALLENGE_PREFIX = "_heliograph-challenge"
VALUE_PREFIX = "heliograph-verification="
LOOKUP_SECONDS = 3.0


def challenge_name(domain):
    return f"{CHALLENGE_PREFIX}.{domain}"


def challenge_value(token):
    return f"{VALUE_PREFIX}{token}"


def verification_status(page):
    """Where the proof of `page`'s custom domain stands, as the console and the API show it:
    "pending" (not seen yet: nothing is served there), "verified", "missing" (verified, but
    the record is gone: released after DOMAIN_RELEASE_DAYS), or None without a custom domain."""
    if not page.custom_domain:
        return None
    if not page.domain_verified_at:
        return "pending"
    return "missing" if page.domain_missing_since else "verified"


def resolver():
    if not settings.DNS_RESOLVER:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        host, _, port = settings.DNS_RESOLVER.partition(":")
        found.nameservers = [host]
        found.port = int(port or 53)
    found.lifetime = found.timeout = LOOKUP_SECONDS
    return found


class LookupFailed(Exception):
    """The DNS could not be asked (a timeout, no server): nothing can be concluded."""


def txt_values(name):
    """The strings of every TXT record at `name` ([] when there is none)."""
    try:
        answer = resolver().resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
        raise LookupFailed(str(error)) from error
    return [b"".join(record.strings).decode(errors="replace") for record in answer]
