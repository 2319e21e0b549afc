"""/postings and /alerts: internship postings from real lists, filtered the way students ask.

Sources are per server: a moderator adds a list (``/postings source add URL``), the shared
poller fetches it every 30 minutes, and members search what it brought or set alerts,
personal ones by DM or channel ones (moderators). Every command answers from the local store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import iso_utc
from bot.context import Context
from bot.models import Card, ChannelRef, Place, Reply, Role
from bot.providers import Period, Section
from bot.registry import Arg, CommandError, Registry
from bot.storage import digest_repo, postings_repo, sources_repo
from bot.storage.postings_repo import Alert, StoredPosting
from bot.storage.sources_repo import Source
from bot.text import quote_input, shorten
from commands.postings.filters import Filter, FilterError, build_index, parse_filter
from commands.postings.service import CAP, POLL_EVERY, PostingsService, posting_card, source_name
from feeds.guard import UrlRefused, check_shape
from feeds.postings import KINDS

if TYPE_CHECKING:
    from bot.app import App

STATE_KEY = "postings"
SHOWN = 8  # postings per reply
DIGEST_SHOWN = 10
TEST_WINDOW = timedelta(days=7)
MAX_PERSONAL = 10
MAX_PER_CHANNEL = 10
MAX_PER_WORKSPACE = 200
MAX_SOURCES = 10
ADD_DEADLINE = 2.0  # seconds /postings source add waits for the first fetch before answering
EXAMPLE = "remote sponsorship:yes category:ai-ml season:summer-2027"


def service(ctx_or_app: Any) -> PostingsService:
    app = getattr(ctx_or_app, "app", ctx_or_app)
    return app.state[STATE_KEY]


def _filter(text: str | None, ctx: Context) -> Filter:
    try:
        return parse_filter(text or "")
    except FilterError as exc:
        raise CommandError(f"{exc}. Example: {ctx.cmd('alerts add ' + EXAMPLE)}") from None


def _workspace(ctx: Context) -> str:
    if not ctx.place.workspace_id:
        raise CommandError("Postings come from the lists a server's moderators added: use this in a server channel (the reply is only for you).")
    return ctx.place.workspace_key


async def _matching(ctx: Context, flt: Filter, since: str | None = None) -> list[StoredPosting]:
    rows = await postings_repo.visible(ctx.db, _workspace(ctx))
    found = [p for p in rows if flt.matches(p)]
    if since is not None:
        found = [p for p in found if (p.posted_at or p.first_seen) >= since]
    return found


def _no_sources_line(ctx: Context) -> str:
    return f"This server has no posting sources yet. A moderator can add one: {ctx.cmd('postings source add URL')}"


def _listing(ctx: Context, title: str, found: list[StoredPosting]) -> Reply:
    shown = found[:SHOWN]
    more = len(found) - len(shown)
    text = f"{title} ({len(found)} open posting{'s' if len(found) != 1 else ''}):"
    if more:
        text += f" showing the newest {len(shown)}. Narrow it with filters, e.g. {ctx.cmd('postings latest ' + EXAMPLE)}"
    return Reply(text=text, cards=[posting_card(p) for p in shown])


# -- sources --------------------------------------------------------------------------------------
def source_line(s: Source, postings: int | None = None) -> str:
    when = (s.last_success or "")[:16].replace("T", " ")
    state = {
        "ok": f"ok, last success {when} UTC",
        "never": "not fetched yet",
        "failing": f"failing ({s.failures} in a row)",
        "unhealthy": f"unreachable since {(s.failing_since or '')[:16].replace('T', ' ')} UTC",
    }[s.status]
    counts = f"{s.items_last or 0} entries in the last fetch, {s.items_total} postings brought"
    error = f"; last error: {shorten(s.last_error or '', 100)}" if s.status in ("failing", "unhealthy") and s.last_error else ""
    return f"`{s.name}` · {s.kind} · {state} · {counts}{error}\n{shorten(s.url, 200)}"


class PostingsProvider:
    """Digest section: new postings matching the channel's alerts (or all, without alerts) since the last digest."""

    name = "postings"
    title = "New internship postings"
    help = "new postings matching the channel's alerts since the last digest, and alerted postings that closed"

    async def collect(self, app: "App", place: Place, period: Period, settings: dict[str, Any]) -> Section | None:
        alerts = [a for a in await postings_repo.channel_alerts(app.db, place.workspace_key, place.channel_id) if not a.paused]
        rows = await postings_repo.visible(app.db, place.workspace_key, since=iso_utc(period.start), until=iso_utc(period.end))
        seen = await digest_repo.seen(app.db, place.workspace_key, place.channel_id, self.name)
        if alerts:
            index = build_index((a.id, a.filters) for a in alerts)
            rows = [p for p in rows if index.match(p)]
        rows = [p for p in rows if f"p:{p.id}" not in seen]
        closed = [p for _, p in await postings_repo.closed_unmarked(app.db, [a.id for a in alerts], iso_utc(period.end))]
        closed = [p for p in dict((p.id, p) for p in closed).values() if f"closed:{p.id}" not in seen]
        if not rows and not closed:
            return None
        cards = [posting_card(p) for p in rows[:DIGEST_SHOWN]]
        notes = []
        if len(rows) > DIGEST_SHOWN:
            notes.append(f"…and {len(rows) - DIGEST_SHOWN} more new postings: {app.frontend(place.platform).cmd('postings latest')}")
        if closed:
            names = "; ".join(f"{p.company} — {p.title} ({p.id})" for p in closed[:10])
            notes.append(f"Closed since they were posted here: {shorten(names, 900)}")
        if not cards:
            cards = [Card(title=self.title, body="No new postings.")]
        keys = [f"p:{p.id}" for p in rows] + [f"closed:{p.id}" for p in closed]
        return Section(self.title, cards, item_keys=keys, note="\n".join(notes))


class PostingsData:
    """For /me export and /me forget: a person's DM alerts; channel alerts they created stay, unnamed."""

    name = "alerts"

    def __init__(self, app: "App") -> None:
        self.app = app

    async def export(self, db: Any, user_id: str) -> Any:
        return [{"id": a.id, "filters": a.filters, "to": "your DMs" if a.is_user else f"#{a.channel_name or a.channel}",
                 "paused": a.paused, "created_at": a.created_at} for a in await postings_repo.alerts_of_owner(db, user_id)]

    async def forget(self, conn: Any, user_id: str) -> dict[str, int]:
        mine = await postings_repo.forget_owner(conn, user_id)
        for alert_id in mine:
            await self.app.scheduler.cancel("alert", str(alert_id), conn)
        return {"posting alerts": len(mine)}


async def setup(app: "App") -> None:
    app.personal_data.append(PostingsData(app))
    svc = PostingsService(app)
    await svc.poller.load()
    app.state[STATE_KEY] = svc
    app.services.append(svc)
    app.providers.add(PostingsProvider(), aliases=("jobs", "internships"))
    app.notice_sources.append(_source_notices)


async def _source_notices(ctx: Context) -> list[str]:
    """Tells a moderator once per incident that one of this server's posting sources is down."""
    svc = service(ctx)
    if not svc.poller.unhealthy:
        return []
    incidents = await sources_repo.unnoticed_incidents(ctx.db, ctx.place.workspace_key, "postings", linked_only=True)
    if not incidents:
        return []
    await sources_repo.mark_noticed(ctx.db, ctx.place.workspace_key, incidents)
    return [f"Postings: source `{s.name}` is unreachable ({shorten(s.last_error or '', 100)}). {ctx.cmd('postings source list')} shows all." for s in incidents]


# -- alerts ----------------------------------------------------------------------------------------
async def _own_alert(ctx: Context, alert_id: int, change: bool = True) -> Alert:
    alert = await postings_repo.get_alert(ctx.db, alert_id)
    mine = alert is not None and alert.owner == ctx.actor.id
    visible = alert is not None and (mine or (alert.workspace == ctx.place.workspace_key and not alert.is_user))
    if alert is None or not visible:
        raise CommandError(f"You have no alert #{alert_id}. {ctx.cmd('alerts list')} shows yours.")
    if change and not mine and ctx.actor.role < Role.MODERATOR:
        raise CommandError(f"Alert #{alert_id} is a channel alert; only moderators can change it.")
    return alert


def alert_line(a: Alert) -> str:
    where = "DM to you" if a.is_user else f"#{a.channel_name or a.channel}"
    state = f" · paused ({a.paused_reason})" if a.paused and a.paused_reason else (" · paused" if a.paused else "")
    return f"#{a.id} · {a.filters or 'everything'} · {where}{state}"


async def _complete_alert(ctx: Context, prefix: str) -> list[tuple[str, str]]:
    mine = await postings_repo.alerts_of_owner(ctx.db, ctx.actor.id)
    channel = [a for a in await postings_repo.alerts_in(ctx.db, ctx.place.workspace_key) if not a.is_user and a.owner != ctx.actor.id]
    out = []
    for a in mine + channel:
        label = alert_line(a)
        if prefix.strip().lower().lstrip("#") in label.lower():
            out.append((label[:100], str(a.id)))
    return out[:25]


def register(registry: Registry) -> None:
    postings = registry.group("postings", "Internship postings from the lists this server follows: latest, search, show.")
    filters_arg = Arg("filters", f"filters, e.g. {EXAMPLE}", rest=True, required=False, max_len=300)

    @postings.command("latest", "The newest open postings, optionally filtered: remote location: season: sponsorship: category:", args=[filters_arg])
    async def latest(ctx: Context, filters: str | None = None) -> Reply:
        flt = _filter(filters, ctx)
        if not await sources_repo.for_workspace(ctx.db, _workspace(ctx)):
            return Reply(text=_no_sources_line(ctx), kind="nomatch")
        found = await _matching(ctx, flt)
        if not found:
            return Reply(text=f"No open postings match {quote_input(flt.canonical() or 'anything', 100)} yet.", kind="nomatch")
        return _listing(ctx, "Newest postings" + (f" for {flt.canonical()}" if not flt.empty else ""), found)

    @postings.command(
        "search", "Postings with these words in the title or company, plus filters, e.g. vision remote",
        args=[Arg("query", "words and filters", rest=True, max_len=300)],
    )
    async def search(ctx: Context, query: str) -> Reply:
        flt = _filter(query, ctx)
        if flt.empty:
            raise CommandError(f"Give words to look for, e.g. {ctx.cmd('postings search machine learning remote')}")
        if not await sources_repo.for_workspace(ctx.db, _workspace(ctx)):
            return Reply(text=_no_sources_line(ctx), kind="nomatch")
        found = await _matching(ctx, flt)
        if not found:
            return Reply(text=f"No open postings match {quote_input(flt.canonical(), 100)}.", kind="nomatch")
        return _listing(ctx, f"Postings for {flt.canonical()}", found)

    @postings.command("show", "One posting by its id (the code at the bottom of a posting).", args=[Arg("id", "the posting id, e.g. 3f9a2c1b", max_len=20)])
    async def show(ctx: Context, id: str) -> Reply:  # noqa: A002
        found = await postings_repo.get(ctx.db, id.strip().lower().lstrip("#"), _workspace(ctx))
        if found is None:
            return Reply(text=f"There is no posting {quote_input(id, 20)} in this server's lists.", kind="nomatch")
        card = posting_card(found)
        card.footer += f" · from {', '.join(found.sources)}" + ("" if found.active else f" · closed {(found.closed_at or '')[:10]}")
        return Reply(cards=[card])

    @postings.command(
        "source",
        "Moderators: add URL [simplify|rss|json], list, or remove ID the lists postings come from.",
        args=[
            Arg("action", "add, list or remove", choices=("add", "list", "remove")),
            Arg("target", "the feed URL (add) or the source id (remove)", required=False, max_len=2000),
            Arg("kind", "the feed's format (default: recognise it)", choices=KINDS, required=False),
        ],
        min_role=Role.MODERATOR,
        dm_ok=False,
        slow=True,
    )
    async def source(ctx: Context, action: str, target: str | None = None, kind: str | None = None) -> Reply:
        workspace = _workspace(ctx)
        if action == "list":
            return await _list_sources(ctx, workspace)
        if not target:
            what = "URL" if action == "add" else "ID"
            raise CommandError(f"{ctx.cmd('postings source ' + action)} needs {'a feed URL' if action == 'add' else 'a source id'}: {ctx.cmd(f'postings source {action} {what}')}")
        if action == "remove":
            return await _remove_source(ctx, workspace, target.strip().strip("`"))
        return await _add_source(ctx, workspace, target, kind)

    alerts = registry.group("alerts", "Your internship alerts by DM, and channel alerts (moderators).", ephemeral=True)

    @alerts.command(
        "add",
        "New postings matching filters, by DM; end with #channel for a channel alert (moderators)",
        args=[
            Arg("filters", "keywords and filters, e.g. " + EXAMPLE, rest=True, max_len=300),
            Arg("channel", "post in this channel instead of your DMs (moderators)", kind="channel", required=False, max_len=100),
        ],
    )
    async def add(ctx: Context, filters: str, channel: ChannelRef | None = None) -> Reply:
        workspace = _workspace(ctx)
        flt = _filter(filters, ctx)
        if channel is not None and ctx.actor.role < Role.MODERATOR:
            raise CommandError(f"Only moderators can add channel alerts. Without the channel, {ctx.cmd('alerts add ' + filters)} sends them to your DMs.")
        existing = await postings_repo.alerts_in(ctx.db, workspace)
        if channel is not None:
            if await ctx.frontend.can_post(ctx.place, channel.id) is False:
                raise CommandError(f"Nothing added: I can't post in {channel.label}. Give me permission to send messages there first.")
            same = [a for a in existing if not a.is_user and a.channel == channel.id]
            if len(same) >= MAX_PER_CHANNEL:
                raise CommandError(f"{channel.label} already has {len(same)} alerts (the most a channel can have); remove one first.")
        else:
            same = [a for a in existing if a.is_user and a.owner == ctx.actor.id]
            if len(same) >= MAX_PERSONAL:
                raise CommandError(f"You already have {len(same)} alerts here (the most one person can have); remove one first.")
        if any(a.filters == flt.canonical() for a in same):
            raise CommandError(f"{'That channel' if channel else 'You'} already {'has' if channel else 'have'} an alert for {flt.canonical() or 'everything'}.")
        if len(existing) >= MAX_PER_WORKSPACE:
            raise CommandError(f"This server already has {MAX_PER_WORKSPACE} alerts; remove some first.")
        now = ctx.now()
        async with ctx.db.transaction() as conn:
            alert_id = await postings_repo.next_alert_id(conn)
            alert = Alert(
                id=alert_id, platform=ctx.place.platform, workspace=workspace, owner=ctx.actor.id, owner_name=ctx.actor.name,
                target_kind="channel" if channel else "user", channel=channel.id if channel else ctx.actor.local_id,
                channel_name=channel.name if channel else ctx.actor.name, filters=flt.canonical(), paused=False,
                paused_reason=None, created_at=iso_utc(now),
            )
            await postings_repo.insert_alert(conn, alert)
        recent = await _matching(ctx, flt, since=iso_utc(now - TEST_WINDOW))
        where = channel.label if channel else "your DMs"
        lines = [
            f"Alert #{alert_id} added: new postings matching {flt.canonical() or 'everything'} go to {where} "
            f"(at most {CAP[alert.target_kind]} an hour; more are summarized).",
            f"In the last 7 days it would have matched {len(recent)} posting{'s' if len(recent) != 1 else ''}; "
            f"{ctx.cmd(f'alerts test {alert_id}')} shows them.",
        ]
        if not await sources_repo.for_workspace(ctx.db, workspace):
            lines.append(_no_sources_line(ctx))
        return Reply(text="\n".join(lines))

    @alerts.command("list", "Your alerts, and this channel's and server's channel alerts.")
    async def list_(ctx: Context) -> Reply:
        mine = [a for a in await postings_repo.alerts_of_owner(ctx.db, ctx.actor.id) if a.is_user]
        channel = [a for a in await postings_repo.alerts_in(ctx.db, ctx.place.workspace_key) if not a.is_user] if ctx.place.workspace_id else []
        if not mine and not channel:
            return Reply(text=f"No alerts yet. Try {ctx.cmd('alerts add ' + EXAMPLE)}")
        cards = []
        if mine:
            cards.append(Card(title="Your alerts (by DM)", body="\n".join(alert_line(a) for a in mine)))
        if channel:
            cards.append(Card(title="Channel alerts", body="\n".join(alert_line(a) for a in channel)))
        return Reply(cards=cards)

    id_arg = Arg("id", "the alert number from the alert list", kind="int", min_value=1, max_value=10**9, complete=_complete_alert)

    @alerts.command("remove", "Delete an alert; nothing more is sent for it.", args=[id_arg])
    async def remove(ctx: Context, id: int) -> Reply:  # noqa: A002
        alert = await _own_alert(ctx, id)
        async with ctx.db.transaction() as conn:
            await postings_repo.delete_alert(conn, alert.id)
            await ctx.app.scheduler.cancel("alert", str(alert.id), conn)
        return Reply(text=f"Alert #{alert.id} ({alert.filters or 'everything'}) is removed.")

    @alerts.command("pause", "Stop an alert for now; nothing is saved up meanwhile.", args=[id_arg])
    async def pause(ctx: Context, id: int) -> Reply:  # noqa: A002
        alert = await _own_alert(ctx, id)
        async with ctx.db.transaction() as conn:
            await postings_repo.set_paused(conn, alert.id, True, None)
            await conn.execute("DELETE FROM alert_queue WHERE alert_id = ?", (alert.id,))
            await ctx.app.scheduler.cancel("alert", str(alert.id), conn)
        return Reply(text=f"Alert #{alert.id} is paused. {ctx.cmd(f'alerts resume {alert.id}')} turns it back on.")

    @alerts.command("resume", "Turn a paused alert back on (for postings from now on).", args=[id_arg])
    async def resume(ctx: Context, id: int) -> Reply:  # noqa: A002
        alert = await _own_alert(ctx, id)
        async with ctx.db.transaction() as conn:
            await postings_repo.set_paused(conn, alert.id, False, None)
        return Reply(text=f"Alert #{alert.id} is on again: {alert.filters or 'everything'}.")

    @alerts.command("test", "What an alert would have matched in the last 7 days.", args=[id_arg])
    async def test(ctx: Context, id: int) -> Reply:  # noqa: A002
        alert = await _own_alert(ctx, id, change=False)
        flt = parse_filter(alert.filters)
        found = await _matching(ctx, flt, since=iso_utc(ctx.now() - TEST_WINDOW))
        if not found:
            return Reply(text=f"Alert #{alert.id} ({alert.filters or 'everything'}) would have matched nothing in the last 7 days.", kind="nomatch")
        return _listing(ctx, f"Alert #{alert.id} ({alert.filters or 'everything'}) in the last 7 days", found)


# -- moderators' source commands -------------------------------------------------------------------
async def _list_sources(ctx: Context, workspace: str) -> Reply:
    rows = await sources_repo.for_workspace(ctx.db, workspace)
    if not rows:
        return Reply(text=f"No posting sources yet. Add one: {ctx.cmd('postings source add URL simplify')}")
    total, open_ = await postings_repo.count_visible(ctx.db, workspace)
    body = "\n\n".join(source_line(s) for s in rows)
    return Reply(cards=[Card(title="Posting sources", body=body, footer=f"{open_:,} open of {total:,} postings from these lists.")])


async def _remove_source(ctx: Context, workspace: str, name: str) -> Reply:
    linked = {s.name for s in await sources_repo.for_workspace(ctx.db, workspace)}
    if name not in linked:
        raise CommandError(f"This server has no source {quote_input(name, 30)}. {ctx.cmd('postings source list')} shows them.")
    svc = service(ctx)
    async with ctx.db.transaction() as conn:
        left = await sources_repo.unlink(conn, workspace, name)
        if left == 0:  # nobody else uses it: stop polling and forget which postings it brought
            await postings_repo.forget_source(conn, name)
            await svc.poller.remove(name, conn)
    return Reply(text=f"Source `{name}` is removed from this server; its postings no longer show here.")


async def _add_source(ctx: Context, workspace: str, raw_url: str, kind: str | None) -> Reply:
    svc = service(ctx)
    try:
        url = check_shape(raw_url)
        url = await svc.poller.guard(url)
    except UrlRefused as exc:
        raise CommandError(f"Nothing added: {exc}.") from None
    linked = await sources_repo.for_workspace(ctx.db, workspace)
    name = source_name(kind or "auto", url)
    if any(s.name == name or s.url == url for s in linked):
        raise CommandError(f"This server already follows {shorten(url, 100)}.")
    if len(linked) >= MAX_SOURCES:
        raise CommandError(f"This server already has {MAX_SOURCES} posting sources; remove one first.")
    now = ctx.now()
    known = await sources_repo.get(ctx.db, name)
    async with ctx.db.transaction() as conn:
        if known is None:
            await svc.poller.ensure(name, kind or "auto", url, "postings", conn=conn)
        await sources_repo.link(conn, workspace, name, ctx.actor.id, iso_utc(now))
    first = f"Source `{name}` added ({kind or 'format recognised on the first fetch'}); it is checked every {int(POLL_EVERY.total_seconds() // 60)} minutes."
    if known is not None and known.baseline_at:
        return Reply(text=f"{first} Another server already follows this list, so its {known.items_total:,} postings show here now; new ones alert from the next check.")
    outcome = await svc.poller.poll_within(name, ADD_DEADLINE)
    if outcome is None:
        return Reply(text=f"{first} The first fetch is still running; {ctx.cmd('postings source list')} shows how it went. It posts nothing: only postings that appear after it alert anyone.")
    if not outcome.ok:
        return Reply(text=f"{first} The first fetch failed: {shorten(outcome.error or '', 150)}. It will be tried again; {ctx.cmd('postings source remove ' + name)} if the URL is wrong.")
    return Reply(text=f"{first} First fetch: {outcome.new:,} postings stored as a starting point (they alert no one; new postings from now on do). "
                      f"{ctx.cmd('postings latest')} shows the newest.")
