"""Paper search on both engines: how far PostgreSQL's weighted tsvector agrees with SQLite's FTS5.

The same papers are stored through ``papers_repo.upsert`` in the same order into a fresh SQLite
file and a fresh PostgreSQL schema, then ~50 varied queries (topics, phrases, author names,
hyphenated words, stop words, an operator-looking "or", category-narrowed ones) go through
``papers_repo.search`` on each. Prints, per engine pair, the overlap of the top 10 (|A ∩ B| /
max(|A|, |B|); what users see is the top 5, printed too), how often the engines found the same
*set* of matches (ranking aside), and the queries that disagree most. Prints figures; asserts
nothing.

    python bench/search_overlap.py [--postgres URL] [--generated N] [--show N]

The data is the real samples in tests/fixtures/feeds (203 papers) unless ``--generated N``
asks for bench/papers.py's N generated papers (real texts reused with varied titles: many
near-ties, so a harsher test of the ranking than of the matching). PostgreSQL comes from
``--postgres`` or, as in the tests, from PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE; a schema
of the run's own is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import iso_utc
from bot.storage import papers_repo
from bot.storage.db import open_database
from bot.config import db_label
from feeds.papers import FeedError, parse_arxiv_api, parse_arxiv_rss, parse_hf_daily
from tests.conftest import postgres_schema, postgres_url

FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
ALL_MATCHES = 1_000_000_000  # a limit no query reaches: the whole match set

# (words, category): topics of the samples (software testing, statistics, quantum physics, ML),
# phrases, author surnames, hyphens and apostrophes, stop words, words absent from every paper.
QUERIES: list[tuple[str, str | None]] = [
    ("testing", None), ("quantum", None), ("entanglement", None), ("mutation testing", None),
    ("deep learning testing", None), ("hypothesis testing", None), ("large language models", None),
    ("test case generation", None), ("reinforcement learning", None), ("fuzzing", None),
    ("web testing", None), ("android apps", None), ("gaussian process", None), ("autonomous driving", None),
    ("unit test generation", None), ("property-based testing", None), ("continuous integration", None),
    ("many-body", None), ("state-of-the-art", None), ("photon", None), ("topological phases", None),
    ("graph neural network", None), ("adversarial examples", None), ("benchmark", None), ("agents", None),
    ("retrieval", None), ("diffusion", None), ("transformer", None), ("entanglement entropy", None),
    ("noise", None), ("measurement", None), ("verification", None), ("regression", None),
    ("flaky tests", None), ("statistical tests", None), ("two-sample test", None), ("hamiltonian", None),
    ("qubits", None), ("open quantum systems", None), ("spin chain", None), ("Znojil", None),
    ("Ricca", None), ("Tambon mutation", None), ("the", None), ("testing of the models", None),
    ("testing or quantum", None), ("don't", None), ("bayesian inference", None), ("neural network testing", None),
    ("simulation", None), ("coverage criteria", None), ("sample complexity", None), ("zebra lasagna", None),
    ("testing", "cs.SE"), ("testing", "math.ST"), ("quantum", "quant-ph"), ("learning", "cs.LG"),
    ("models", "cs.SE"),
]


def sample_papers() -> list:
    """Every paper in the sample feeds, in a fixed order (repeats too: later ones merge)."""
    items = []
    for path in sorted(FIXTURES.glob("*.xml")):
        body = path.read_bytes()
        for parse in (parse_arxiv_api, parse_arxiv_rss):
            try:
                found = parse(body).items
            except FeedError:  # an error feed, or the other kind: try the next parser
                continue
            if found:
                items += found
                break
    return items + parse_hf_daily((FIXTURES / "daily_papers_2026-08-21_reserialized.json").read_bytes()).items


async def load(db, generated: int) -> float:
    started = time.perf_counter()
    if generated:
        from bench.papers import fill

        await fill(db, generated, quiet=True)
    else:
        now = iso_utc(datetime(2026, 8, 24, 12, tzinfo=timezone.utc))
        async with db.transaction() as conn:
            for item in sample_papers():
                await papers_repo.upsert(conn, item, now, hf_day=item.listed_on if item.source == "hf-daily" else None)
    return time.perf_counter() - started


async def run(db, queries: list[tuple[str, str | None]]) -> tuple[list[list[str]], list[set[str]], list[float]]:
    tops, matches, took = [], [], []
    for words, category in queries:
        started = time.perf_counter()
        tops.append([p.arxiv_id for p in await papers_repo.search(db, words, category, 10)])
        took.append((time.perf_counter() - started) * 1000)
        matches.append({p.arxiv_id for p in await papers_repo.search(db, words, category, ALL_MATCHES)})
    return tops, matches, took


def overlap(a: list[str], b: list[str], k: int) -> float | None:
    a, b = a[:k], b[:k]
    if not a and not b:
        return None  # neither found anything: agreement, but nothing to rank
    return len(set(a) & set(b)) / max(len(a), len(b))


async def main(args: argparse.Namespace) -> int:
    url = args.postgres or postgres_url()
    if url is None:
        print("No PostgreSQL: pass --postgres URL or set PGHOST/PGPORT (e.g. inside pg_virtualenv).", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="careerbot-overlap-"))
    lite = pg = None
    async with postgres_schema(url, prefix="overlap") as pg_url:
        try:
            lite = await open_database(workdir / "papers.db")
            pg = await open_database(pg_url)
            loaded = {name: await load(db, args.generated) for name, db in (("sqlite", lite), ("postgres", pg))}
            stored = await papers_repo.count(lite), await papers_repo.count(pg)
            print(f"data: {'bench/papers.py generated' if args.generated else 'tests/fixtures/feeds'}, "
                  f"{stored[0]:,} papers on SQLite, {stored[1]:,} on PostgreSQL ({db_label(pg_url)}); "
                  f"loaded in {loaded['sqlite']:.1f} s / {loaded['postgres']:.1f} s")
            a_top, a_all, a_ms = await run(lite, QUERIES)
            b_top, b_all, b_ms = await run(pg, QUERIES)
        finally:
            for db in (lite, pg):
                if db is not None:
                    await db.close()

    print(f"{len(QUERIES)} queries ({sum(1 for _, c in QUERIES if c)} narrowed to a category)")
    for k in (10, 5):
        scores = [s for s in (overlap(a, b, k) for a, b in zip(a_top, b_top)) if s is not None]
        print(f"overlap@{k:<2}  mean {statistics.mean(scores):.3f}   median {statistics.median(scores):.3f}   "
              f"min {min(scores):.3f}   identical sets {sum(s == 1.0 for s in scores)}/{len(scores)} "
              f"(queries where either engine found something)")
    same_order = sum(a[:10] == b[:10] for a, b in zip(a_top, b_top))
    print(f"same top 10 in the same order: {same_order}/{len(QUERIES)}")
    jaccard = [len(a & b) / len(a | b) for a, b in zip(a_all, b_all) if a | b]
    print(f"match sets (no limit): identical for {sum(a == b for a, b in zip(a_all, b_all))}/{len(QUERIES)} queries, "
          f"mean Jaccard {statistics.mean(jaccard):.3f}; empty on both for {sum(1 for a, b in zip(a_all, b_all) if not a | b)}, "
          f"only on SQLite for {sum(1 for a, b in zip(a_all, b_all) if a and not b)}, only on PostgreSQL for "
          f"{sum(1 for a, b in zip(a_all, b_all) if b and not a)}")
    print(f"search latency (top 10): SQLite p50 {statistics.median(a_ms):.2f} ms, max {max(a_ms):.2f} ms; "
          f"PostgreSQL p50 {statistics.median(b_ms):.2f} ms, max {max(b_ms):.2f} ms")
    rows = sorted(
        ((overlap(a, b, 10), q, len(ma), len(mb)) for a, b, q, ma, mb in zip(a_top, b_top, QUERIES, a_all, b_all)),
        key=lambda r: (r[0] if r[0] is not None else 2.0),
    )
    print("least agreement (overlap@10, matches on SQLite / PostgreSQL):")
    for score, (words, category), na, nb in rows[: args.show]:
        shown = "n/a (none found)" if score is None else f"{score:.2f}"
        print(f"  {shown:>5}  {words!r}{' in ' + category if category else ''}: {na} / {nb}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to create a scratch schema on (default: PG* env)")
    parser.add_argument("--generated", type=int, default=0, metavar="N", help="use N generated papers instead of the samples")
    parser.add_argument("--show", type=int, default=10, help="how many of the least agreeing queries to list")
    sys.exit(asyncio.run(main(parser.parse_args())))
