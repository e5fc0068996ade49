"""gunicorn's settings for a Heliograph web node: `gunicorn config.wsgi -c deploy/gunicorn.conf.py`.

Every value can be changed on the command line or by gunicorn's own environment variables
(GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000", WEB_CONCURRENCY=8). Sync workers, behind nginx:
nginx buffers slow clients and request bodies, so a worker is busy only while Django works.
"""

import multiprocessing
import os
import socket
import struct

from prometheus_client import multiprocess

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# A public page is served from the cache in well under a millisecond of Python and an
# uncached one is CPU-bound: two workers a core keep the CPUs busy while one waits on SQL.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2)
worker_class = "sync"
timeout = 30
graceful_timeout = 30
# Recycle workers now and then (a leak costs nothing), not all at once.
max_requests = 20_000
max_requests_jitter = 2_000
# The proxy's address: X-Forwarded-Proto from it sets wsgi.url_scheme. Django reads the same
# header itself with SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# nginx logs every request (with its cache status and request id); gunicorn logs errors.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR (several workers a node, status/observability.py), a
    dead worker's gauges are dropped from what /metrics adds up."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


# A node killed mid-request (kill -9, a lost machine): nginx retries a GET on another node only
# if nothing of the answer has reached it yet. So each answer is held back in the kernel until
# it is complete (TCP_CORK: up to a segment, 64 kB on loopback, or 200 ms), and until then the
# socket is set to be reset, not closed, when the process dies (SO_LINGER 0), which throws the
# held-back bytes away: nginx sees a reset before any header and tries the next node. Once the
# answer is written, both are undone and the socket closes as usual. (Linux; elsewhere, and for
# larger answers, a node dying mid-answer cuts that answer short.)
CORK = getattr(socket, "TCP_CORK", None)
RESET_ON_DEATH = struct.pack("ii", 1, 0)
CLOSE_AS_USUAL = struct.pack("ii", 0, 0)


def client_socket(req):
    return getattr(getattr(req, "unreader", None), "sock", None)


def pre_request(worker, req):
    sock = client_socket(req)
    if CORK is None or sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_DEATH)
        sock.setsockopt(socket.IPPROTO_TCP, CORK, 1)
    except OSError:
        pass


def post_request(worker, req, environ, resp):
    sock = client_socket(req)
    if CORK is None or sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, CORK, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, CLOSE_AS_USUAL)
    except OSError:
        pass
