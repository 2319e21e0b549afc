"""Singletons among several ``careerbot serve`` processes: one holder per role, standbys waiting.

Some work must run in exactly one process however many share the database: the per-platform
sender (it owns the platform's global rate limit, which lives in its memory) and the feed
poller (politeness towards a feed's host is per process). Each process that may do such work
asks for the role; one holds it, the others retry every ``interval`` seconds and take over
within about that long after the holder dies.

The lock is one the operating system or the database drops by itself when its holder dies, so
no lease has to run out and no clock is trusted:

- PostgreSQL: a session-level advisory lock on a connection of the holder's own. If that
  connection breaks (a network partition, the server restarting) the holder steps down at its
  next check, since the server has already let another process take the role.
- SQLite (one process per file, the default): a POSIX record lock on a byte of a sidecar file
  (``careerbot.db-roles``), released by the kernel when the process exits or is killed. Record
  locks are per process, so several Apps in one process (tests, the console) never contend.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from bot.clock import BackgroundLoop
from bot.storage.db import Database

log = logging.getLogger("careerbot.leader")

CHECK_SECONDS = 1.0  # a standby's retry and a holder's liveness check: failover takes about this long
SLOTS = 1 << 16  # byte offsets of the SQLite sidecar file that role names hash to

Action = Callable[[], Awaitable[None] | None]


async def _call(action: Action) -> None:
    result = action()
    if asyncio.iscoroutine(result):
        await result


class _PgLock:
    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.raw: Any = None

    async def try_acquire(self) -> bool:
        if self.raw is None or self.raw.is_closed():
            self.raw = await self.db.connect_raw()  # type: ignore[attr-defined]
        # Keyed by schema too: separate installs (or test schemas) in one database never contend.
        return bool(await self.raw.fetchval(
            "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':careerbot:role:' || $1))", self.name
        ))

    async def still_held(self) -> bool:
        try:
            return self.raw is not None and not self.raw.is_closed() and await asyncio.wait_for(
                self.raw.fetchval("SELECT 1"), CHECK_SECONDS * 3
            ) == 1
        except Exception:  # noqa: BLE001 - any doubt about the session means the lock may be gone
            return False

    async def release(self) -> None:
        raw, self.raw = self.raw, None
        if raw is not None and not raw.is_closed():
            try:
                await asyncio.wait_for(raw.close(), 5)  # closing the session drops its advisory locks
            except Exception:  # noqa: BLE001
                raw.terminate()


_SIDECARS: dict[str, int] = {}  # one descriptor per sidecar file per process (see _FileLock)


class _FileLock:
    """A byte of ``<database>-roles``, locked with lockf.

    POSIX record locks belong to the process, and closing *any* descriptor of the file drops
    all of them; so the file is opened once per process and kept open, and a role is given up
    by unlocking its byte, never by closing.
    """

    def __init__(self, db: Database, name: str) -> None:
        self.path = os.path.abspath(f"{db.path}-roles")  # type: ignore[attr-defined]
        self.offset = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % SLOTS
        self.locked = False

    async def try_acquire(self) -> bool:
        import fcntl

        fd = _SIDECARS.get(self.path)
        if fd is None:
            fd = _SIDECARS[self.path] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self.offset)
        except OSError:
            return False
        self.locked = True
        return True

    async def still_held(self) -> bool:
        return self.locked

    async def release(self) -> None:
        import fcntl

        fd = _SIDECARS.get(self.path)
        if self.locked and fd is not None:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, self.offset)
        self.locked = False


class Leadership:
    """Holds the role ``name`` when it can; runs ``on_gain`` on taking it and ``on_loss`` on losing it."""

    def __init__(self, db: Database, name: str, on_gain: Action, on_loss: Action, interval: float = CHECK_SECONDS) -> None:
        self.name = name
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.interval = interval
        self.held = False
        self._lock: _PgLock | _FileLock = _PgLock(db, name) if db.dialect == "postgres" else _FileLock(db, name)
        self._loop = BackgroundLoop()

    async def start(self) -> None:
        """Tries once now (a lone process starts its work before this returns), then keeps trying."""
        await self._step()
        self._loop.start(self._run, f"careerbot-role-{self.name}")

    async def _step(self) -> None:
        if self.held:
            if not await self._lock.still_held():
                log.warning("lost the %s role (its database session ended); another process may take it", self.name)
                await self._step_down()
            return
        try:
            won = await self._lock.try_acquire()
        except Exception as exc:  # noqa: BLE001 - the database being away is a reason to wait, not to die
            log.debug("cannot ask for the %s role yet: %s", self.name, exc)
            await self._lock.release()
            return
        if won:
            self.held = True
            log.info("took the %s role", self.name)
            try:
                await _call(self.on_gain)
            except Exception:
                log.exception("starting the %s role failed; giving it up", self.name)
                await self._step_down()

    async def _step_down(self) -> None:
        # Stop the work first, then let the lock go: no moment with two holders working.
        self.held = False
        try:
            await _call(self.on_loss)
        except Exception:  # noqa: BLE001
            log.exception("stopping the %s role failed", self.name)
        await self._lock.release()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)  # a retry interval, not a schedule
            try:
                await self._step()
            except Exception:  # noqa: BLE001 - keep the election alive
                log.exception("the %s election failed; trying again", self.name)

    async def stop(self) -> None:
        await self._loop.stop()
        if self.held:
            await self._step_down()
        else:
            await self._lock.release()
