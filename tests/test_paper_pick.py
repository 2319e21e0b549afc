"""The paper-of-the-day rule over a simulated month, on a fake clock.

The month is generated (the rule is under test, not the parsers): every weekday Hugging Face
lists five papers across cs.LG/cs.CV/cs.CL with upvotes that grow over the following day,
arXiv announces three new cs.LG papers, and weekends bring nothing from either. In the third
week Hugging Face lists nothing at all (a holiday), so the fallback has to carry the channel.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import frozen_clock, iso_utc
from bot.models import Place
from bot.storage import papers_repo
from commands import create_app
from commands.papers import todays_pick
from commands.papers.pick import choose
from feeds.papers import Paper

pytestmark = pytest.mark.both_engines

START = date(2026, 3, 2)  # a Monday
HOLIDAY_START = START + timedelta(days=14)
CHANNEL = Place("console", "console", "ml", "ml")


def hf_paper(day: date, n: int, rng: random.Random, upvotes: int) -> Paper:
    category = rng.choice(["cs.LG", "cs.CV", "cs.CL"])
    return Paper(
        arxiv_id=f"{day:%y%m}.{day.day:02d}{n:03d}",
        title=f"HF paper {n} of {day}",
        version=1,
        abstract="We study diffusion models." if n % 2 else "We study transformers.",
        categories=[category],
        primary_category=category,
        published=f"{day - timedelta(days=1)}T18:00:00Z",
        upvotes=upvotes,
        code_url="https://github.com/example/repo" if n % 3 == 0 else None,
        source="hf-daily",
    )


def rss_paper(day: date, n: int) -> Paper:
    return Paper(
        arxiv_id=f"{day:%y%m}.{day.day:02d}{500 + n:03d}",
        title=f"New cs.LG paper {n} announced {day}",
        version=1,
        abstract="A new result about graph neural networks.",
        categories=["cs.LG"],
        primary_category="cs.LG",
        published=f"{day}T04:00:00Z",
        announce_type="new",
        source="arxiv-rss",
    )


async def simulate_day(app: App, day: date, rng: random.Random) -> None:
    """What the refresher would store on ``day``: today's lists, and yesterday's upvotes settling."""
    if day.weekday() >= 5:
        return
    now = iso_utc(datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=8))
    hf_quiet = HOLIDAY_START <= day < HOLIDAY_START + timedelta(days=7)
    async with app.db.transaction() as conn:
        for n in range(3):
            await papers_repo.upsert(conn, rss_paper(day, n), now, announced_on=day.isoformat())
        if hf_quiet:
            return
        for n in range(5):
            await papers_repo.upsert(conn, hf_paper(day, n, rng, upvotes=rng.randint(0, 5)), now, hf_day=day.isoformat())
        yesterday = day - timedelta(days=1 if day.weekday() else 3)
        if yesterday < START or HOLIDAY_START <= yesterday < HOLIDAY_START + timedelta(days=7):
            return
        for n in range(5):  # a day later the upvotes have grown: this is the settled count
            settled = hf_paper(yesterday, n, random.Random(f"{yesterday}{n}"), upvotes=10 * (n + 1) + rng.randint(0, 9))
            await papers_repo.upsert(conn, settled, now, hf_day=yesterday.isoformat())


async def test_a_month_of_picks_no_repeats_category_gated_with_weekend_fallback(db_path: Path) -> None:
    app = await create_app(db_path, clock=frozen_clock(f"{START}T00:00:00+00:00"))
    rng = random.Random(7)
    try:
        await app.settings.set(
            _mod(), CHANNEL.workspace_key, CHANNEL.channel_id, "paper_categories", "cs.LG", app.clock.now()
        )
        picks: list[tuple[date, str, str]] = []
        for offset in range(30):
            day = START + timedelta(days=offset)
            await simulate_day(app, day, rng)
            moment = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=12)
            chosen = await todays_pick(app, CHANNEL, moment)
            assert chosen is not None, day
            paper, reason = chosen
            assert "cs.LG" in paper.categories, (day, paper.categories)
            assert (await todays_pick(app, CHANNEL, moment + timedelta(hours=6)))[0].arxiv_id == paper.arxiv_id
            if paper.hf_day:
                assert paper.hf_day < day.isoformat(), "a paper listed today has not had a day to settle"
            picks.append((day, paper.arxiv_id, reason))
        ids = [p[1] for p in picks]
        assert len(ids) == len(set(ids)), "no paper twice in a channel"
        hf_days = [p for p in picks if "upvotes on Hugging Face" in p[2]]
        fallbacks = [p for p in picks if p[2].startswith("newest new announcement in cs.LG")]
        assert hf_days and fallbacks and len(hf_days) + len(fallbacks) == 30
        # On Mondays the Friday list has settled; on the first Monday nothing has: fallback.
        assert picks[0][2].startswith("newest new announcement")
    finally:
        await app.close()


async def test_ranking_uses_settled_upvotes_code_and_keywords(db_path: Path) -> None:
    app = await create_app(db_path, clock=frozen_clock("2026-03-04T12:00:00+00:00"))
    try:
        day = date(2026, 3, 3)
        now = iso_utc(datetime(2026, 3, 3, 8, tzinfo=timezone.utc))
        later = iso_utc(datetime(2026, 3, 4, 8, tzinfo=timezone.utc))
        rng = random.Random(1)
        plain = hf_paper(day, 1, rng, upvotes=100)
        plain.categories, plain.code_url, plain.abstract = ["cs.LG"], None, "Plain."
        coded = hf_paper(day, 3, rng, upvotes=90)
        coded.categories, coded.abstract = ["cs.LG"], "Plain."
        early = hf_paper(day, 4, rng, upvotes=500)  # many early upvotes that later vanished (spam removed)
        early.categories, early.code_url, early.abstract = ["cs.LG"], None, "Plain."
        async with app.db.transaction() as conn:
            for p in (plain, coded, early):
                await papers_repo.upsert(conn, p, now, hf_day=day.isoformat())
            early.upvotes = 20
            await papers_repo.upsert(conn, early, later, hf_day=day.isoformat())
        choice = await choose(app.db, ["cs.LG"], [], date(2026, 3, 4), set())
        assert choice.paper.arxiv_id == coded.arxiv_id  # 90 × 1.2 code bonus beats 100; 500 was not settled
        assert choice.reason == "90 upvotes on Hugging Face, code available"
        keyworded = await choose(app.db, ["cs.LG"], ["plain"], date(2026, 3, 4), {coded.arxiv_id})
        assert keyworded.paper.arxiv_id == plain.arxiv_id and "matches 'plain'" in keyworded.reason
        assert await choose(app.db, ["cs.CV"], [], date(2026, 3, 4), set()) is None  # category gate
    finally:
        await app.close()


def _mod():
    from bot.models import Actor, Role

    return Actor("console:mod", "mod", Role.MODERATOR)
