"""A local HTTP server for feed tests: serves the real sample payloads from tests/fixtures/feeds
with ETag/Last-Modified (and 304s), and misbehaves on request (429/503 with Retry-After,
redirects, slow answers, endless bodies, HTML error pages). 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.local_http import serve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
LAST_MODIFIED = "Mon, 28 Apr 2025 04:00:00 GMT"


@dataclass
class FeedServer:
    routes: dict[str, bytes] = field(default_factory=dict)  # "path?query" or "path" -> body
    fail: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)  # path -> queued failures
    slow: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering

    def __post_init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def serve_fixture(self, path: str, name: str) -> str:
        self.routes[path] = (FIXTURES / name).read_bytes()
        return self.base_url + path

    def hits(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/redirect/{target:.*}", self._redirect)
        app.router.add_get("/endless", self._endless)
        app.router.add_get("/{path:.*}", self._serve)
        self._runner, root = await serve(app)
        self.base_url = root
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _log(self, request: web.Request) -> None:
        self.requests.append({
            "path": request.path,
            "query": dict(request.query),
            "user_agent": request.headers.get("User-Agent", ""),
            "if_none_match": request.headers.get("If-None-Match"),
            "if_modified_since": request.headers.get("If-Modified-Since"),
            "at": asyncio.get_running_loop().time(),
        })

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        path = request.path
        if path in self.slow:
            await asyncio.sleep(self.slow[path])
        queued = self.fail.get(path)
        if queued:
            status, headers = queued.pop(0)
            body = "<html><body><h1>Service Unavailable</h1></body></html>"
            return web.Response(status=status, text=body, content_type="text/html", headers=headers)
        body = self.routes.get(request.path_qs, self.routes.get(path))
        if body is None:
            return web.Response(status=404, text="<html>Not found</html>", content_type="text/html")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        kind = "application/json" if body.lstrip()[:1] in (b"[", b"{") else "application/xml"
        return web.Response(body=body, headers={"ETag": etag, "Last-Modified": LAST_MODIFIED, "Content-Type": kind})

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        raise web.HTTPFound("/" + request.match_info["target"])

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        """Streams without a Content-Length until the client gives up (a 50 MB+ body)."""
        self._log(request)
        response = web.StreamResponse(headers={"Content-Type": "application/xml"})
        await response.prepare(request)
        chunk = b"<x>" + b"a" * 65530 + b"</x>"
        try:
            for _ in range(800):  # ~52 MB at most
                await response.write(chunk)
        except (ConnectionResetError, RuntimeError):
            pass
        return response
