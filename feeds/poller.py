"""One poller for every feed, papers and postings alike.

Each source is a row in ``feed_sources`` and one persistent scheduler job (kind ``poll``), so
polls survive restarts, the console's ``:tick`` drives them like every other job, and a
running bot runs them beside (not in front of) digests. A feature registers a ``SourceKind``:
how to parse bodies (with the kind's own size cap), how to store what was parsed (inside
the same transaction that records the source's health and moves its job), and when to poll
next. Everything else lives here once: conditional GET, failures counted per source, a
source marked unhealthy after three failures in a row (moderators hear once per incident),
retries with backoff that never poll faster than the source's own cadence, and the URL
guard for moderator-supplied sources.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.clock import backoff, iso_utc
from bot.scheduler import Outcome
from bot.storage import jobs_repo, sources_repo
from bot.storage.jobs_repo import Job
from bot.storage.sources_repo import Source
from feeds.fetch import Fetcher, FetchError, FetchResult
from feeds.guard import check_url
from feeds.papers import MAX_BODY, FeedError

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("careerbot.feeds")

JOB_KIND = "poll"
FEEDS_ROLE = "feeds"
STATE_KEY = "poller"
UNHEALTHY_AFTER = 3
IDLE_RECHECK = timedelta(minutes=10)


@dataclass
class Request:
    url: str
    tag: Any = None  # handed back to the kind's store with what this URL gave (e.g. the day it lists)


@dataclass
class Fetched:
    request: Request
    parsed: Any  # the kind's parse result: has .items and .errors


@dataclass
class PollOutcome:
    source: str  # the label shown to people
    ok: bool
    items: int = 0
    new: int = 0
    errors: list[str] = field(default_factory=list)
    error: str | None = None
    not_modified: bool = False
    idle: bool = False  # nothing to ask (e.g. no channel follows a category)


Store = Callable[[aiosqlite.Connection, Source, list[Fetched], datetime], Awaitable[int]]


@dataclass
class SourceKind:
    name: str
    parse: Callable[[bytes, Source], Any]  # raises FeedError for a payload that is unusable as a whole
    store: Store  # returns how many new items it stored
    next_poll: Callable[[Source, datetime], Awaitable[datetime | None]]  # after a success; None: only on demand
    requests: Callable[[Source, datetime], Awaitable[list[Request]]] | None = None  # default: the source's URL
    max_bytes: int = MAX_BODY
    conditional: bool = True
    guarded: bool = False  # moderator-supplied URLs: no private addresses unless allowed
    idle_recheck: timedelta | None = IDLE_RECHECK  # nothing to ask now: look again after this (None: wait to be scheduled)
    # A source whose requests depend on earlier answers (search, then that paper's pages)
    # fetches for itself; it raises FetchError/FeedError like a plain fetch, [] when idle.
    fetch: Callable[[Fetcher, Source, datetime], Awaitable[list[Fetched]]] | None = None


def every(interval: timedelta) -> Callable[[Source, datetime], Awaitable[datetime]]:
    async def next_poll(_source: Source, at: datetime) -> datetime:
        return at + interval

    return next_poll


class Poller:
    def __init__(self, app: "App", fetcher: Fetcher | None = None) -> None:
        self.app = app
        self.fetcher = fetcher or Fetcher()
        self.kinds: dict[str, SourceKind] = {}
        # Sources down right now, kept in memory so a moderator's command costs no query when
        # all is well (filled from the database at start-up).
        self.unhealthy: set[str] = set()
        self._background: set[asyncio.Task[PollOutcome]] = set()  # polls someone stopped waiting for
        # One process polls (the "feeds" role): politeness towards a feed's host lives in memory.
        app.scheduler.handle(JOB_KIND, self._run_job, background=True, role=FEEDS_ROLE)

    async def load(self) -> None:
        self.unhealthy = {s.name for s in await sources_repo.all_sources(self.app.db) if s.status == "unhealthy"}

    def add_kind(self, kind: SourceKind) -> None:
        self.kinds[kind.name] = kind

    async def guard(self, url: str) -> str:
        return await check_url(url, self.app.config.allow_private_feeds)

    # -- sources ----------------------------------------------------------------------------
    async def ensure(
        self,
        name: str,
        kind: str,
        url: str,
        feature: str,
        options: dict[str, Any] | None = None,
        due: datetime | None = None,
        conn: aiosqlite.Connection | None = None,
        schedule: bool = True,
    ) -> None:
        """Creates (or updates) a source and makes sure its poll job exists (due now unless told)."""

        async def write(tx: aiosqlite.Connection) -> None:
            await sources_repo.ensure(tx, name, kind, url, feature, iso_utc(self.app.clock.now()), options)
            if not schedule:
                return
            if due is not None or not await jobs_repo.exists(tx, JOB_KIND, name):
                await self.app.scheduler.schedule(JOB_KIND, name, due or self.app.clock.now(), tx)

        if conn is not None:
            await write(conn)
        else:
            async with self.app.db.transaction() as tx:
                await write(tx)

    async def remove(self, name: str, conn: aiosqlite.Connection) -> None:
        await self.app.scheduler.cancel(JOB_KIND, name, conn)
        await sources_repo.delete(conn, name)
        self.unhealthy.discard(name)

    # -- polling ------------------------------------------------------------------------------
    async def poll(
        self, name: str, attempts: int = 1, requests: list[Request] | None = None, at: datetime | None = None
    ) -> tuple[PollOutcome, Outcome]:
        """Polls one source: the outcome to show, and the scheduler outcome (not yet written).

        The scheduler writes the store, the health and the next poll in one transaction;
        ``poll_now`` does the same for callers outside a job. ``at`` is the instant the
        poll stands for (a stepped clock runs each poll at its own due time).
        """
        now = at or self.app.clock.now()
        source = await sources_repo.get(self.app.db, name)
        if source is None:
            return PollOutcome(name, False, error="no such source"), Outcome(next_due=None)
        kind = self.kinds.get(source.kind)
        if kind is None:
            return PollOutcome(name, False, error=f"unknown kind {source.kind}"), Outcome(next_due=now + IDLE_RECHECK)
        if kind.fetch is not None and requests is None:
            return await self._poll_custom(source, kind, now)
        wanted = requests if requests is not None else (
            await kind.requests(source, now) if kind.requests else [Request(source.url)]
        )
        if not wanted:
            return _idle(source, kind, now)
        conditional = kind.conditional and len(wanted) == 1 and requests is None
        if conditional and wanted[0].url != source.url:
            async with self.app.db.transaction() as tx:  # a new URL (e.g. other categories): old validators do not apply
                await sources_repo.ensure(tx, name, source.kind, wanted[0].url, source.feature, iso_utc(now), source.options)
            source = await sources_repo.get(self.app.db, name) or source
        fetched: list[Fetched] = []
        last: FetchResult | None = None
        try:
            for request in wanted:
                last = await self.fetcher.get_with_retries(
                    request.url,
                    source.etag if conditional else None,
                    source.last_modified if conditional else None,
                    attempts=attempts,
                    max_bytes=kind.max_bytes,
                    guard=self.guard if kind.guarded else None,
                )
                if last.not_modified:
                    continue
                fetched.append(Fetched(request, kind.parse(last.body, source)))
        except (FetchError, FeedError) as exc:
            return await self._failed(source, kind, now, exc)
        return await self._succeeded(source, kind, now, fetched, last if conditional else None)

    async def _poll_custom(self, source: Source, kind: SourceKind, now: datetime) -> tuple[PollOutcome, Outcome]:
        assert kind.fetch is not None
        try:
            fetched = await kind.fetch(self.fetcher, source, now)
        except (FetchError, FeedError) as exc:
            return await self._failed(source, kind, now, exc)
        if not fetched:
            return _idle(source, kind, now)
        return await self._succeeded(source, kind, now, fetched, None)

    async def _failed(self, source: Source, kind: SourceKind, now: datetime, exc: Exception) -> tuple[PollOutcome, Outcome]:
        name = source.name
        reason = exc.reason if isinstance(exc, FetchError) else str(exc)
        status = str(exc.status) if isinstance(exc, FetchError) and getattr(exc, "status", None) else "error"
        self.app.metrics.fetches.labels(name, status).inc()
        after = await sources_repo.failed(self.app.db, name, iso_utc(now), reason, UNHEALTHY_AFTER)
        failures = after.failures if after else 1
        if after is not None and after.status == "unhealthy":
            self.unhealthy.add(name)
        # Once per incident at WARNING (it reaches the console); every failure at INFO.
        level = logging.WARNING if failures == UNHEALTHY_AFTER else logging.INFO
        log.log(level, "source %s failed (%s); %d failure(s) in a row", name, reason, failures)
        regular = await kind.next_poll(source, now)
        retry = now + backoff(failures)
        return PollOutcome(name, False, error=reason), Outcome(next_due=min(retry, regular) if regular else None)

    async def _succeeded(
        self, source: Source, kind: SourceKind, now: datetime, fetched: list[Fetched], last: FetchResult | None
    ) -> tuple[PollOutcome, Outcome]:
        name = source.name
        items = sum(len(f.parsed.items) for f in fetched)
        errors = [e for f in fetched for e in f.parsed.errors]
        etag = last.etag if last else None
        modified = last.last_modified if last else None
        result = PollOutcome(name, True, items=items, errors=errors, not_modified=not fetched)

        async def write(conn: aiosqlite.Connection) -> None:
            new = await kind.store(conn, source, fetched, now) if fetched else 0
            result.new = new
            total = items if fetched else (source.items_last or 0)
            await sources_repo.ok(conn, name, iso_utc(now), total, etag, modified, added=new, baseline=bool(fetched))

        self.unhealthy.discard(name)
        self.app.metrics.fetches.labels(name, "not_modified" if not fetched else "ok").inc()
        return result, Outcome(next_due=await kind.next_poll(source, now), write=write)

    async def poll_now(self, name: str, attempts: int = 1, requests: list[Request] | None = None) -> PollOutcome:
        """Polls outside the scheduler (CLI refresh, on-demand look-ups): writes, and moves the job."""
        outcome, plan = await self.poll(name, attempts, requests)
        async with self.app.db.transaction() as conn:
            if plan.write is not None:
                await plan.write(conn)
            if requests is None:  # a regular poll: the next one is counted from now
                if plan.next_due is None:
                    await self.app.scheduler.cancel(JOB_KIND, name, conn)
                else:
                    await self.app.scheduler.schedule(JOB_KIND, name, plan.next_due, conn)
        return outcome

    async def poll_within(self, name: str, deadline: float, requests: list[Request] | None = None) -> PollOutcome | None:
        """``poll_now`` for someone waiting: at most ``deadline`` seconds, then the poll goes on alone
        (None: not finished yet; asking again shortly finds the result stored). One attempt: a
        retry would land after they stopped waiting."""
        task = asyncio.create_task(self.poll_now(name, attempts=1, requests=requests))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if deadline <= 0:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=deadline)
        except asyncio.TimeoutError:
            return None

    async def refresh(self, feature: str | None = None, attempts: int = 3) -> list[PollOutcome]:
        """Every source of ``feature`` (or all) once, now: ``careerbot feeds refresh``."""
        outcomes = []
        for source in await sources_repo.all_sources(self.app.db, feature):
            kind = self.kinds.get(source.kind)
            if kind is None:
                continue
            outcome = await self.poll_now(source.name, attempts=attempts)
            if not outcome.idle:
                outcomes.append(outcome)
        return outcomes

    async def _run_job(self, job: Job, at: datetime) -> Outcome:
        _, plan = await self.poll(job.ref, at=at)
        return plan

    # -- as an app service --------------------------------------------------------------------
    def start(self) -> None:
        """Polls are scheduler jobs: the scheduler runs them; nothing of its own to start."""

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.fetcher.close()


def _idle(source: Source, kind: SourceKind, now: datetime) -> tuple[PollOutcome, Outcome]:
    """Nothing to ask now: health untouched, look again after the kind's recheck (or when scheduled)."""
    return PollOutcome(source.name, True, idle=True), Outcome(next_due=now + kind.idle_recheck if kind.idle_recheck else None)


def poller(app: "App") -> Poller:
    """The app's poller, created on first use (features that poll call this in their setup)."""
    found = app.state.get(STATE_KEY)
    if found is None:
        found = app.state[STATE_KEY] = Poller(app)
        app.services.append(found)
    return found
