"""Papers: parse throughput on the real samples (against bare feedparser on the same bytes), and
/paper today and /paper search latency with 50,000 papers stored. Prints figures; asserts nothing.

    python bench/papers.py [--papers 50000] [--queries 500] [--repeat 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from bot.clock import frozen_clock, iso_utc  # noqa: E402
from bot.models import Actor, Place, Role  # noqa: E402
from bot.storage import papers_repo, sources_repo  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.app import App  # noqa: E402
from commands import create_app  # noqa: E402
from feeds.papers import parse_arxiv_api, parse_arxiv_rss, parse_hf_daily  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
API_100 = FIXTURES / "q_testing_s0_m100_cfe7536492ca.xml"
RSS = FIXTURES / "quant-ph_2025-04-28.xml"
HF = FIXTURES / "daily_papers_2026-08-21_reserialized.json"
TODAY = date(2026, 8, 24)


def throughput(label: str, body: bytes, ours, repeat: int) -> None:  # noqa: ANN001
    items = len(ours(body).items)
    started = time.perf_counter()
    for _ in range(repeat):
        ours(body)
    mine = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(repeat):
        parsed = feedparser.parse(body)
    theirs = time.perf_counter() - started
    print(
        f"{label:<24} {items:>4} items  ours {items * repeat / mine:>9,.0f} items/s ({mine / repeat * 1000:6.2f} ms/feed)"
        f"   feedparser {len(parsed.entries) * repeat / theirs:>8,.0f} items/s ({theirs / repeat * 1000:6.2f} ms/feed)"
        f"   {theirs / mine:4.1f}x"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def fill(db: Database, count: int, quiet: bool = False) -> None:
    """50,000 papers made from the real samples: new ids, varied titles, spread over 60 days
    (about 830 a day, far more than a day of cs.LG + cs.CL), about one in seven with HF signals.
    The same papers every time (bench/search_overlap.py stores them on both engines)."""
    rng = random.Random(5)
    base = parse_arxiv_api(API_100.read_bytes()).items + parse_arxiv_rss(RSS.read_bytes()).items
    hf = parse_hf_daily(HF.read_bytes()).items
    cats = ["cs.LG", "cs.CL", "cs.CV", "stat.ML", "cs.AI", "quant-ph", "cs.SE", "math.OC"]
    words = "diffusion transformer graph reinforcement retrieval agent quantum sparse kernel bandit".split()
    now = iso_utc(datetime.now(timezone.utc))
    started = time.perf_counter()
    for start in range(0, count, 1000):
        async with db.transaction() as conn:
            for n in range(start, min(count, start + 1000)):
                day = TODAY - timedelta(days=n % 60)
                src = hf[n % len(hf)] if n % 7 == 0 else base[n % len(base)]  # ~14% also on Hugging Face
                item = replace(
                    src,
                    arxiv_id=f"{day:%y%m}.{n:05d}",
                    title=f"{src.title} {rng.choice(words)} {n}",
                    categories=[rng.choice(cats), rng.choice(cats)],
                    primary_category=None,
                    published=f"{day}T12:00:00Z",
                    announce_type="new" if src.source != "hf-daily" else None,
                    source="arxiv-rss" if src.source != "hf-daily" else "hf-daily",
                    upvotes=rng.randint(0, 300) if src.source == "hf-daily" else None,
                )
                await papers_repo.upsert(
                    conn, item, now,
                    hf_day=day.isoformat() if item.source == "hf-daily" else None,
                    announced_on=day.isoformat() if item.source != "hf-daily" else None,
                )
    took = time.perf_counter() - started
    if not quiet:
        print(f"stored {count:,} papers in {took:.1f} s ({count / took:,.0f}/s)")


async def latency(app: App, queries: int) -> None:
    mod = Actor("console:mod", "mod", Role.MODERATOR)
    member = Actor("console:you", "you")
    rng = random.Random(9)
    channels = [Place("console", "bench", f"c{i}", f"c{i}") for i in range(queries)]
    for place in channels:
        await app.handle(mod, place, f"/papers follow {rng.choice(['cs.LG', 'cs.CL', 'cs.CV'])} stat.ML")

    async def timed(place: Place, line: str) -> float:
        started = time.perf_counter()
        reply = await app.handle(member, place, line)
        assert reply.kind in ("info", "nomatch"), reply.text
        return (time.perf_counter() - started) * 1000

    first = [await timed(p, "/paper today") for p in channels]
    again = [await timed(p, "/paper today") for p in channels]
    words = "diffusion transformer graph neural testing quantum agent retrieval deep learning models sparse".split()
    searches, remote = [], []
    for _ in range(queries):
        line = "/paper search " + " ".join(rng.sample(words, rng.randint(1, 3))) + rng.choice(["", " cs.LG"])
        before = await sources_repo.get(app.db, "arxiv-api")
        took = await timed(channels[0], line)
        after = await sources_repo.get(app.db, "arxiv-api")
        asked = (after.failures if after else 0) != (before.failures if before else 0)
        (remote if asked else searches).append(took)
    print(f"{len(remote)} of {queries} searches found fewer than 3 papers locally and also asked arXiv "
          f"(here a closed local port): p50 {statistics.median(remote) if remote else 0:.2f} ms")
    for label, values in (("/paper today (first of the day: choose)", first), ("/paper today (stored pick)", again),
                          ("/paper search (local)", searches)):
        print(f"{label:<42} p50 {statistics.median(values):6.2f} ms   p99 {percentile(values, 0.99):6.2f} ms   max {max(values):6.2f} ms")


async def main(count: int, queries: int, repeat: int) -> None:
    print("parse throughput (same bytes, same run):")
    throughput("arXiv API, 100 entries", API_100.read_bytes(), parse_arxiv_api, repeat)
    throughput("arXiv RSS, 81 items", RSS.read_bytes(), parse_arxiv_rss, repeat)
    started = time.perf_counter()
    for _ in range(repeat):
        parse_hf_daily(HF.read_bytes())
    took = time.perf_counter() - started
    print(f"{'HF daily, 17 papers':<24} {17:>4} items  ours {17 * repeat / took:>9,.0f} items/s (feedparser does not read JSON)")

    workdir = Path(tempfile.mkdtemp(prefix="careerbot-papers-"))
    app = await create_app(workdir / "papers.db", clock=frozen_clock(f"{TODAY}T12:00:00+00:00"))
    try:
        await fill(app.db, count)
        # Some search queries find too little locally and would ask arXiv: point the API at a
        # closed local port so the figure measures our side, with the fetch failing at once.
        app.config = replace(app.config, arxiv_api_url="http://127.0.0.1:9/api/query")
        await latency(app, queries)
    finally:
        await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.papers, args.queries, args.repeat))
