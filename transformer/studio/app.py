"""The studio's web app: the page, its assets, and a small JSON API over a ``Workspace``.

Starlette (routing, requests, responses, static files) served by uvicorn, on 127.0.0.1 only. The
``Guard`` in front of every request is the safety line: a Host or Origin that is not this server's
own (DNS rebinding, another site's page posting here) is refused, a write must come from this
server's page, and no request body may pass ``MAX_BODY`` bytes.
"""
from __future__ import annotations

import json
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .workspace import StudioError, Workspace, field_trace

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 1 << 20  # a mapping file or an event: far below this; a bigger body is refused unread
LOOPBACK = "127.0.0.1"
_SAFE_METHODS = frozenset({"GET", "HEAD"})
# The page loads nothing from elsewhere, and no other page may frame it.
_CSP = b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_HEADERS = [(b"content-security-policy", _CSP),
            (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Guard:
    """ASGI middleware: answer 403 to a request whose Host or Origin is not ``hosts``, or a write
    without this server's Origin or from another site; 413 to a body over ``MAX_BODY``."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = frozenset(f"http://{host}" for host in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await JSONResponse({"error": refusal[1]}, refusal[0])(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, _bounded(receive), with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if headers.get("host") not in self.hosts:
            return 403, "this server answers only to its own address (Host)"
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return 403, "requests from other sites are refused (Origin)"
        if headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
            return 403, "requests from other sites are refused (Sec-Fetch-Site)"
        if scope["method"] not in _SAFE_METHODS and origin is None:
            return 403, "a change must come from the studio's page (no Origin)"
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            return 400, "bad Content-Length"
        if length > MAX_BODY:
            return 413, f"request bodies are limited to {MAX_BODY} bytes"
        return None


def _bounded(receive: Receive) -> Receive:
    """``receive`` that fails a body growing past ``MAX_BODY`` (one sent without a length)."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise StudioError(f"request bodies are limited to {MAX_BODY} bytes", 413)
        return message

    return bounded


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object (a write must say it is JSON: a plain form from elsewhere is not)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise StudioError("send JSON (Content-Type: application/json)", 415)
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise StudioError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StudioError("the body is a JSON object")
    return data


def create_app(workspace: Workspace, hosts: frozenset[str]) -> ASGIApp:
    """The studio's ASGI app over ``workspace``, answering only to ``hosts`` ("127.0.0.1:PORT")."""

    def state() -> dict[str, Any]:
        return {"destination": workspace.destination.name, "folder": str(workspace.folder),
                "fixtures_dir": str(workspace.fixtures_dir), "files": list(workspace.mapping_files()),
                "problems": workspace.problems,
                "fixtures": [{"name": r.name, "title": r.title, "status": r.status} for r in workspace.results]}

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def get_state(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(state))

    async def get_file(request: Request) -> Response:
        name = request.query_params.get("name")
        return JSONResponse({"name": name, "text": await run_in_threadpool(workspace.read, name)})

    async def put_file(request: Request) -> Response:
        data = await _body(request)
        await run_in_threadpool(workspace.save, data.get("name"), data.get("text"))
        return JSONResponse(await run_in_threadpool(state))

    async def explain(request: Request) -> Response:
        data = await _body(request)
        explained = await run_in_threadpool(workspace.explain, data.get("event"), data.get("settings"),
                                            data.get("lookups"))
        if "field" in data:  # one field's trace, as the page shows it when a field is clicked
            return JSONResponse({"field": data["field"], "trace": field_trace(explained, str(data["field"]))})
        fields = [{"field": f["field"], "result": f["result"]} for f in explained["fields"]]
        return JSONResponse({**explained, "fields": fields})

    async def get_fixture(request: Request) -> Response:
        return JSONResponse(workspace.detail(request.query_params.get("name")))

    async def accept(request: Request) -> Response:
        data = await _body(request)
        await run_in_threadpool(workspace.accept, data.get("name"))
        return JSONResponse(await run_in_threadpool(state))

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StudioError)
        return JSONResponse({"error": exc.message}, exc.status)

    app = Starlette(routes=[
        Route("/", page), Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/state", get_state), Route("/api/file", get_file),
        Route("/api/file", put_file, methods=["PUT"]), Route("/api/explain", explain, methods=["POST"]),
        Route("/api/fixture", get_fixture), Route("/api/accept", accept, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC)),
    ], exception_handlers={StudioError: refused})
    return Guard(app, hosts)


def bind(port: int) -> socket.socket:
    """A listening socket on the loopback address only (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    sock.listen(64)
    return sock


def hosts_for(port: int) -> frozenset[str]:
    return frozenset({f"{LOOPBACK}:{port}", f"localhost:{port}"})


def server(workspace: Workspace, sock: socket.socket) -> uvicorn.Server:
    """A uvicorn server for ``workspace`` on ``sock`` (run it with ``server.run(sockets=[sock])``)."""
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(workspace, hosts_for(port)), log_level="warning", limit_concurrency=64,
                            timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024)
    return uvicorn.Server(config)


def serve(workspace: Workspace, port: int = 0) -> int:
    """Serve the studio until Ctrl-C; the address is printed first."""
    sock = bind(port)
    print(f"transformer studio: {workspace.destination.name} from {workspace.folder}", file=sys.stderr)
    print(f"open http://{LOOPBACK}:{sock.getsockname()[1]}/  (Ctrl-C stops)", flush=True)
    server(workspace, sock).run(sockets=[sock])
    return 0
