"""``careerbot serve``: every configured platform, the scheduler, the outbox and the feed refreshers in one process.

Adapters are imported only when their credentials are set, so a Slack-only club never loads
discord.py. SIGINT and SIGTERM stop it cleanly: adapters disconnect first (no new work),
then the core's loops stop and the database closes.

``--roles`` splits the work among several processes on one PostgreSQL database:
``gateway`` connects the platforms' event streams (Discord's gateway, Slack Socket Mode),
``http`` serves the HTTP listeners (Slack's Events API and install pages, /healthz, /metrics),
``worker`` runs the scheduler (and stands for the feed poller), ``sender`` stands for each
platform's sender. Adapters are built in every process (a sender needs the platform's
transport), but only connect where their role is.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from bot.app import App
from bot.config import Config

log = logging.getLogger("careerbot.serve")

OpenApp = Callable[[Config], Awaitable[App]]


class Server:
    def __init__(self, config: Config, open_app: OpenApp, **adapter_options: Any) -> None:
        self.config = config
        self.open_app = open_app
        self.options = adapter_options  # e.g. discord={"guild_ready_timeout": 0.05} in tests
        self.app: App | None = None
        self.adapters: dict[str, Any] = {}
        self.ops: Any = None  # the /healthz + /metrics listener, when CAREERBOT_HTTP_PORT is set
        self.connected: dict[str, Any] = {}  # the adapters this process's roles connected

    async def start(self) -> None:
        self.app = app = await self.open_app(self.config)
        try:
            if self.config.discord_token:
                from bot.adapters.discord import DiscordAdapter

                self.adapters["discord"] = DiscordAdapter(app, self.config, **self.options.get("discord", {}))
            if "slack" in self.config.platforms:
                from bot.adapters.slack import SlackAdapter

                self.adapters["slack"] = SlackAdapter(app, self.config, **self.options.get("slack", {}))
            roles = self.config.roles
            inbound = {name: a for name, a in self.adapters.items() if self._role_of(a) in roles}
            shared = "slack" in inbound and self._ops_routes_on_slack(app)
            await app.start(background=True, roles=roles)
            if self.config.http_port is not None and not shared and "http" in roles:  # up first: /healthz tells "connecting"
                from bot.ops_http import OpsServer

                self.ops = OpsServer(app, lambda: self.connected, self.config.http_host, self.config.http_port)
                await self.ops.start()
            for name, adapter in inbound.items():
                await adapter.start()
                self.connected[name] = adapter
        except BaseException:
            await self.stop()
            raise

    @staticmethod
    def _role_of(adapter: Any) -> str:
        """Which role receives this adapter's events: a socket we open, or an HTTP endpoint we serve."""
        return "http" if getattr(adapter, "socket_mode", True) is False else "gateway"

    def _ops_routes_on_slack(self, app: App) -> bool:
        """Slack in HTTP mode on the same port already listens there: add /healthz and /metrics to it."""
        slack = self.adapters.get("slack")
        port = self.config.http_port
        if slack is None or port is None or not getattr(slack, "listens_http", not slack.socket_mode) or port != self.config.slack_port:
            return False
        from bot.ops_http import routes

        slack.extra_routes = routes(app, lambda: self.connected)
        return True

    async def stop(self) -> None:
        if self.ops is not None:
            await self.ops.close()
            self.ops = None
        for name, adapter in list(self.adapters.items()):
            try:
                await adapter.close()
            except Exception:  # keep closing the rest
                log.exception("closing the %s adapter failed", name)
        self.adapters.clear()
        self.connected.clear()
        if self.app is not None:
            await self.app.close()
            self.app = None

    async def run_until_stopped(self, stop: asyncio.Event | None = None) -> None:
        """Runs until SIGINT/SIGTERM (or ``stop`` is set), then shuts down in order."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread, or not Unix
                pass
        await self.start()
        names = ", ".join(self.connected) or "no platform events"
        roles = ",".join(r for r in ("gateway", "http", "worker", "sender") if r in self.config.roles)
        held = ", ".join(self.app.roles_held()) if self.app else ""
        log.warning("careerbot is serving %s (roles %s%s; database %s); Ctrl-C or SIGTERM stops it",
                    names, roles, f"; holding {held}" if held else "", self.config.db_label)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):
                    pass
            await self.stop()
