"""The paper-of-the-day rule, in one place so it can be explained and tested.

For a channel and its local date:

1. Candidates are papers in any of the channel's arXiv categories that were on Hugging Face's
   daily list in the last ``WINDOW_DAYS`` days and have had at least a day there, so their
   upvotes have settled; papers this channel already had (any version) are excluded.
2. They are ranked by settled upvotes (the newest count seen at least a day after listing),
   times ``CODE_BONUS`` when a code repository is linked and ``KEYWORD_BONUS`` when the title
   or abstract contains one of the channel's keywords. Ties go to the newer paper.
3. If Hugging Face has nothing for those categories (weekends, niche fields), the fallback is
   the newest ``new`` arXiv announcement in the categories, preferring keyword matches.
4. The result is stored per (channel, day): everyone sees the same paper all day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.storage import papers_repo
from bot.storage.db import Database
from bot.storage.papers_repo import StoredPaper

WINDOW_DAYS = 4
CODE_BONUS = 1.2
KEYWORD_BONUS = 1.5


@dataclass
class Choice:
    paper: StoredPaper
    reason: str


def keyword_hits(paper: StoredPaper, keywords: list[str]) -> list[str]:
    text = f"{paper.title} {paper.abstract}".lower()
    return [k for k in keywords if re.search(rf"(?<!\w){re.escape(k.lower())}", text)]


async def choose(
    db: Database, categories: list[str], keywords: list[str], day: date, exclude: set[str]
) -> Choice | None:
    since = (day - timedelta(days=WINDOW_DAYS)).isoformat()
    settled_by = (day - timedelta(days=1)).isoformat()
    scored: list[tuple[float, str, str, StoredPaper, int, list[str]]] = []
    listed = [p for p in await papers_repo.candidates(db, categories, since, exclude, hf_only=True)
              if p.hf_day and p.hf_day <= settled_by]
    signals = await papers_repo.latest_signals(db, [p.arxiv_id for p in listed])
    for paper in listed:
        # Settled: the newest count, if it was seen at least a day after the paper was listed.
        day_after = (date.fromisoformat(paper.hf_day or "") + timedelta(days=1)).isoformat()
        latest = signals.get(paper.arxiv_id)
        upvotes = latest[0] if latest and latest[1] >= day_after else (paper.upvotes or 0)
        hits = keyword_hits(paper, keywords)
        score = upvotes * (CODE_BONUS if paper.code_url else 1.0) * (KEYWORD_BONUS if hits else 1.0)
        scored.append((score, paper.published or "", paper.arxiv_id, paper, upvotes, hits))
    if scored:
        scored.sort(key=lambda s: (s[0], s[1], s[2]), reverse=True)
        _, _, _, paper, upvotes, hits = scored[0]
        await papers_repo.attach(db, [paper])
        parts = [f"{upvotes} upvote{'s' if upvotes != 1 else ''} on Hugging Face"]
        if paper.code_url:
            parts.append("code available")
        if hits:
            parts.append(f"matches {', '.join(repr(h) for h in hits[:3])}")
        return Choice(paper, ", ".join(parts))
    fresh = await papers_repo.candidates(db, categories, since, exclude, hf_only=False)
    if not fresh:
        return None
    fresh.sort(key=lambda p: (bool(keyword_hits(p, keywords)), p.announced_on or "", p.published or "", p.arxiv_id), reverse=True)
    paper = fresh[0]
    await papers_repo.attach(db, [paper])
    hits = keyword_hits(paper, keywords)
    cats = ", ".join(c for c in paper.categories if c in categories) or ", ".join(categories)
    reason = f"newest new announcement in {cats}"
    if hits:
        reason += f" matching {', '.join(repr(h) for h in hits[:3])}"
    return Choice(paper, reason + " (Hugging Face has nothing settled for these categories yet)")
