"""Noticing writes made by another process, so a running bot acts on them within a second.

``careerbot feeds refresh`` (a cron job, or a moderator at a shell) queues posting alerts in the
same database the running bot reads; the console can schedule a digest there too. The running
bot's senders and scheduler sleep until their next known due time, so without a nudge such work
would wait up to an hour. SQLite's ``PRAGMA data_version`` changes on a connection exactly when
another connection has committed, so polling it once a second costs one tiny query and never
fires for our own writes.

On PostgreSQL the writers that queue work (``notify_work``: a post queued, a job planned) send
``NOTIFY careerbot_work`` inside their transaction, so it arrives on commit; every process
LISTENs on a connection of its own and wakes its loops. A listening connection can drop
unnoticed, so a slow poll (every ``FALLBACK_SECONDS``) wakes the loops anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.clock import BackgroundLoop
from bot.storage.db import Database

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
FALLBACK_SECONDS = 10.0
CHANNEL = "careerbot_work"


async def notify_work(conn: object) -> None:
    """Inside a writer's transaction: tell other processes there is new work (PostgreSQL only)."""
    if getattr(conn, "dialect", "sqlite") == "postgres":
        await conn.execute(f"NOTIFY {CHANNEL}")  # type: ignore[attr-defined]


class ExternalWrites:
    def __init__(self, db: Database, listeners: list[Callable[[], None]], interval: float = POLL_SECONDS) -> None:
        self.db = db
        self.listeners = listeners
        self.interval = interval
        self._loop = BackgroundLoop()

    async def version(self) -> int:
        row = await self.db.fetchone("PRAGMA data_version")
        return int(row[0]) if row else 0

    def _wake_all(self, *_: object) -> None:
        for listener in self.listeners:
            listener()

    async def run_forever(self) -> None:
        if self.db.dialect == "postgres":
            await self._listen_forever()
            return
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
                self._wake_all()

    async def _listen_forever(self) -> None:
        import asyncpg

        raw = None
        try:
            while True:
                if raw is None or raw.is_closed():
                    try:
                        raw = await self.db.connect_raw()
                        await raw.add_listener(CHANNEL, self._wake_all)
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        log.warning("cannot LISTEN for work from other processes; polling every %.0f s", FALLBACK_SECONDS)
                        raw = None
                await asyncio.sleep(FALLBACK_SECONDS)
                self._wake_all()
        finally:
            if raw is not None and not raw.is_closed():
                await raw.close()

    def start(self) -> None:
        self._loop.start(self.run_forever, "careerbot-external-writes")

    async def stop(self) -> None:
        await self._loop.stop()
