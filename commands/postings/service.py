"""Postings in, alerts out: ingestion from the poller, matching, capped posts and closed markers.

Ingestion runs inside the poll's transaction, so the postings, the matches queued for each
alert, the alert jobs and the source's health commit together or not at all. A source's
first successful fetch is a baseline: its postings are stored and searchable, but alert
no one (adding a 6,000-entry list must not flood anybody). After that, a posting is new
when its role (company, title, place) was never seen from any source, so the same role on
two lists alerts once. Each alert's job posts what matched, at most ``CAP`` postings per
hour per alert; the rest is summarized in one line. A posting that closes after it was
sent is marked closed in the sent post (edited where the platform allows), never re-sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.clock import iso_utc
from bot.delivery import Target
from bot.models import Card, LinkButton, Reply
from bot.scheduler import Outcome
from bot.storage import delivery_repo, jobs_repo, postings_repo, sources_repo
from bot.storage.delivery_repo import Problem
from bot.storage.jobs_repo import Job
from bot.storage.postings_repo import Alert, StoredPosting, join_terms
from bot.storage.sources_repo import Source
from bot.text import shorten
from commands.postings.filters import build_index
from feeds import postings as parsers
from feeds.papers import FeedError
from feeds.poller import Fetched, SourceKind, every, poller

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger("careerbot.postings")

ALERT_JOB = "alert"
CLOSED_JOB = "posting-closed"
POLL_EVERY = timedelta(minutes=30)
CAP = {"channel": 10, "user": 20}  # postings per alert per hour; more are summarized in one line
WINDOW = timedelta(hours=1)
SEASON_NAMES = {"summer": "Summer", "fall": "Fall", "winter": "Winter", "spring": "Spring"}
CLOSED_MARK = "Closed: "


def posting_id(dedupe_key: str) -> str:
    """Short, stable, from the app: the same role always gets the same id, on any database."""
    return hashlib.sha1(dedupe_key.encode("utf-8")).hexdigest()[:8]


def role_key(p: parsers.Posting) -> str:
    """Company, title and place (the same role on two lists), plus the season's year: a list
    that re-posts last summer's role for next summer has a new posting, which should alert."""
    years = sorted({s.rsplit("-", 1)[-1] for s in p.seasons})
    return f"{p.dedupe_key()}|{years[0] if years else ''}"


def source_name(kind: str, url: str) -> str:
    return "jobs-" + hashlib.sha1(f"{kind} {url}".encode("utf-8")).hexdigest()[:6]


def season_label(slug: str) -> str:
    word, _, year = slug.partition("-")
    return f"{SEASON_NAMES.get(word, word.title())} {year}".strip()


class PostingsService:
    def __init__(self, app: "App") -> None:
        self.app = app
        self.poller = poller(app)
        for kind in (*parsers.KINDS, "auto"):
            self.poller.add_kind(SourceKind(
                kind, self._parse, self._store, every(POLL_EVERY), max_bytes=parsers.MAX_BODY, guarded=True,
            ))
        app.scheduler.handle(ALERT_JOB, self.run_alert)
        app.scheduler.handle(CLOSED_JOB, self.mark_closed)
        app.outbox.problem_listeners.append(self._on_problem)

    # -- parsing and storing ------------------------------------------------------------------
    def _parse(self, body: bytes, source: Source) -> parsers.PostingsResult:
        kind = source.kind
        if kind == "auto":
            kind = parsers.sniff_kind(body) or ""
            if not kind:
                raise FeedError("this is not a job feed (not a SimplifyJobs listings.json, an RSS/Atom feed or a JSON job list)")
        if kind == "json":
            return parsers.parse_json(body, source.options.get("mapping") or None)
        result = parsers.PARSERS[kind](body)
        result.kind = kind  # type: ignore[attr-defined]  # what "auto" turned out to be
        return result

    async def _store(self, conn: aiosqlite.Connection, source: Source, fetched: list[Fetched], now: datetime) -> int:
        stamp = iso_utc(now)
        baseline = source.baseline_at is None
        result: parsers.PostingsResult = fetched[0].parsed
        resolved = getattr(result, "kind", None)
        if source.kind == "auto" and resolved:
            await sources_repo.set_kind(conn, source.name, resolved)
        known = await postings_repo.source_items(conn, source.name)
        by_item: dict[str, Any] = {}
        for p in result.items:
            by_item.setdefault(p.source_id, p)  # the parser already made repeated ids distinct
        fresh = {iid: p for iid, p in by_item.items() if iid not in known}
        keys = {iid: role_key(p) for iid, p in fresh.items()}
        ids = {iid: posting_id(key) for iid, key in keys.items()}
        existing = await postings_repo.existing_ids(conn, sorted(set(ids.values())))
        rows, created = [], {}
        for iid, p in fresh.items():
            pid = ids[iid]
            if pid in existing or pid in created:
                continue
            created[pid] = p
            rows.append((
                pid, keys[iid], p.company, p.title, json.dumps(p.locations, ensure_ascii=False), join_terms(p.places),
                1 if p.remote else 0, join_terms(p.seasons), p.category, p.sponsorship, join_terms(p.degrees), p.url,
                p.posted_at, 1 if p.active else 0, stamp, stamp,
            ))
        await postings_repo.insert_postings(conn, rows)
        items = [(source.name, iid, ids[iid], 1 if p.active else 0, p.url, stamp) for iid, p in fresh.items()]
        # What changed on entries we had: closed, reopened, a new url.
        changed: list[str] = []
        for iid, p in by_item.items():
            old = known.get(iid)
            if old and (old[1] != p.active or old[2] != p.url):
                items.append((source.name, iid, old[0], 1 if p.active else 0, p.url, stamp))
                changed.append(old[0])
        if (source.kind == "simplify" or resolved == "simplify") and not baseline:
            # A cumulative list: an entry that vanished (or was hidden) was taken down.
            for iid, (pid, active, url) in known.items():
                if active and iid not in by_item:
                    items.append((source.name, iid, pid, 0, url, stamp))
                    changed.append(pid)
        await postings_repo.insert_items(conn, items)
        for pid in dict.fromkeys(changed):
            was, now_open = await postings_repo.refresh_state(conn, pid, stamp)
            if was and not now_open:
                await self.app.scheduler.schedule(CLOSED_JOB, pid, now, conn)
        if not baseline and created:
            await self._match(conn, source, {pid: p for pid, p in created.items() if p.active}, now)
        return len(created)

    async def _match(self, conn: aiosqlite.Connection, source: Source, new: dict[str, parsers.Posting], now: datetime) -> None:
        alerts = await postings_repo.active_alerts(conn, await sources_repo.workspaces_of(conn, source.name))
        if not alerts:
            return
        index = build_index((alert_id, text) for alert_id, _, text in alerts)
        stamp = iso_utc(now)
        queued = [(alert_id, pid, stamp) for pid, posting in new.items() for alert_id in index.match(posting)]
        await postings_repo.enqueue(conn, queued)
        for alert_id in sorted({a for a, _, _ in queued}):
            if not await jobs_repo.exists(conn, ALERT_JOB, str(alert_id)):  # one waiting for hourly room keeps its time
                await self.app.scheduler.schedule(ALERT_JOB, str(alert_id), now, conn)

    def start(self) -> None:
        """Alerts and closings are scheduler jobs; nothing of its own to start."""

    async def stop(self) -> None:
        """Polls still running belong to the poller, which ends them."""

    # -- posting alerts -----------------------------------------------------------------------
    async def run_alert(self, job: Job, at: datetime) -> Outcome:
        alert = await postings_repo.get_alert(self.app.db, int(job.ref))
        if alert is None or alert.paused:
            return Outcome(next_due=None)
        pending = await postings_repo.get_many(self.app.db, await postings_repo.queued(self.app.db, alert.id))
        gone = [p.id for p in pending if not p.active]  # closed before it could be sent: drop it
        pending = [p for p in pending if p.active]
        cap = CAP[alert.target_kind]
        recent = await postings_repo.sent_since(self.app.db, alert.id, iso_utc(at - WINDOW))
        room = cap - len(recent)
        if pending and room <= 0:
            return Outcome(next_due=datetime.fromisoformat(recent[0]) + WINDOW)
        send, overflow = pending[:room], pending[room:]
        reply = self.alert_reply(alert, send, len(overflow)) if send else None
        target = (
            Target.user(alert.platform, alert.workspace, alert.channel, alert.channel_name)
            if alert.is_user else Target(alert.platform, alert.workspace, alert.channel, alert.channel_name)
        )

        async def write(conn: aiosqlite.Connection) -> None:
            if await postings_repo.get_alert_in(conn, alert.id) is None:
                return  # removed while we were building the post
            stamp = iso_utc(at)
            if reply is not None:
                keys = await self.app.outbox.queue(conn, target, "alert", f"{alert.id}-{stamp}", reply, at)
                await postings_repo.record_sends(conn, alert.id, [p.id for p in send], " ".join(keys), stamp)
            await postings_repo.record_sends(conn, alert.id, [p.id for p in overflow] + gone, None, stamp)

        return Outcome(next_due=None, write=write)

    def alert_reply(self, alert: Alert, postings: list[StoredPosting], more: int) -> Reply:
        frontend = self.app.frontend(alert.platform)
        head = f"New internship postings for alert #{alert.id} ({alert.filters or 'everything'}):"
        if len(postings) == 1:
            head = f"A new internship posting for alert #{alert.id} ({alert.filters or 'everything'}):"
        text = head
        if more:
            query = f"postings latest {alert.filters}".strip()
            text += f"\n…and {more} more: {frontend.cmd(query)}"
        return Reply(text=text, cards=[posting_card(p) for p in postings])

    # -- closing ----------------------------------------------------------------------------------
    async def mark_closed(self, job: Job, at: datetime) -> Outcome:
        """Edits every sent post that carried this posting to say it closed (where the platform can)."""
        posting = await postings_repo.get(self.app.db, job.ref)
        if posting is None or posting.active:
            return Outcome(next_due=None)  # reopened meanwhile: nothing to mark
        marked: list[int] = []
        for alert_id, keys in await postings_repo.sends_of(self.app.db, posting.id):
            edited = False
            for key in keys.split():
                row = await delivery_repo.by_key(self.app.db, key)
                if row is None:
                    continue
                reply = Reply.from_dict(json.loads(row.payload))
                if not close_card(reply, posting.id):
                    continue
                edited = await self.app.outbox.edit(key, reply) or edited
            if edited:
                marked.append(alert_id)

        async def write(conn: aiosqlite.Connection) -> None:
            await postings_repo.mark_closed_noted(conn, posting.id, marked)

        return Outcome(next_due=None, write=write)

    async def _on_problem(self, problem: Problem) -> None:
        """A person who does not accept DMs (or left): pause their alerts instead of failing each time."""
        if not problem.is_user or not problem.target_gone:
            return
        for alert in await postings_repo.alerts_of_owner(self.app.db, problem.channel):
            if alert.is_user and alert.workspace == problem.workspace and not alert.paused:
                async with self.app.db.transaction() as conn:
                    await postings_repo.set_paused(conn, alert.id, True, f"I could not DM you: {problem.reason[:120]}")


# -- presenting ------------------------------------------------------------------------------------
def posting_card(p: StoredPosting) -> Card:
    facts = []
    where = ", ".join(p.locations[:4]) + (f" +{len(p.locations) - 4} more" if len(p.locations) > 4 else "")
    facts.append(where or ("Remote" if p.remote else "Location not given"))
    if p.remote and where and "remote" not in where.lower():
        facts.append("remote")
    if p.seasons:
        facts.append(", ".join(season_label(s) for s in p.seasons[:3]))
    facts.append(f"sponsorship: {p.sponsorship}")
    facts.append(p.category)
    if p.degrees:
        facts.append("/".join(p.degrees))
    footer = f"posting {p.id}" + (f" · posted {p.posted_at[:10]}" if p.posted_at else "")
    title = shorten(f"{p.company} — {p.title}", 250)
    if not p.active:
        title = shorten(CLOSED_MARK + title, 250)
        footer += " · closed"
    buttons = [LinkButton("Apply", p.url)] if p.url and p.active else []
    return Card(title=title, url=p.url if (p.url and p.active) else None, body=" · ".join(facts), footer=footer, buttons=buttons)


def close_card(reply: Reply, pid: str) -> bool:
    """Marks the card of posting ``pid`` closed in a sent reply; False if it is not there."""
    for card in reply.cards:
        if card.footer.startswith(f"posting {pid}") and not card.title.startswith(CLOSED_MARK):
            card.title = shorten(CLOSED_MARK + card.title, 250)
            card.url = None
            card.buttons = []
            card.footer += " · closed"
            return True
    return False
