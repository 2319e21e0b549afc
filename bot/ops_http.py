"""The operator's HTTP endpoint (``CAREERBOT_HTTP_PORT``): ``/healthz`` and ``/metrics``.

``/healthz`` answers 200 when the process is up, the database takes a write, every platform
adapter is connected and no feed is unhealthy; otherwise 503 with a JSON body naming the
unhealthy parts, so a container runtime restarts a stuck bot and a person sees why.
When Slack runs in HTTP mode on the same port, these routes join Slack's own web app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from bot.app import App
from bot.clock import iso_utc
from bot.metrics import CONTENT_TYPE_LATEST

log = logging.getLogger("careerbot.http")

DB_TIMEOUT = 3.0

Adapters = Callable[[], Mapping[str, Any]]


async def health(app: App, adapters: Mapping[str, Any]) -> dict[str, Any]:
    checks: dict[str, str] = {"process": "ok"}
    try:
        async def write() -> None:
            async with app.db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('healthz', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (iso_utc(app.clock.now()),),
                )
        await asyncio.wait_for(write(), DB_TIMEOUT)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure here is the answer
        checks["database"] = f"not writable: {type(exc).__name__}: {exc}"[:200]
    for name, adapter in adapters.items():
        connected = getattr(adapter, "connected", None)
        ok = connected() if callable(connected) else True
        checks[name] = "ok" if ok else "not connected"
    try:
        rows = await app.db.fetchall("SELECT name, last_error FROM feed_sources WHERE status = 'unhealthy'")
        checks["sources"] = "ok" if not rows else "unhealthy: " + ", ".join(r["name"] for r in rows)
    except Exception as exc:  # noqa: BLE001
        checks["sources"] = f"unknown: {exc}"[:200]
    unhealthy = [part for part, state in checks.items() if state != "ok"]
    return {"status": "unhealthy" if unhealthy else "ok", "unhealthy": unhealthy, "checks": checks,
            "roles_held": app.roles_held()}  # which singletons (a platform's sender, the feed poller) run here


def routes(app: App, adapters: Adapters) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        body = await health(app, adapters())
        return web.json_response(body, status=503 if body["unhealthy"] else 200)

    async def metrics(request: web.Request) -> web.Response:
        await app.refresh_gauges()
        return web.Response(body=app.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/healthz", healthz), web.get("/metrics", metrics)]


class OpsServer:
    """Its own listener, used when Slack is not already serving HTTP on the same port."""

    def __init__(self, app: App, adapters: Adapters, host: str, port: int) -> None:
        self.web = web.Application()
        self.web.add_routes(routes(app, adapters))
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        log.info("health and metrics at %s/healthz and %s/metrics", self.url, self.url)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
