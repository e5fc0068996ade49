"""Which internet addresses the platform calls on a tenant's behalf (webhook endpoints, monitors'
checks): public ones only, checked when a URL or host is saved and again when connecting, so a
name that later resolves somewhere private is refused then. `WEBHOOKS_ALLOW_PRIVATE_IPS` lifts
the rule for local development and tests."""

import ipaddress
import socket

from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

# Beyond what ipaddress calls non-global (and requests-hardened's own list): ranges that route
# to somebody's internals anyway.
EXTRA_BLOCKED_NETWORKS = [
    *EXTRA_BLOCKED_NET_RANGES,
    *(
        ipaddress.ip_network(net)
        for net in (
            "100.64.0.0/10",  # CGNAT (Alibaba's metadata service is 100.100.100.200)
            "192.0.0.0/24",  # IETF protocol assignments
            "192.88.99.0/24",  # 6to4 relay anycast
            "64:ff9b::/96",  # NAT64: an IPv4 address in disguise
            "64:ff9b:1::/48",
            "2002::/16",  # 6to4: likewise
            "fd00:ec2::254/128",  # AWS's IPv6 metadata service (also unique-local)
            "::/96",  # IPv4-compatible (deprecated): [::127.0.0.1] is loopback to some stacks
            "fec0::/10",  # site-local (deprecated, but still routed inside some networks)
        )
    ),
]


def is_public_address(address):
    """Whether an IP address is on the public internet: not private, loopback, link-local
    (169.254.169.254, the cloud metadata service), CGNAT, multicast or otherwise reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not any(ip in network for network in EXTRA_BLOCKED_NETWORKS)
    )


def resolve(host, port):
    """Every address `host` resolves to (the DNS seam)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


class PublicAddressAdapter(IPFilterAdapter):
    """requests-hardened's connect-time filter (it resolves the name once, refuses private
    addresses and connects to the address it checked), refusing also every address that
    is_public_address refuses when a URL is saved: IPv4-compatible (::/96) and site-local
    (fec0::/10) IPv6, reserved and multicast ranges, NAT64, 6to4."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        address = host_params["host"].strip("[]")
        if not is_public_address(address):
            raise InvalidIPAddress(address)
        return host_params, pool_kwargs
