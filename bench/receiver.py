"""A webhook receiver for the benchmark, fast enough not to be what limits it.

`FastReceiver(processes=2).start()` serves HTTP/1.1 with keep-alive on 127.0.0.1 from several
processes sharing one port (SO_REUSEPORT), each a lean asyncio protocol: it reads each request
(headers and the Content-Length body), answers `200 OK` and counts it, with its webhook-id, so
that duplicates show. It is no general HTTP server (no chunked bodies, no TLS): only what a
webhook sender sends. `ceiling()` measures its own requests per second with wrk, so that a
reader sees which side of a run limits it.

    .venv/bin/python -m bench.receiver      # its ceiling alone
"""

import asyncio
import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.services import free_port

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
MAX_HEADERS = 64 * 1024


class Protocol(asyncio.Protocol):
    """One connection: requests read one after the other (pipelined ones too)."""

    def __init__(self, state):
        self.state = state
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADERS:
                    self.transport.close()
                return
            head = self.buffer[:end].decode("latin-1")
            request_line, *lines = head.split("\r\n")
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return  # the rest of the body is still on its way
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.state.received(request_line, headers, body)
            self.transport.write(ANSWER)
            if headers.get("connection", "").lower() == "close":
                self.transport.close()
                return


class State:
    """What one process received: every webhook-id it saw, and the requests when recording."""

    def __init__(self, record):
        self.record = record
        self.ids = Counter()
        self.count = 0
        self.requests = []

    def received(self, request_line, headers, body):
        self.count += 1
        self.ids[headers.get("webhook-id", "")] += 1
        if self.record:
            path = request_line.split(" ")[1] if " " in request_line else "/"
            self.requests.append((path, headers, body))

    def clear(self):
        self.ids.clear()
        self.count = 0
        self.requests = []


def serve(port, control, record):
    """One receiver process: serve on `port` (shared) and answer the parent on `control`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    state = State(record)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    loop = asyncio.new_event_loop()

    def command():
        what = control.recv()
        if what == "stats":
            control.send((state.count, dict(state.ids)))
        elif what == "requests":
            control.send(state.requests)
        elif what == "clear":
            state.clear()
            control.send(True)
        elif what == "stop":
            control.send(True)
            loop.stop()

    loop.add_reader(control.fileno(), command)
    server = loop.run_until_complete(loop.create_server(lambda: Protocol(state), sock=sock))
    control.send("ready")
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.close()


class FastReceiver:
    """Several receiver processes on one port; `record` keeps every request (path, headers,
    body) for the benchmark to replay and to verify their signatures."""

    def __init__(self, processes=2, record=True):
        self.port = free_port()
        self.processes = processes
        self.record = record
        self.children = []

    def start(self):
        context = multiprocessing.get_context("spawn")
        for _ in range(self.processes):
            parent, child = context.Pipe()
            process = context.Process(
                target=serve, args=(self.port, child, self.record), daemon=True
            )
            process.start()
            self.children.append((process, parent))
        for _process, pipe in self.children:
            if not pipe.poll(30) or pipe.recv() != "ready":
                raise RuntimeError("the receiver did not start")
        return self

    def ask(self, what):
        answers = []
        for _process, pipe in self.children:
            pipe.send(what)
        for _process, pipe in self.children:
            answers.append(pipe.recv())
        return answers

    def stats(self):
        """(requests received, distinct webhook-ids, requests that repeated an id)."""
        ids = Counter()
        count = 0
        for received, seen in self.ask("stats"):
            count += received
            ids.update(seen)
        return count, len(ids), sum(n - 1 for n in ids.values())

    def count(self):
        return self.stats()[0]

    @property
    def requests(self):
        return [request for answer in self.ask("requests") for request in answer]

    def clear(self):
        self.ask("clear")

    def stop(self):
        with contextlib.suppress(OSError, EOFError):
            self.ask("stop")
        for process, pipe in self.children:
            process.join(5)
            if process.is_alive():
                process.kill()
            pipe.close()
        self.children = []

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def ceiling(self, body, headers, seconds=5, connections=16):
        """Requests per second wrk gets from this receiver: POSTs of `body` with `headers` over
        `connections` kept-alive connections from one wrk thread. None without wrk."""
        wrk = shutil.which("wrk")
        if wrk is None:
            return None
        lines = ["wrk.method = 'POST'", f"wrk.body = {lua_string(body.decode())}"]
        lines += [
            f"wrk.headers[{lua_string(name)}] = {lua_string(value)}"
            for name, value in headers.items()
            if name.lower() not in ("host", "content-length", "connection")  # wrk's own
        ]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write("\n".join(lines) + "\n")
        try:
            output = subprocess.run(  # noqa: S603 (our own command)
                [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name,
                 self.url("/ceiling")],
                capture_output=True, text=True, timeout=seconds + 30, check=True,
            ).stdout  # fmt: skip
        finally:
            Path(script.name).unlink(missing_ok=True)
        for line in output.splitlines():
            if line.startswith("Requests/sec:"):
                return float(line.split()[1])
        return None


def lua_string(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def main():
    receiver = FastReceiver(processes=int(os.environ.get("PROCESSES", 2)), record=False).start()
    try:
        body = b'{"meta": {}, "page": {}, "incident": {}}' * 40
        headers = {"content-type": "application/json", "webhook-id": "msg_x"}
        started = time.perf_counter()
        rate = receiver.ceiling(body, headers)
        print(f"receiver ceiling: {rate:,.0f} requests/s ({time.perf_counter() - started:.1f} s)")
        print("received", receiver.stats())
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
