"""A view doing the least Django can: return precomputed bytes, read once per process."""

import os
from pathlib import Path

from django.http import Http404, HttpResponse

# Written by bench/run.py before the first request: <name>.html, the bytes of a public page.
BODIES_DIR = os.environ.get("BENCH_BODIES_DIR", "")
_bodies = {}


def bare(request, name):
    body = _bodies.get(name)
    if body is None:
        file = Path(BODIES_DIR, f"{name}.html")
        if not BODIES_DIR or not file.is_file():
            raise Http404("No such body")
        body = _bodies[name] = file.read_bytes()
    return HttpResponse(body, content_type="text/html; charset=utf-8")
