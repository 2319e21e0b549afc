"""Noticing writes made by another process, so a running bot acts on them within a second.

``careerbot feeds refresh`` (a cron job, or a moderator at a shell) queues posting alerts in the
same database the running bot reads; the console can schedule a digest there too. The running
bot's senders and scheduler sleep until their next known due time, so without a nudge such work
would wait up to an hour. SQLite's ``PRAGMA data_version`` changes on a connection exactly when
another connection has committed, so polling it once a second costs one tiny query and never
fires for our own writes. (On PostgreSQL, LISTEN/NOTIFY plays this part.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.clock import BackgroundLoop
from bot.storage.db import Database

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


class ExternalWrites:
    def __init__(self, db: Database, listeners: list[Callable[[], None]], interval: float = POLL_SECONDS) -> None:
        self.db = db
        self.listeners = listeners
        self.interval = interval
        self._loop = BackgroundLoop()

    async def version(self) -> int:
        row = await self.db.fetchone("PRAGMA data_version")
        return int(row[0]) if row else 0

    async def run_forever(self) -> None:
        seen = await self.version()
        while True:
            # A poll interval, not a schedule: nothing is due at a time, we only look again.
            await asyncio.sleep(self.interval)
            try:
                now = await self.version()
            except Exception:  # the database closing under us at shutdown, or a locked moment
                log.debug("data_version poll failed", exc_info=True)
                continue
            if now != seen:
                seen = now
                for listener in self.listeners:
                    listener()

    def start(self) -> None:
        self._loop.start(self.run_forever, "careerbot-external-writes")

    async def stop(self) -> None:
        await self._loop.stop()
