"""A service stopped under load, seen from outside: what a platform's router, its readiness
probe and the clients meet between SIGTERM and the exit.

Shared by tests/api (`python -m api` with 1 and 2 workers) and tests/container (the image under
`docker stop`). The router behaves like Container Apps' (Kubernetes') readiness handling: it
probes /ready on a new connection every PROBE_PERIOD_S and keeps routing until FAILURE_THRESHOLD
probes in a row have failed; clients reuse keep-alive connections meanwhile.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.traffic import note, realistic_rows

PROBE_PERIOD_S = 0.1
# A kubelet's default is 3; 2 here, so that a busy test machine's slower probes still stop the
# routing well within the service's default drain of 3 s.
FAILURE_THRESHOLD = 2
PROBE_TIMEOUT_S = 5.0  # as the Container Apps readiness probe's timeoutSeconds
PAUSE_S, BATCH_PAUSE_S = 0.02, 0.2  # each client's pause between two requests
BATCH_ROWS = 10_000  # the service's default MAX_BATCH_ROWS: the largest request it accepts


def big_batch() -> bytes:
    """A /predict/batch body of BATCH_ROWS notes."""
    return json.dumps([note(row) for row in realistic_rows(BATCH_ROWS)]).encode()


@dataclass
class Outcome:
    """One request the router sent: when, and what came back (status, or the error)."""

    path: str
    started: float
    status: int | None = None
    error: str | None = None
    rows: int = 0  # predictions in a 200 answer


@dataclass
class Router:
    """Clients sending /predict and 10,000-row batches through keep-alive connections while a
    probe watches /ready; routing stops once the probe has failed FAILURE_THRESHOLD times."""

    url: str
    single_clients: int = 6
    batch_clients: int = 1
    outcomes: list[Outcome] = field(default_factory=list)
    probes: list[tuple[float, int | str]] = field(default_factory=list)
    routing: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Start routing traffic and probing."""
        self.routing.set()
        batch = big_batch()
        single = json.dumps(note([3.6, 8.7, -2.8, -0.4])).encode()
        for _ in range(self.single_clients):
            self._spawn(self._client, "/predict", single, 1)
        for _ in range(self.batch_clients):
            self._spawn(self._client, "/predict/batch", batch, BATCH_ROWS)
        self._spawn(self._probe)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _client(self, path: str, body: bytes, rows: int) -> None:
        headers = {"content-type": "application/json"}
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while self.routing.is_set():
                outcome = Outcome(path, time.monotonic())
                try:
                    response = client.post(path, content=body, headers=headers)
                    outcome.status = response.status_code
                    if response.status_code == 200:
                        # Counted in the bytes: parsing 10,000 answers would hold this process's
                        # GIL long enough to slow the probe thread down.
                        outcome.rows = response.content.count(b'"prediction":')
                except httpx.HTTPError as exc:
                    outcome.error = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.outcomes.append(outcome)
                # Busy, not saturated: a platform scales out before its replicas queue up,
                # and a saturated loop would answer the probe too late to judge anything.
                time.sleep(PAUSE_S if rows == 1 else BATCH_PAUSE_S)

    def _probe(self) -> None:
        failures = 0
        while not self._stop.is_set():
            at = time.monotonic()
            result: int | str
            try:
                # A new connection each time, as a kubelet's HTTP probe opens one.
                with httpx.Client(timeout=PROBE_TIMEOUT_S) as probe:
                    result = probe.get(f"{self.url}/ready").status_code
            except httpx.HTTPError as exc:
                result = type(exc).__name__
            self.probes.append((at, result))
            failures = 0 if result == 200 else failures + 1
            if failures >= FAILURE_THRESHOLD:
                self.routing.clear()
            self._stop.wait(max(0.0, PROBE_PERIOD_S - (time.monotonic() - at)))

    def wait_not_ready(self, timeout: float) -> None:
        """Block until the probe has seen /ready answer 503."""
        wait_for(lambda: any(r == 503 for _, r in self.probes), timeout, "/ready answering 503")

    def wait_unrouted(self, timeout: float) -> None:
        """Block until the router stopped sending (the probe failed often enough)."""
        deadline = time.monotonic() + timeout
        while self.routing.is_set():
            assert time.monotonic() < deadline, f"routing never stopped; probes: {self.probes}"
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop everything and wait for every client's last request to come back."""
        self.routing.clear()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)

    def answered(self) -> int:
        """How many requests came back 200 so far."""
        with self._lock:
            return sum(1 for o in self.outcomes if o.status == 200)

    def failed(self) -> list[Outcome]:
        """Every request that did not come back 200."""
        with self._lock:
            return [o for o in self.outcomes if o.status != 200]


class SlowRequest:
    """A POST whose body arrives in two parts, so it is in flight for as long as the test likes:
    headers and all but the last bytes now, the rest with `finish()`."""

    def __init__(self, host: str, port: int, path: str, body: bytes, held_back: int = 64) -> None:
        self._rest = body[-held_back:]
        self.sock = socket.create_connection((host, port), timeout=60)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.sock.sendall(head + body[:-held_back])

    def finish(self) -> tuple[int, dict[str, object]]:
        """Send the rest of the body; the status and JSON body of the answer."""
        self.sock.sendall(self._rest)
        data = b""
        while b"\r\n\r\n" not in data:
            data += _recv(self.sock)
        head, _, body = data.partition(b"\r\n\r\n")
        while len(body) < _content_length(head):
            body += _recv(self.sock)
        self.sock.close()
        answer: dict[str, object] = json.loads(body)
        return int(head.split(b" ", 2)[1]), answer


class KeepAlive:
    """One HTTP/1.1 connection kept open across the shutdown, to show requests on it are still
    answered during the drain."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=30)

    def get(self, path: str) -> int:
        """The status of one GET on this connection (the connection stays open)."""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += _recv(self.sock)
        head, _, body = data.partition(b"\r\n\r\n")
        while len(body) < _content_length(head):
            body += _recv(self.sock)
        return int(head.split(b" ", 2)[1])

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(1 << 16)
    assert chunk, "the server closed the connection without an answer"
    return chunk


def _content_length(head: bytes) -> int:
    match = re.search(rb"^content-length: *(\d+)", head, re.IGNORECASE | re.MULTILINE)
    assert match, head
    return int(match.group(1))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def assert_drained(router: Router, sigterm_at: float) -> None:
    """What the router saw around a SIGTERM at `sigterm_at` is a clean drain: no request
    failed, traffic was still answered after the signal, and /ready answered 503 (not a refused
    connection) first, and never 200 again."""
    assert router.failed() == [], router.failed()[:5]
    after = [o for o in router.outcomes if o.started >= sigterm_at]
    assert any(o.status == 200 for o in after), "nothing was answered after SIGTERM"
    assert router.answered() > len(after)  # and before it
    seen = [result for at, result in router.probes if at >= sigterm_at]
    not_ready = [result for result in seen if result != 200]
    assert not_ready, f"/ready never stopped answering 200: {seen}"
    assert not_ready[0] == 503, f"/ready went from 200 to {not_ready[0]}: {seen}"
    first = seen.index(503)
    assert 200 not in seen[first:], f"/ready was ready again after shutdown began: {seen}"
