"""The persistent scheduler: due work lives in SQLite, one task sleeps until the next item.

Handlers compute (reading only) and return an ``Outcome``: what to write and when to run
next. The scheduler applies the writes and moves the job in one transaction, so a job is
marked done exactly when its effects (e.g. a digest queued for delivery) are stored; a crash
before that leaves the job due and it simply runs again. This avoids the trap of deleting a
timer before its work succeeded.

Time comes from the injectable clock. When the clock is advanced (the console's ``:tick``,
tests) jobs run at their own due instants, as a bot that stayed up would have run them.
When the bot starts after downtime, each overdue job runs once, at "now", and handlers see
that the instant is later than planned (a digest then covers every missed period in one post).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from bot.clock import BackgroundLoop, Clock, backoff, iso_utc
from bot.storage import jobs_repo
from bot.storage.db import Database
from bot.storage.jobs_repo import Job

log = logging.getLogger("careerbot.scheduler")
# Longer than any job runs (a feed poll gives up after 20 s); past it, a dead process's job runs elsewhere.
JOB_LEASE = timedelta(minutes=10)

Writer = Callable[[aiosqlite.Connection], Awaitable[None]]


@dataclass
class Outcome:
    next_due: datetime | None  # None: the job is finished and removed
    write: Writer | None = None


Handler = Callable[[Job, datetime], Awaitable[Outcome]]
AfterRun = Callable[[datetime, bool], Awaitable[None]]  # (instant run at, stepping through a tick)

class Scheduler:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        # Kinds whose jobs wait on the network (feed polls): a running bot runs them as tasks of
        # their own, so a slow feed never delays a digest; a stepped clock runs them in line.
        self.background_kinds: set[str] = set()
        # Kinds only the holder of a role may run (feed polls: the "feeds" role, so a feed's
        # host sees one process's polite pace). None: this process holds every role (one
        # process, the console, tests); a set: the roles it holds now (bot/leader.py).
        self.kind_roles: dict[str, str] = {}
        self.roles_held: set[str] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self.after_run: list[AfterRun] = []
        self._lock = asyncio.Lock()
        self._stopping = False
        self._wake = asyncio.Event()
        self._loop = BackgroundLoop()
        # Several processes may share one PostgreSQL database: a job runs under its lease.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        clock.on_tick(self._on_tick)

    async def recover(self) -> int:
        """At start on SQLite (one process per file): jobs the last run was in the middle of are free."""
        return await jobs_repo.release_leases(self.db) if self.db.dialect == "sqlite" else 0

    def handle(self, kind: str, handler: Handler, background: bool = False, role: str | None = None) -> None:
        self.handlers[kind] = handler
        if background:
            self.background_kinds.add(kind)
        if role is not None:
            self.kind_roles[kind] = role

    def hold(self, role: str) -> None:
        """This process took ``role``: its jobs are ours to run from now on."""
        self.roles_held = (self.roles_held or set()) | {role}
        self._wake.set()

    def release(self, role: str) -> None:
        """Another process may hold ``role`` now: leave its jobs (a run in progress finishes)."""
        self.roles_held = (self.roles_held or set()) - {role}

    def excluded_kinds(self) -> list[str]:
        if self.roles_held is None:
            return []
        return sorted(k for k, role in self.kind_roles.items() if role not in self.roles_held)

    # -- changing the plan -----------------------------------------------------------------
    async def schedule(self, kind: str, ref: str, due: datetime, conn: aiosqlite.Connection | None = None) -> None:
        """Creates or moves a job; wakes the loop so sooner work is not slept through."""
        if conn is None:
            async with self.db.transaction() as tx:
                await jobs_repo.upsert(tx, kind, ref, iso_utc(due))
        else:
            await jobs_repo.upsert(conn, kind, ref, iso_utc(due))
        self._wake.set()

    def wake(self) -> None:
        """Look at the jobs table again now (another process may have added or moved a job)."""
        self._wake.set()

    async def cancel(self, kind: str, ref: str, conn: aiosqlite.Connection | None = None) -> None:
        if conn is None:
            async with self.db.transaction() as tx:
                await jobs_repo.delete(tx, kind, ref)
        else:
            await jobs_repo.delete(conn, kind, ref)
        self._wake.set()

    async def next_due(self) -> datetime | None:
        job = await jobs_repo.earliest(self.db, skip=list(self._running))
        return job.due_at if job else None

    # -- running ---------------------------------------------------------------------------
    async def run_due(self, now: datetime, step: bool = False) -> int:
        """Runs every job due at ``now``; with ``step`` each runs at its own due instant."""
        ran = 0
        async with self._lock:
            while True:
                wall = self.clock.now()
                job = await jobs_repo.claim_due(
                    self.db, iso_utc(now), iso_utc(wall), self.owner, iso_utc(wall + JOB_LEASE), skip=list(self._running),
                    exclude_kinds=self.excluded_kinds(),
                )
                if job is None:
                    break
                at = job.due_at if step else now
                if not step and job.kind in self.background_kinds:
                    self._running[job.id] = asyncio.create_task(self._run_aside(job, at), name=f"careerbot-job-{job.kind}")
                    continue
                await self._run(job, at)
                ran += 1
                for hook in self.after_run:
                    await hook(at, step)
        return ran

    async def _run_aside(self, job: Job, at: datetime) -> None:
        try:
            await self._run(job, at)
            for hook in self.after_run:
                await hook(at, False)
        except Exception:  # noqa: BLE001 - _run already logs handler errors; this is the hooks'
            log.exception("after-run hook failed for job %s", job.id)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    async def _run(self, job: Job, at: datetime) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            log.warning("no handler for job kind %s; leaving job %s for a version that has one", job.kind, job.id)
            await self._failed(job, at, f"no handler for {job.kind}")
            return
        try:
            outcome = await handler(job, at)
            async with self.db.transaction() as conn:
                if outcome.write is not None:
                    await outcome.write(conn)
                if outcome.next_due is None:
                    await jobs_repo.delete_id(conn, job.id)
                else:
                    await jobs_repo.reschedule(conn, job.id, iso_utc(outcome.next_due))
        except Exception as exc:  # the job stays due; a bad handler must not stop the others
            log.exception("job %s (%s %s) failed; will retry", job.id, job.kind, job.ref)
            await self._failed(job, at, f"{type(exc).__name__}: {exc}")

    async def _failed(self, job: Job, at: datetime, error: str) -> None:
        retry = at + backoff(job.attempts + 1)
        async with self.db.transaction() as conn:
            await jobs_repo.failed(conn, job.id, iso_utc(retry), error[:500])

    async def _on_tick(self, now: datetime) -> None:
        await self.run_due(now, step=True)

    async def run_forever(self) -> None:
        """The one background task: run what is due, then sleep until the next item or a wake-up."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_due(self.clock.now())
                upcoming = await jobs_repo.earliest(
                    self.db, skip=list(self._running), free_at=iso_utc(self.clock.now()), exclude_kinds=self.excluded_kinds()
                )
            except Exception:  # e.g. the disk filled up: keep the loop alive and try again soon
                log.exception("scheduler loop failed; retrying in 30 s")
                await asyncio.sleep(30)
                continue
            timeout = None
            if upcoming is not None:
                timeout = max(0.0, (upcoming.due_at - self.clock.now()).total_seconds())
                timeout = min(timeout, 3600.0)  # re-read the clock at least hourly (suspend, clock jumps)
            if self._stopping:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def start(self) -> None:
        self._stopping = False
        self._loop.start(self.run_forever, "careerbot-scheduler")

    async def stop(self) -> None:
        """Lets a running job finish its transaction, then stops the loop.

        The lock is only waited for, not held while the loop ends: on Python 3.11 wait_for can
        swallow a cancellation, and a loop that then asked for the lock would wait forever for
        a stop that waits for it (seen as a console that never exited). The flag ends it instead.
        """
        self._stopping = True
        self._wake.set()
        async with self._lock:
            pass  # a job running now finishes its transaction first
        await self._loop.stop()
        # A poll cut short commits nothing (its writes are one transaction) and runs again at start.
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        self._running.clear()
