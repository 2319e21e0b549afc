"""/digest: scheduled per-channel posts bundling what the registered providers have for a period.

A digest is a row plus a scheduler job. When the job runs it asks each provider for the
period since the last post (``covered_until``) up to the latest scheduled instant, builds one
message, and — in one transaction — queues it for delivery, records what the providers gave,
moves ``covered_until`` and lets the scheduler move the job. After downtime the same code
produces one catch-up post whose header says how many runs and which span it covers.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiosqlite

from bot.clock import iso_utc
from bot.context import Context
from bot.delivery import Target
from bot.models import ActionButton, Card, ChannelRef, Place, Reply, Role
from bot.providers import Period, Section
from bot.recurrence import Recurrence, parse_recurrence
from bot.registry import Arg, CommandError, Registry
from bot.scheduler import Outcome
from bot.settings import SettingError, format_when
from bot.storage import digest_repo, jobs_repo
from bot.storage.delivery_repo import Problem
from bot.storage.digest_repo import Digest
from bot.storage.jobs_repo import Job
from bot.text import quote_input

if TYPE_CHECKING:
    from bot.app import App

JOB_KIND = "digest"
MAX_PER_CHANNEL = 5
MAX_PER_WORKSPACE = 100


# -- building a digest -------------------------------------------------------------------------
def place_of(d: Digest) -> Place:
    return Place(d.platform, d.workspace.split(":", 1)[-1], d.channel, d.channel_name)


async def _settings(app: "App", place: Place) -> dict[str, Any]:
    return {e.key.name: e.value for e in await app.settings.effective(place.workspace_key, place.channel_id)}


def _when(moment: datetime, zone: ZoneInfo, settings: dict[str, Any], with_date: bool = True) -> str:
    local = moment.astimezone(zone)
    text = format_when(local, settings.get("date_format", "iso"), settings.get("time_format", "24h"), with_date)
    return f"{local:%a} {text}" if with_date else text


def period_line(rec: Recurrence, period: Period, zone: ZoneInfo, settings: dict[str, Any]) -> str:
    end = _when(period.end, zone, settings)
    if period.runs > 1:
        return (
            f"Catch-up: the bot was offline, so this one post covers {period.runs} scheduled runs, "
            f"from {_when(period.start, zone, settings)} to {end} ({zone.key})."
        )
    return f"Covers up to {end} ({zone.key})."


async def build(
    app: "App", d: Digest, period: Period, zone: ZoneInfo
) -> tuple[Reply | None, list[tuple[str, Section]]]:
    """The message for a period (None: nothing to post) and the sections that went into it."""
    place = place_of(d)
    settings = await _settings(app, place)
    rec = parse_recurrence(d.schedule)
    sections: list[tuple[str, Section]] = []
    for name in d.contents:
        provider = app.providers.find(name)
        if provider is None:
            continue  # a provider whose feature was removed: skip it rather than fail the digest
        section = await provider.collect(app, place, period, settings)
        if section is not None and section.cards:
            sections.append((provider.name, section))
    header = f"**Digest #{d.id}** · {rec.canonical()} · {period_line(rec, period, zone, settings)}"
    if not sections:
        quiet = settings.get("digest_quiet_line") or ""
        return (Reply(text=f"{header}\n{quiet}") if quiet else None), []
    cards: list[Card] = []
    for _, section in sections:
        for i, card in enumerate(section.cards):
            if i == 0 and section.title and not card.title.startswith(section.title):
                card.title = f"{section.title}: {card.title}" if card.title else section.title
            cards.append(card)
    notes = [s.note for _, s in sections if s.note]
    text = header + ("\n" + "\n".join(notes) if notes else "")
    return Reply(text=text, cards=cards), sections


async def run_job(app: "App", job: Job, at: datetime) -> Outcome:
    d = await digest_repo.get(app.db, int(job.ref))
    if d is None or d.paused:
        return Outcome(next_due=None)
    place = place_of(d)
    zone = await app.settings.zone(place)
    rec = parse_recurrence(d.schedule)
    end = rec.latest_at_or_before(at, zone)
    if end <= d.covered_until:
        return Outcome(next_due=rec.next_after(max(at, d.covered_until), zone))
    period = Period(start=d.covered_until, end=end, runs=max(1, rec.count_between(d.covered_until, end, zone)))
    reply, sections = await build(app, d, period, zone)
    target = Target(d.platform, d.workspace, d.channel, d.channel_name)

    async def write(conn: aiosqlite.Connection) -> None:
        if not await digest_repo.exists(conn, d.id):
            return  # removed or paused while we were building it: post nothing
        if reply is not None:
            await app.outbox.queue(conn, target, f"digest-{d.id}", iso_utc(end), reply, at)
        for provider, section in sections:
            await digest_repo.record_seen(
                conn, d.workspace, d.channel, provider, section.item_keys, iso_utc(at), section.restart_rotation
            )
        await digest_repo.set_covered(conn, d.id, iso_utc(end))

    return Outcome(next_due=rec.next_after(at, zone), write=write)


# -- keeping jobs right when the world changes ---------------------------------------------------
async def reschedule(app: "App", d: Digest) -> datetime:
    zone = await app.settings.zone(place_of(d))
    due = parse_recurrence(d.schedule).next_after(app.clock.now(), zone)
    await app.scheduler.schedule(JOB_KIND, str(d.id), due)
    return due


async def _on_setting(app: "App", workspace: str, channel: str, key: str) -> None:
    """A timezone change moves every affected digest's next run to the new local time."""
    if key != "timezone":
        return
    digests = await (digest_repo.in_channel(app.db, workspace, channel) if channel else digest_repo.in_workspace(app.db, workspace))
    for d in digests:
        if not d.paused:
            await reschedule(app, d)


async def _on_problem(app: "App", problem: Problem) -> None:
    """A channel we can no longer post to: pause its digests instead of failing every day."""
    if not problem.target_gone:
        return  # one post failed (e.g. an outage outlasted the retries); tomorrow's may well work
    for d in await digest_repo.in_channel(app.db, problem.workspace, problem.channel):
        if d.paused:
            continue
        async with app.db.transaction() as conn:
            await digest_repo.set_paused(conn, d.id, True, problem.reason[:200])
            await app.scheduler.cancel(JOB_KIND, str(d.id), conn)


async def setup(app: "App") -> None:
    app.scheduler.handle(JOB_KIND, lambda job, at: run_job(app, job, at))
    app.settings.on_change(lambda ws, ch, key: _on_setting(app, ws, ch, key))
    app.outbox.problem_listeners.append(lambda problem: _on_problem(app, problem))


# -- commands ------------------------------------------------------------------------------------
async def _own(ctx: Context, digest_id: int) -> Digest:
    d = await digest_repo.get(ctx.db, digest_id)
    if d is None or d.workspace != ctx.place.workspace_key:
        raise CommandError(f"There is no digest #{digest_id} in this server. {ctx.cmd('digest list')} shows them.")
    return d


def _parse_contents(ctx: Context, word: str) -> list[str]:
    names = [w for w in word.replace("+", ",").split(",") if w]
    available = ", ".join(ctx.app.providers.names()) or "none yet"
    if not names:
        raise CommandError(f"Say what the digest should contain: {available}.")
    out: list[str] = []
    for name in names:
        provider = ctx.app.providers.find(name)
        if provider is None:
            raise CommandError(f"{quote_input(name, 30)} is not something a digest can contain; available: {available}.")
        if provider.name not in out:
            out.append(provider.name)
    return out


async def _next_line(ctx: Context, d: Digest) -> str:
    if d.paused:
        return "paused" + (f" ({d.paused_reason})" if d.paused_reason else "")
    job = await jobs_repo.get(ctx.db, JOB_KIND, str(d.id))
    if job is None:
        return "not scheduled"
    place = place_of(d)
    zone = await ctx.app.settings.zone(place)
    settings = await _settings(ctx.app, place)
    return f"next {_when(job.due_at, zone, settings)} ({zone.key})"


async def _complete_digest(ctx: Context, prefix: str) -> list[tuple[str, str]]:
    """This server's digests as "#2 · tips · daily 09:00 · #news", matched on any of that."""
    out = []
    for d in await digest_repo.in_workspace(ctx.db, ctx.place.workspace_key):
        label = f"#{d.id} · {', '.join(d.contents)} · {d.schedule} · #{d.channel_name or d.channel}"
        if prefix.strip().lower().lstrip("#") in label.lower():
            out.append((label[:100], str(d.id)))
    return out[:25]


def register(registry: Registry) -> None:
    digest = registry.group("digest", "Scheduled digests posted to a channel.", min_role=Role.MODERATOR, dm_ok=False)

    @digest.command(
        "add",
        "Schedule a digest: CONTENTS (e.g. tips, or tips,papers) then a schedule, in the channel's timezone.",
        args=[
            Arg("contents", "what to include, comma-separated, e.g. tips", max_len=100),
            Arg("schedule", "daily, weekdays, weekends or weekly mon,thu, then a time such as 09:00", rest=True, max_len=100),
            Arg("channel", "where to post (default: this channel)", kind="channel", required=False, max_len=100),
        ],
    )
    async def add(ctx: Context, contents: str, schedule: str, channel: ChannelRef | None = None) -> Reply:
        providers = _parse_contents(ctx, contents)
        where = channel or ChannelRef(ctx.place.channel_id, ctx.place.channel_name)
        if await ctx.frontend.can_post(ctx.place, where.id) is False:
            raise CommandError(f"Nothing scheduled: I can't post in {where.label}. Give me permission to send messages there first.")
        channel, channel_name = where.id, where.name
        place = Place(ctx.place.platform, ctx.place.workspace_id, channel, channel_name)
        try:
            rec = parse_recurrence(schedule, await ctx.app.settings.get(place, "digest_time"))
        except SettingError as exc:
            raise CommandError(f"Nothing scheduled: {exc}.") from None
        workspace = ctx.place.workspace_key
        existing = await digest_repo.in_channel(ctx.db, workspace, channel)
        for d in existing:
            if d.schedule == rec.canonical() and list(d.contents) == providers:
                raise CommandError(f"Digest #{d.id} already posts {', '.join(providers)} {rec.canonical()} in {where.label}.")
        if len(existing) >= MAX_PER_CHANNEL:
            raise CommandError(f"{where.label} already has {len(existing)} digests (the most a channel can have); remove one first.")
        if await digest_repo.count(ctx.db, workspace) >= MAX_PER_WORKSPACE:
            raise CommandError(f"This server already has {MAX_PER_WORKSPACE} digests; remove some first.")
        zone = await ctx.app.settings.zone(place)
        now = ctx.now()
        due = rec.next_after(now, zone)
        async with ctx.db.transaction() as conn:
            digest_id = await digest_repo.insert(
                conn, ctx.place.platform, workspace, channel, channel_name, rec.canonical(), providers, ctx.actor.id, iso_utc(now)
            )
            await ctx.app.scheduler.schedule(JOB_KIND, str(digest_id), due, conn)
        settings = await _settings(ctx.app, place)
        return Reply(
            text=(
                f"Digest #{digest_id} will post {', '.join(providers)} in {where.label} {rec.canonical()} ({zone.key}); "
                f"first on {_when(due, zone, settings)}. {ctx.cmd(f'digest preview {digest_id}')} shows what it would post now."
            ),
            cards=[Card(buttons=[ActionButton("Preview", "digest preview", {"id": str(digest_id)})])],
        )

    @digest.command("list", "The digests of this server, with their next run.", min_role=Role.MEMBER)
    async def list_(ctx: Context) -> Reply:
        digests = await digest_repo.in_workspace(ctx.db, ctx.place.workspace_key)
        if not digests:
            return Reply(text=f"No digests yet. A moderator can add one, e.g. {ctx.cmd('digest add tips daily 09:00')}.")
        lines = [
            f"#{d.id} · #{d.channel_name or d.channel} · {', '.join(d.contents)} · {d.schedule} · {await _next_line(ctx, d)}"
            for d in digests
        ]
        # Moderators' shortcuts; a member who clicks one is refused like one who types it.
        buttons = [
            ActionButton(f"{'Resume' if d.paused else 'Pause'} #{d.id}", f"digest {'resume' if d.paused else 'pause'}", {"id": str(d.id)})
            for d in digests[:10]
        ]
        return Reply(cards=[Card(title="Digests", body="\n".join(lines), buttons=buttons)])

    id_arg = Arg("id", "the digest number from the digest list", kind="int", min_value=1, max_value=10**9,
                 complete=_complete_digest)

    @digest.command("remove", "Delete a digest; nothing more is posted for it.", args=[id_arg])
    async def remove(ctx: Context, id: int) -> Reply:  # noqa: A002
        d = await _own(ctx, id)
        async with ctx.db.transaction() as conn:
            await digest_repo.delete(conn, d.id)
            await ctx.app.scheduler.cancel(JOB_KIND, str(d.id), conn)
        return Reply(text=f"Digest #{d.id} ({', '.join(d.contents)} {d.schedule} in #{d.channel_name or d.channel}) is removed.")

    @digest.command("pause", "Stop a digest posting until it is resumed.", args=[id_arg])
    async def pause(ctx: Context, id: int) -> Reply:  # noqa: A002
        d = await _own(ctx, id)
        if d.paused:
            return Reply(text=f"Digest #{d.id} is already paused.")
        async with ctx.db.transaction() as conn:
            await digest_repo.set_paused(conn, d.id, True, f"paused by {ctx.actor.name}")
            await ctx.app.scheduler.cancel(JOB_KIND, str(d.id), conn)
        return Reply(text=f"Digest #{d.id} is paused. {ctx.cmd(f'digest resume {d.id}')} starts it again.")

    @digest.command("resume", "Start a paused digest again, from now on (no backlog).", args=[id_arg])
    async def resume(ctx: Context, id: int) -> Reply:  # noqa: A002
        d = await _own(ctx, id)
        if not d.paused:
            return Reply(text=f"Digest #{d.id} is not paused.")
        place = place_of(d)
        zone = await ctx.app.settings.zone(place)
        due = parse_recurrence(d.schedule).next_after(ctx.now(), zone)
        async with ctx.db.transaction() as conn:
            await digest_repo.set_paused(conn, d.id, False, None, covered_until=iso_utc(ctx.now()))
            await ctx.app.scheduler.schedule(JOB_KIND, str(d.id), due, conn)
        settings = await _settings(ctx.app, place)
        return Reply(text=f"Digest #{d.id} resumes; next post {_when(due, zone, settings)} ({zone.key}).")

    @digest.command("preview", "Show what a digest would post right now, without posting it.", args=[id_arg], ephemeral=True)
    async def preview(ctx: Context, id: int) -> Reply:  # noqa: A002
        d = await _own(ctx, id)
        zone = await ctx.app.settings.zone(place_of(d))
        now = ctx.now()
        period = Period(start=min(d.covered_until, now), end=now, runs=1)
        reply, _ = await build(ctx.app, d, period, zone)
        if reply is None:
            return Reply(text=f"Preview of digest #{d.id}: nothing new since the last post, so it would post nothing.", ephemeral=True)
        reply.text = f"Preview only, not posted:\n{reply.text}"
        reply.ephemeral = True
        return reply
