"""A DNS server of the tests' own on 127.0.0.1 (dnslib), answering TXT records from a dict that
a test changes as it goes; settings.DNS_RESOLVER points the application at it."""

import threading

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


class Records(BaseResolver):
    def __init__(self):
        self.txt = {}  # name (no trailing dot) -> [strings]
        self.lock = threading.Lock()
        self.asked = []

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        with self.lock:
            self.asked.append(name)
            values = list(self.txt.get(name, []))
        if request.q.qtype == QTYPE.TXT and values:
            for value in values:
                reply.add_answer(RR(name + ".", QTYPE.TXT, rdata=TXT(value), ttl=60))
        elif not values:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LocalDns:
    def __init__(self):
        self.records = Records()
        # Port 0: the kernel picks a UDP port no socket holds (a TCP-free port may be a UDP one
        # still bound, and dnslib binds with SO_REUSEADDR: the queries could go to that socket).
        self.server = DNSServer(self.records, address="127.0.0.1", port=0)
        self.port = self.server.server.server_address[1]

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def publish(self, name, value):
        with self.records.lock:
            self.records.txt.setdefault(name.lower(), []).append(value)

    def clear(self):
        with self.records.lock:
            self.records.txt.clear()

    def withdraw(self, name):
        with self.records.lock:
            self.records.txt.pop(name.lower(), None)

    def start(self):
        self.server.start_thread()
        return self

    def stop(self):
        self.server.stop()
        # dnslib's stop() leaves the socket open; close it so that its port is free again.
        self.server.server.server_close()
