"""A local stand-in for the Kustomer and Segment APIs, to try delivery without credentials.

Listens on 127.0.0.1 only and keeps everything in memory:

- ``GET /v1/customers/email=E`` or ``/externalId=X``: 200 ``{"data": {"id"}}`` for a customer
  created earlier (or added to ``customers``), else 404.
- ``POST /v1/customers``: creates one (201); ``PUT /v1/customers/ID``: 200.
- ``POST /v1/batch``: 400 when the body is over ``max_batch_bytes``, else 200.
- any other POST: 200.
- with ``keys`` given, a request whose Authorization header is not one of them: 401.

``plan(method, path, answer, ...)`` makes the next matching requests get those answers first:
``(status, headers, body)``, ``"hang"`` (no answer until ``hang_seconds`` pass) or ``"close"``
(the connection is closed without an answer).

Run it (``python examples/fake_api.py [PORT]``) and point a destination's settings at it
(``baseEndpoint: http://127.0.0.1:PORT``, or ``endpoint: http://127.0.0.1:PORT/v1``); or start it
from Python with ``start()``, which returns its URL.
"""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

Answer = Any  # (status, headers, body) | "hang" | "close"


@dataclass
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class FakeAPI:
    def __init__(self, *, keys: set[str] | None = None, max_batch_bytes: int = 512_000,
                 hang_seconds: float = 5.0, port: int = 0) -> None:
        self.keys, self.max_batch_bytes, self.hang_seconds = keys, max_batch_bytes, hang_seconds
        self.customers: dict[str, str] = {}  # "email=E" / "externalId=X" -> id
        self.received: list[Received] = []
        self._plans: list[tuple[str, str, list[Answer]]] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> str:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.url

    def stop(self) -> None:
        self._released.set()  # hanging handlers end now
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAPI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def plan(self, method: str, path: str, *answers: Answer) -> None:
        """The next requests of ``method`` whose path starts with ``path`` get ``answers``, in order."""
        with self._lock:
            self._plans.append((method, path, list(answers)))

    def answer(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            for method, prefix, answers in self._plans:
                if answers and request.method == method and request.path.startswith(prefix):
                    return answers.pop(0)
            if self.keys is not None and request.header("Authorization") not in self.keys:
                return 401, {}, {"errors": [{"message": "unauthorized"}]}
            return self._route(request)

    def _route(self, request: Received) -> Answer:
        method, path = request.method, request.path
        if path.startswith("/v1/customers/") and method == "GET":
            found = self.customers.get(unquote(path.removeprefix("/v1/customers/")))
            return (200, {}, {"data": {"id": found}}) if found else (404, {}, {"errors": [{"message": "not found"}]})
        if path == "/v1/customers" and method == "POST":
            customer = json.loads(request.body)
            new_id = f"cust-{len(set(self.customers.values())) + 1}"
            for email in customer.get("emails", []):
                self.customers[f"email={email['email']}"] = new_id
            if "externalId" in customer:
                self.customers[f"externalId={customer['externalId']}"] = new_id
            return 201, {}, {"data": {"id": new_id}}
        if path.startswith("/v1/customers/") and method == "PUT":
            return 200, {}, {"data": {"id": path.removeprefix("/v1/customers/").partition("?")[0]}}
        if path == "/v1/batch" and len(request.body) > self.max_batch_bytes:
            return 400, {}, {"success": False, "error": f"batch over {self.max_batch_bytes} bytes"}
        if method == "POST":
            return 200, {}, {"success": True}
        return 405, {}, {}


def _handler(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
        disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

        def handle_one_request(self) -> None:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or not self.parse_request():
                self.close_connection = True
                return
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(self.command, self.path, list(self.headers.items()), self.rfile.read(length))
            answer = api.answer(request)
            if answer == "hang":
                api._released.wait(api.hang_seconds)
            if answer in ("hang", "close"):
                self.close_connection = True
                return
            status, headers, body = answer
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def start(**options: Any) -> str:
    """Start a FakeAPI in a background thread; its URL."""
    return FakeAPI(**options).start()


if __name__ == "__main__":
    server = FakeAPI(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8080)
    print(f"listening on {server.url} (Ctrl-C to stop)", file=sys.stderr)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        print(f"\n{len(server.received)} requests received", file=sys.stderr)
