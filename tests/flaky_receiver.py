"""A webhook receiver on 127.0.0.1 that fails a share of requests in the ways real ones do: 5xx, 429 with
Retry-After, a response slower than the client's timeout (the alert is taken, the client has given up),
and a connection reset. It logs every request with the X-Trailhound-Alert-Id it carried, what it answered
and which client process sent it (found through /proc from the connection's port, so a test can tell a
duplicate caused by a killed sender from one that is not)."""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

# Outcome of one request. "ok" and "late" took the alert (a 2xx was written); "late" was written after
# the client's timeout, so the client counts it failed and sends again.
TAKEN = ("ok", "late")


@dataclass
class Request:
    at: float  # time.monotonic() when the body had been read
    alert_id: str
    event_id: str
    outcome: str  # ok | late | 500 | 503 | 429 | reset
    pid: int | None  # the sending process, when /proc could tell


@dataclass(frozen=True)
class FaultMix:
    """Shares of requests failed each way (the rest succeed)."""

    status_500: float = 0.05
    status_503: float = 0.10
    status_429: float = 0.10
    late: float = 0.08
    reset: float = 0.07
    late_by_s: float = 0.9  # more than the client's timeout
    retry_after: str = "1"

    @property
    def total(self) -> float:
        return self.status_500 + self.status_503 + self.status_429 + self.late + self.reset


class FlakyReceiver:
    def __init__(self, seed: int, mix: FaultMix, senders: Callable[[], list[int]] = list) -> None:
        """`senders`: the pids that may be sending (the test's watch processes), searched for the socket."""
        self.mix = mix
        self.faults = True  # False: every request succeeds (the drain at the end of a soak)
        self.requests: list[Request] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._senders = senders
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver: the pool reuses connections

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                pid = receiver._sender_of(self.client_address[1])
                outcome = receiver._decide()
                event_id = str(orjson.loads(body).get("EventID", ""))
                with receiver._lock:
                    receiver.requests.append(Request(time.monotonic(), self.headers.get("X-Trailhound-Alert-Id", ""),
                                                     event_id, outcome, pid))
                if outcome == "reset":  # RST, not FIN: the client sees "connection reset by peer"
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if outcome == "late":
                    time.sleep(receiver.mix.late_by_s)
                status = {"ok": 200, "late": 200, "500": 500, "503": 503, "429": 429}[outcome]
                try:
                    self.send_response(status)
                    if outcome == "429":
                        self.send_header("Retry-After", receiver.mix.retry_after)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    self.close_connection = True  # the client is gone (late answer): it was taken all the same

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T0SECRET/B0SECRET/XXXXSECRETXXXX"

    def _decide(self) -> str:
        with self._lock:
            roll = self._random.random()
        if not self.faults:
            return "ok"
        for outcome, share in (("500", self.mix.status_500), ("503", self.mix.status_503),
                               ("429", self.mix.status_429), ("late", self.mix.late), ("reset", self.mix.reset)):
            if roll < share:
                return outcome
            roll -= share
        return "ok"

    def _sender_of(self, client_port: int) -> int | None:
        """The pid among `senders` holding the client end of this connection (127.0.0.1:client_port)."""
        inode = _socket_inode(client_port, self.port)
        if inode is None:
            return None
        target = f"socket:[{inode}]"
        for pid in self._senders():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
            except OSError:
                continue
        return None

    def __enter__(self) -> FlakyReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _socket_inode(local_port: int, remote_port: int) -> int | None:
    """The inode of the IPv4 TCP socket 127.0.0.1:local_port -> 127.0.0.1:remote_port (/proc/net/tcp)."""
    want_local, want_remote = f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}"
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[1] == want_local and fields[2] == want_remote:
                    return int(fields[9])
    except OSError:
        return None
    return None
