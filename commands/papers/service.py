"""Keeping the local paper store fresh, in the background, so commands only ever read SQLite.

Cadence: arXiv RSS once after each announcement (weekdays 00:30 New York time, after arXiv's
20:00 ET announcement has reached the feed), Hugging Face's daily lists every four hours for
today and the two days before (so upvotes are seen again after they settle) plus its trending
list. Papers Hugging
Face lists but arXiv's feeds did not bring get their categories from one arXiv API look-up.
A source that fails three times in a row is marked unhealthy; moderators see it in
``/papers sources`` and once on their next command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any, TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bot.clock import BackgroundLoop, iso_utc
from bot.recurrence import parse_recurrence
from bot.storage import papers_repo, settings_repo
from feeds.fetch import Fetcher, FetchError
from feeds.papers import (
    FeedError,
    ParseResult,
    parse_arxiv_api,
    parse_arxiv_rss,
    parse_hf_daily,
)

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("careerbot.papers")

UNHEALTHY_AFTER = 3
HF_EVERY = timedelta(hours=4)
RSS_SCHEDULE = parse_recurrence("weekdays 00:30")
RSS_ZONE = ZoneInfo("America/New_York")
LOOKUP_BATCH = 50
LOOKUP_ROUNDS = 4  # at most 200 look-ups per refresh, 3 s apart


@dataclass
class Outcome:
    source: str  # the label shown to people (e.g. "hf-daily 2026-08-21"); health is kept per source name
    ok: bool
    items: int = 0
    new: int = 0
    errors: list[str] = field(default_factory=list)
    error: str | None = None
    not_modified: bool = False


class PapersService:
    def __init__(self, app: "App", fetcher: Fetcher | None = None) -> None:
        self.app = app
        self.fetcher = fetcher or Fetcher()
        self._loop = BackgroundLoop()
        self._background: set[asyncio.Task] = set()
        self._refresh_lock = asyncio.Lock()
        # When the background loop next polls each kind of source (both at once on start).
        self._next_rss = self._next_hf = app.clock.now()
        # Sources down right now, kept in memory so a moderator's command costs no query
        # when all is well (filled from the database at start-up).
        self.unhealthy: set[str] = set()
        # The day's pick per (workspace, channel, local day): fixed once chosen, so every
        # later /paper today that day is answered from memory, without a query.
        self.picks: dict[tuple[str, str, str], tuple[Any, str]] = {}

    # -- URLs ------------------------------------------------------------------------------
    def rss_url(self, categories: list[str]) -> str:
        return f"{self.app.config.arxiv_rss_url}/{'+'.join(categories)}"

    def hf_url(self, day: str | None) -> str:
        params = {"date": day} if day else {"sort": "trending", "limit": 50}
        return f"{self.app.config.hf_api_url}?{urlencode(params)}"

    def api_search_url(self, query: str, category: str | None, limit: int = 20) -> str:
        words = [w for w in query.split() if w.isalnum() or "-" in w][:8]
        terms = [f"all:{w}" for w in words] + ([f"cat:{category}"] if category else [])
        params = {"search_query": " AND ".join(terms), "start": 0, "max_results": limit, "sortBy": "relevance"}
        return f"{self.app.config.arxiv_api_url}?{urlencode(params)}"

    def api_ids_url(self, ids: list[str]) -> str:
        return f"{self.app.config.arxiv_api_url}?{urlencode({'id_list': ','.join(ids), 'max_results': len(ids)})}"

    async def followed(self) -> list[str]:
        return await settings_repo.all_items(self.app.db, "paper_categories")

    # -- refreshing ------------------------------------------------------------------------
    async def _poll(
        self,
        name: str,
        kind: str,
        url: str,
        parse: Callable[[bytes], ParseResult],
        store: Callable[[ParseResult], Awaitable[int]],
        conditional: bool = False,
        attempts: int = 3,
    ) -> Outcome:
        db = self.app.db
        await papers_repo.ensure_source(db, name, kind, url)
        state = await papers_repo.source(db, name)
        now = iso_utc(self.app.clock.now())
        try:
            same_url = state is not None and state.url == url
            etag = state.etag if (conditional and same_url and state) else None
            modified = state.last_modified if (conditional and same_url and state) else None
            fetched = await self.fetcher.get_with_retries(url, etag, modified, attempts=attempts)
            if fetched.not_modified:
                async with db.transaction() as conn:
                    await papers_repo.source_ok(conn, name, now, (state.items_last or 0) if state else 0, None, None)
                self.unhealthy.discard(name)
                return Outcome(name, True, not_modified=True)
            parsed = parse(fetched.body)
        except (FetchError, FeedError) as exc:
            reason = exc.reason if isinstance(exc, FetchError) else str(exc)
            after = await papers_repo.source_failed(db, name, now, reason, UNHEALTHY_AFTER)
            failures = after.failures if after else 0
            if after is not None and after.status == "unhealthy":
                self.unhealthy.add(name)
            # Once per incident at WARNING (it reaches the console); every failure at INFO.
            level = logging.WARNING if failures == UNHEALTHY_AFTER else logging.INFO
            log.log(level, "paper source %s failed (%s); %d failure(s) in a row", name, reason, failures)
            return Outcome(name, False, error=reason)
        new = await store(parsed)
        async with db.transaction() as conn:
            await papers_repo.source_ok(
                conn, name, now, len(parsed.items), fetched.etag if conditional else None, fetched.last_modified if conditional else None
            )
        self.unhealthy.discard(name)
        return Outcome(name, True, items=len(parsed.items), new=new, errors=parsed.errors)

    async def _store(self, parsed: ParseResult, hf_day: str | None = None) -> int:
        now = iso_utc(self.app.clock.now())
        new = 0
        async with self.app.db.transaction() as conn:
            for item in parsed.items:
                announced = item.published[:10] if item.source == "arxiv-rss" and item.published else None
                listed = hf_day or item.listed_on
                new += await papers_repo.upsert(conn, item, now, hf_day=listed, announced_on=announced)
        return new

    async def refresh_rss(self) -> Outcome | None:
        categories = await self.followed()
        if not categories:
            return None
        return await self._poll(
            "arxiv-rss", "arxiv-rss", self.rss_url(categories), parse_arxiv_rss, self._store, conditional=True
        )

    async def refresh_hf(self) -> list[Outcome]:
        today = self.app.clock.now().astimezone(timezone.utc).date()
        outcomes = []
        for back in range(3):
            day = (today - timedelta(days=back)).isoformat()

            async def store(parsed: ParseResult, day: str = day) -> int:
                return await self._store(parsed, hf_day=day)

            outcome = await self._poll("hf-daily", "hf-daily", self.hf_url(day), parse_hf_daily, store)
            outcome.source = f"hf-daily {day}"
            outcomes.append(outcome)
            if not outcome.ok:
                return outcomes  # the other requests go to the same host: one failure per refresh is enough
        # The trending list spans several days; each entry says which day it was listed.
        trending = await self._poll("hf-daily", "hf-daily", self.hf_url(None), parse_hf_daily, self._store)
        trending.source = "hf-daily trending"
        outcomes.append(trending)
        return outcomes

    async def lookup_missing(self) -> Outcome | None:
        """Categories for papers only Hugging Face told us about: a few batched arXiv API calls."""
        outcome = None
        tried: set[str] = set()
        for _ in range(LOOKUP_ROUNDS):
            ids = [i for i in await papers_repo.missing_categories(self.app.db, limit=LOOKUP_BATCH * 2) if i not in tried]
            ids = ids[:LOOKUP_BATCH]
            if not ids:
                break
            tried.update(ids)  # ids arXiv does not know stay uncategorised; do not ask twice per refresh
            outcome = await self._poll("arxiv-api", "arxiv-api", self.api_ids_url(ids), parse_arxiv_api, self._store)
            if not outcome.ok:
                break
        return outcome

    async def refresh_all(self) -> list[Outcome]:
        """Every source once, now (``careerbot feeds refresh`` and the background loop)."""
        async with self._refresh_lock:
            outcomes: list[Outcome] = []
            rss = await self.refresh_rss()
            if rss:
                outcomes.append(rss)
            outcomes.extend(await self.refresh_hf())
            lookup = await self.lookup_missing()
            if lookup:
                outcomes.append(lookup)
            return outcomes

    # -- on demand, never blocking a reply past its deadline -----------------------------------
    async def fetch_in_background(self, url: str, deadline: float) -> tuple[bool, str | None]:
        """Fetches an arXiv API URL into the store; waits at most ``deadline`` seconds for it.

        Returns (finished, error). When the deadline passes the fetch carries on in the
        background, so asking again shortly gets the result from the local store.
        """
        if self.fetcher.politeness.pending_wait(url) > deadline:
            deadline = 0.0  # arXiv's spacing alone would outlast the deadline: answer now, fetch anyway

        async def run() -> str | None:
            # One attempt: someone is waiting, and a retry would land after they stopped.
            return (await self._poll("arxiv-api", "arxiv-api", url, parse_arxiv_api, self._store, attempts=1)).error

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if deadline <= 0:
            return False, None
        try:
            return True, await asyncio.wait_for(asyncio.shield(task), timeout=deadline)
        except asyncio.TimeoutError:
            return False, None

    # -- the background loop -----------------------------------------------------------------
    async def poll_due(self) -> float:
        """One round of the background loop: polls what is due; returns seconds until the next round."""
        now = self.app.clock.now()
        if not await self.followed():
            # Nobody follows a category: nothing to pick from, so poll no one; look again soon.
            self._next_rss = self._next_hf = now + timedelta(minutes=10)
        else:
            if now >= self._next_rss:
                await self.refresh_rss()
                self._next_rss = RSS_SCHEDULE.next_after(now, RSS_ZONE)
            if now >= self._next_hf:
                await self.refresh_hf()
                await self.lookup_missing()
                self._next_hf = now + HF_EVERY
        wait = (min(self._next_rss, self._next_hf) - self.app.clock.now()).total_seconds()
        return min(max(wait, 1.0), 3600.0)

    async def run_forever(self) -> None:
        while True:
            try:
                wait = await self.poll_due()
            except Exception:  # a bug in one refresh must not end refreshing
                log.exception("paper refresh failed")
                wait = 60.0
            await asyncio.sleep(wait)

    def start(self) -> None:
        self._loop.start(self.run_forever, "careerbot-papers")

    async def stop(self) -> None:
        await self._loop.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.fetcher.close()
