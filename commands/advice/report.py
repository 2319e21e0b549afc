"""What a moderator needs to know which advice entry to write next.

Shared by ``/advice report`` (one community) and ``careerbot advice report`` (every community
on this install). Questions are shown as students typed them, mention-defused; who asked is
never stored, so never shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.clock import iso_utc
from bot.storage import advice_repo
from bot.storage.db import Database
from bot.text import quote_input

if TYPE_CHECKING:
    from commands.advice import AdviceService


async def build_report(
    db: Database, svc: "AdviceService", since: datetime, workspace: str | None, days: int, limit: int = 10
) -> str:
    start = iso_utc(since)
    counts = await advice_repo.ask_counts(db, start, workspace)
    total = sum(counts.values())
    where = "here" if workspace else "in every community"
    if not total:
        return f"No advice questions were asked {where} in the last {days} days."
    lines = [
        f"Advice {where}, last {days} days: {total} question{'s' if total != 1 else ''} — "
        f"{counts.get('answer', 0)} answered, {counts.get('unsure', 0)} unsure, {counts.get('refused', 0)} refused."
    ]
    missed = await advice_repo.refused_questions(db, start, workspace, limit)
    if missed:
        lines.append("")
        lines.append("Asked but not answered (refused) or not sure which entry (unsure):")
        for r in missed:
            how = "refused" if r["refused"] == r["n"] else ("unsure" if not r["refused"] else "refused/unsure")
            lines.append(f"  {r['n']}× {quote_input(r['question'], 120)} ({how})")
    votes = await advice_repo.entry_votes(db, start, workspace)
    down = await advice_repo.downvoted_questions(db, start, workspace, limit)
    if votes:
        lines.append("")
        lines.append("Votes on answers (most 👎 first):")
        for r in votes[:limit]:
            entry = svc.entries.get(r["entry_id"])
            title = entry.title if entry else r["entry_id"]
            lines.append(f"  {title} ({r['entry_id']}): {r['down']} 👎, {r['up']} 👍")
    if down:
        lines.append("")
        lines.append("Questions whose answer was voted down:")
        for r in down:
            lines.append(f"  {r['n']}× {quote_input(r['question'], 120)} → {r['entry_id']}")
    if not missed and not votes:
        lines.append("Every question got an answer and no answer was voted down.")
    return "\n".join(lines)
