"""A local HTTP receiver on 127.0.0.1 for the webhook and Slack sinks: records what arrives, and can fail
the first N requests (with a chosen status, or by dropping the connection) or be down altogether."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


class Receiver:
    def __init__(self, fail_first: int = 0, fail_status: int = 503, retry_after: str | None = None,
                 port: int = 0) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.requests: list[dict] = []  # every request, failed or not
        self.received: list[dict] = []  # bodies accepted (2xx)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers)})
                    failing = len(receiver.requests) <= receiver.fail_first
                    if not failing:
                        receiver.received.append({"path": self.path, "headers": dict(self.headers),
                                                  "json": orjson.loads(body), "body": body})
                self.send_response(receiver.fail_status if failing else 200)
                if failing and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks/T0SECRET/B0SECRET/XXXXSECRETXXXX") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
