"""Keeping the local paper store fresh, in the background, so commands only ever read SQLite.

Polling itself is the shared poller's (``feeds/poller.py``): three sources, each a persistent
scheduler job. Cadence: arXiv RSS once after each announcement (weekdays 00:30 New York
time, after arXiv's 20:00 ET announcement has reached the feed); Hugging Face's daily lists
every four hours for today and the two days before (so upvotes are seen again after they
settle) plus its trending list. Papers Hugging Face lists but arXiv's feeds did not bring
get their categories from a few batched arXiv API look-ups right after. Nothing is polled
while no channel follows a category. A source that fails three times in a row is marked
unhealthy; moderators see it in ``/papers sources`` and once on their next command.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiosqlite

from bot.clock import iso_utc
from bot.recurrence import parse_recurrence
from bot.storage import papers_repo, settings_repo
from bot.storage.sources_repo import Source
from feeds.fetch import Fetcher
from feeds.papers import ParseResult, parse_arxiv_api, parse_arxiv_rss, parse_hf_daily
from feeds import pwc
from feeds.poller import JOB_KIND, Fetched, PollOutcome, Request, SourceKind, every, poller
from feeds.pwc import PwcRepo

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("careerbot.papers")

HF_EVERY = timedelta(hours=4)
RSS_SCHEDULE = parse_recurrence("weekdays 00:30")
RSS_ZONE = ZoneInfo("America/New_York")
LOOKUP_BATCH = 50
LOOKUP_ROUNDS = 4  # at most 200 look-ups per refresh, 3 s apart
SOURCES = ("arxiv-rss", "hf-daily", "arxiv-api", "pwc")
PWC_EVERY = timedelta(hours=6)
PWC_BATCH = 10  # papers asked about per poll (two or three requests each)
PWC_PAGES = 3  # repository pages followed per paper


@dataclass
class CodeFound:
    """What Papers With Code said about some papers: (arXiv id, official repo or None)."""

    items: list[tuple[str, PwcRepo | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class PapersService:
    def __init__(self, app: "App") -> None:
        self.app = app
        self.poller = poller(app)
        # The day's pick per (workspace, channel, local day): fixed once chosen, so every
        # later /paper today that day is answered from memory, without a query.
        self.picks: dict[tuple[str, str, str], tuple[Any, str]] = {}
        self._forced = False  # a refresh someone asked for polls Hugging Face even if nothing is followed
        self.poller.add_kind(SourceKind("arxiv-rss", _parser(parse_arxiv_rss), self._store_all, self._next_rss, self._rss_requests))
        self.poller.add_kind(SourceKind(
            "hf-daily", _parser(parse_hf_daily), self._store_hf, self._next_hf, self._hf_requests, conditional=False,
        ))
        self.poller.add_kind(SourceKind(
            "arxiv-api", _parser(parse_arxiv_api), self._store_all, _on_demand, self._lookup_requests,
            conditional=False, idle_recheck=None,
        ))
        self.poller.add_kind(SourceKind(
            "pwc", _parser(pwc.parse_papers_page), self._store_code, every(PWC_EVERY), conditional=False,
            max_bytes=pwc.MAX_PAGE, idle_recheck=timedelta(hours=1), fetch=self._fetch_code,
        ))

    async def add_sources(self) -> None:
        """The three built-in sources (their URLs follow the configuration on every start)."""
        config = self.app.config
        async with self.app.db.transaction() as conn:
            await self.poller.ensure("arxiv-rss", "arxiv-rss", config.arxiv_rss_url, "papers", conn=conn)
            await self.poller.ensure("hf-daily", "hf-daily", config.hf_api_url, "papers", conn=conn)
            await self.poller.ensure("arxiv-api", "arxiv-api", config.arxiv_api_url, "papers", conn=conn, schedule=False)
            await self.poller.ensure("pwc", "pwc", config.pwc_api_url, "papers", conn=conn)

    @property
    def fetcher(self) -> Fetcher:
        return self.poller.fetcher

    @fetcher.setter
    def fetcher(self, fetcher: Fetcher) -> None:
        self.poller.fetcher = fetcher

    @property
    def unhealthy(self) -> set[str]:
        return {name for name in self.poller.unhealthy if name in SOURCES}

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

    # -- what each source asks, stores, and when it asks again ---------------------------------
    async def _rss_requests(self, _source: Source, _now: datetime) -> list[Request]:
        categories = await self.followed()
        return [Request(self.rss_url(categories))] if categories else []

    async def _hf_requests(self, _source: Source, now: datetime) -> list[Request]:
        if not self._forced and not await self.followed():
            return []  # nobody follows a category: nothing to pick from, so poll no one
        today = now.astimezone(timezone.utc).date()
        days = [(today - timedelta(days=back)).isoformat() for back in range(3)]
        # The trending list spans several days; each entry says which day it was listed.
        return [Request(self.hf_url(day), day) for day in days] + [Request(self.hf_url(None))]

    async def _lookup_requests(self, _source: Source, _now: datetime) -> list[Request]:
        """Categories for papers only Hugging Face told us about: a few batched arXiv API calls."""
        ids = await papers_repo.missing_categories(self.app.db, limit=LOOKUP_BATCH * LOOKUP_ROUNDS)
        return [Request(self.api_ids_url(ids[i : i + LOOKUP_BATCH])) for i in range(0, len(ids), LOOKUP_BATCH)]

    async def _next_rss(self, _source: Source, at: datetime) -> datetime:
        return RSS_SCHEDULE.next_after(at, RSS_ZONE)

    async def _next_hf(self, _source: Source, at: datetime) -> datetime:
        return at + HF_EVERY

    async def _store_all(self, conn: aiosqlite.Connection, _source: Source, fetched: list[Fetched], now: datetime) -> int:
        return sum([await self._store(conn, f.parsed, now, f.request.tag) for f in fetched])

    async def _store_hf(self, conn: aiosqlite.Connection, source: Source, fetched: list[Fetched], now: datetime) -> int:
        new = await self._store_all(conn, source, fetched, now)
        await self.app.scheduler.schedule(JOB_KIND, "arxiv-api", now, conn)  # categories for what arXiv did not bring
        return new

    async def _store(self, conn: aiosqlite.Connection, parsed: ParseResult, now: datetime, hf_day: str | None = None) -> int:
        stamp = iso_utc(now)
        new = 0
        for item in parsed.items:
            announced = item.published[:10] if item.source == "arxiv-rss" and item.published else None
            listed = hf_day or item.listed_on
            new += await papers_repo.upsert(conn, item, stamp, hf_day=listed, announced_on=announced)
        return new

    async def _fetch_code(self, fetcher: Fetcher, source: Source, now: datetime) -> list[Fetched]:
        """Papers With Code, for the papers the bot may show: search by arXiv id, then that paper's repositories."""
        since = (now.astimezone(timezone.utc).date() - timedelta(days=3)).isoformat()
        ids = await papers_repo.pwc_candidates(self.app.db, since, PWC_BATCH)
        if not ids:
            return []
        found = CodeFound()
        base = source.url
        for arxiv_id in ids:
            page = pwc.parse_papers_page((await fetcher.get(pwc.search_url(base, arxiv_id), max_bytes=pwc.MAX_PAGE)).body)
            found.errors += page.errors
            paper = pwc.match_paper(page, arxiv_id)
            repos: list[PwcRepo] = []
            url: str | None = pwc.repositories_url(base, paper.id) if paper else None
            for _ in range(PWC_PAGES):
                if url is None:
                    break
                listing = pwc.parse_repositories_page((await fetcher.get(url, max_bytes=pwc.MAX_PAGE)).body)
                repos += listing.results
                found.errors += listing.errors
                url = pwc.next_page_url(base, listing)
            found.items.append((arxiv_id, pwc.best_code(repos)))
        return [Fetched(Request(base), found)]

    async def _store_code(self, conn: aiosqlite.Connection, _source: Source, fetched: list[Fetched], now: datetime) -> int:
        found = 0
        for f in fetched:
            for arxiv_id, repo in f.parsed.items:
                label = pwc.framework_label(repo.framework) if repo else None
                await papers_repo.set_pwc(conn, arxiv_id, iso_utc(now), repo.url if repo else None, repo.stars if repo else None, label)
                found += repo is not None
        if found:
            self.picks.clear()  # remembered picks carry the old card data
        return found

    async def refresh_all(self) -> list[PollOutcome]:
        """Every paper source once, now (``careerbot feeds refresh``), look-ups last."""
        outcomes = []
        self._forced = True
        try:
            for name in SOURCES:
                outcome = await self.poller.poll_now(name, attempts=3)
                if not outcome.idle:
                    outcomes.append(outcome)
        finally:
            self._forced = False
        return outcomes

    # -- on demand, never blocking a reply past its deadline -----------------------------------
    async def fetch_in_background(self, url: str, deadline: float) -> tuple[bool, str | None]:
        """Fetches an arXiv API URL into the store; waits at most ``deadline`` seconds for it.

        Returns (finished, error). When the deadline passes the fetch carries on in the
        background, so asking again shortly gets the result from the local store.
        """
        if self.fetcher.politeness.pending_wait(url) > deadline:
            deadline = 0.0  # arXiv's spacing alone would outlast the deadline: answer now, fetch anyway
        outcome = await self.poller.poll_within("arxiv-api", deadline, requests=[Request(url)])
        return (True, outcome.error) if outcome else (False, None)

    def start(self) -> None:
        """Polls are scheduler jobs; nothing of its own to start."""

    async def stop(self) -> None:
        """The poller (an app service of its own) ends the polls still running."""


def _parser(parse):  # noqa: ANN001, ANN202 - adapts a paper parser to the poller's (body, source) shape
    return lambda body, _source: parse(body)


async def _on_demand(_source: Source, _at: datetime) -> None:
    """Look-ups run when Hugging Face brought papers without categories, or a command asks."""
    return None
