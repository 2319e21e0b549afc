"""Assembles the core: database, settings, scheduler, outbound queue, and every feature's commands.

Adapters get an App. Nothing here knows a platform; transports for platforms are added by
the adapters that own them (the console adds its own).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from bot import buttons
from bot.clock import Clock
from bot.config import ROLES, Config, load_config
from bot.context import Context
from bot.delivery import Outbox, Target
from bot.frontend import Frontend
from bot.leader import Leadership
from bot.metrics import Metrics
from bot.models import Actor, Place, Reply, Role
from bot.providers import ProviderRegistry
from bot.registry import Command, Registry
from bot.retention import Retention
from bot.scheduler import Scheduler
from bot.settings import SettingsService, core_keys, user_keys
from bot.storage import delivery_repo
from bot.storage.changes import ExternalWrites
from bot.storage.db import Database, open_database
from bot.storage.delivery_repo import Problem
from bot.text import defuse_mentions

log = logging.getLogger("careerbot.app")


class Feature(Protocol):
    """A feature module: ``register(registry)`` declares its commands; ``setup(app)`` is optional."""

    def register(self, registry: Registry) -> None: ...


class PersonalData(Protocol):
    name: str

    async def export(self, db: Database, user_id: str) -> Any: ...

    async def forget(self, conn: Any, user_id: str) -> dict[str, int]: ...


class App:
    def __init__(self, db: Database, registry: Registry, clock: Clock, config: Config | None = None) -> None:
        self.config = config or load_config(environ={}, env_file=None)
        self.db = db
        self.registry = registry
        self.clock = clock
        self.settings = SettingsService(db)
        self.scheduler = Scheduler(db, clock)
        self.outbox = Outbox(db, clock)
        self.outbox.lease = self.config.delivery_lease
        self.providers = ProviderRegistry()
        # Background services features add (e.g. the paper refresher): started and stopped with the app.
        self.services: list[Any] = []
        # Features may add lines for a moderator's next reply (e.g. a paper source that went down).
        self.notice_sources: list[Callable[[Context], Awaitable[list[str]]]] = []
        # Feature-owned singletons (e.g. the advice search index), keyed by feature name.
        self.state: dict[str, Any] = {}
        # How each platform names commands and resolves #channel/@user; adapters add theirs.
        self.frontends: dict[str, Frontend] = {"console": Frontend()}
        # Workspaces with delivery problems no moderator has seen (read at start, then kept here).
        self.problem_workspaces: set[str] = set()
        # What features keep about a person, for /me export and /me forget: each has a
        # name, ``export(db, user_id)`` and ``forget(conn, user_id) -> {what: count}``.
        self.personal_data: list[PersonalData] = []
        # Old rows pruned daily; features add their own rules (``app.retention.add``).
        self.retention = Retention(self)
        # Work another process queued (``careerbot feeds refresh``, a console) wakes the loops.
        self.external_writes = ExternalWrites(db, [self.scheduler.wake, self.outbox.wake])
        # Singleton roles this process stands for (`serve`): the per-platform senders, the feed poller.
        self.elections: list[Leadership] = []
        self.metrics = Metrics(lambda: {p: d.stats for p, d in self.outbox.dispatchers.items()})
        self.outbox.on_claim = lambda platform, seconds: self.metrics.claim_seconds.labels(platform).observe(seconds)
        for key in core_keys(self.settings):
            self.settings.define(key)
        for key in user_keys():
            self.settings.define_user(key)
        registry.gates.append(self._feature_gate)
        self.scheduler.after_run.append(self._after_job)
        self.outbox.problem_listeners.append(self._tell_moderators)

    @classmethod
    async def create(
        cls,
        db_path: str | os.PathLike[str],
        features: Sequence[Feature],
        clock: Clock | None = None,
        config: Config | None = None,
    ) -> "App":
        """Opens the database and registers ``features``, which the entry point chooses.

        The core never imports a feature: ``bot/`` stays importable on its own, and a
        deployment (or a test) decides which features exist.
        """
        db = await open_database(db_path)
        registry = Registry()
        app = cls(db, registry, clock or Clock(), config)
        try:
            app.problem_workspaces = await delivery_repo.workspaces_with_unnotified(db)
            for feature in features:
                feature.register(registry)
            app.settings.feature_names = [n for n in registry.commands if n not in app.settings.always_on]
            for feature in features:
                setup = getattr(feature, "setup", None)
                if setup is not None:
                    await setup(app)
            await app.retention.ensure_job()
        except BaseException:
            await db.close()
            raise
        return app

    # -- running -----------------------------------------------------------------------------
    async def start(self, background: bool = True, roles: frozenset[str] | set[str] = frozenset(ROLES)) -> None:
        """Catches up on work missed while down, then (with ``background``) runs the loops ``roles`` name.

        ``roles`` (`careerbot serve --roles`): "worker" runs the scheduler, "sender" the outbox.
        Work that must happen in one process only is elected among the processes that may do it:
        each platform's sender (the platform's rate limit lives in its memory) and the feed
        poller (the "feeds" role, see feeds/poller.py); a standby takes over within seconds of
        the holder's death. Without ``background`` (the console, a stepped clock) this process
        does everything itself, as the only one.
        """
        await self.scheduler.recover()
        if not background:
            recovered = await self.outbox.recover()
            if recovered:
                log.warning("%d post(s) were in flight when the bot stopped; resending them with their original keys", recovered)
            await self.scheduler.run_due(self.clock.now())
            await self.outbox.drain()
            return
        # With background loops, the per-platform senders catch up on their own (each resends
        # what it left in flight when it takes its role): waiting here, and out any 429 while
        # doing so, would keep the adapters and /healthz from starting.
        if "worker" in roles:
            self.scheduler.roles_held = set()
            self.elections.append(Leadership(
                self.db, "feeds", lambda: self.scheduler.hold("feeds"), lambda: self.scheduler.release("feeds")
            ))
        if "sender" in roles:
            for platform, dispatcher in self.outbox.dispatchers.items():
                self.elections.append(Leadership(self.db, f"sender:{platform}", dispatcher.start, dispatcher.stop))
        for election in self.elections:
            await election.start()  # each tries once now: a lone process holds every role before serving
        if "worker" in roles:
            await self.scheduler.run_due(self.clock.now())
            self.scheduler.start()
            for service in self.services:
                service.start()
        self.external_writes.start()

    def roles_held(self) -> list[str]:
        """The singleton roles this process holds now (for /healthz, /metrics and logs)."""
        return [e.name for e in self.elections if e.held]

    async def _after_job(self, at: datetime, stepping: bool) -> None:
        # While the clock is being stepped (console :tick, tests) posts go out in time order;
        # a running bot leaves them to the per-platform senders.
        if stepping:
            await self.outbox.drain()
        else:
            self.outbox.wake()

    async def close(self) -> None:
        for election in self.elections:  # a sender stops (its posts in flight finish) before its role goes
            await election.stop()
        for service in self.services:
            await service.stop()
        await self.external_writes.stop()
        await self.scheduler.stop()
        await self.outbox.stop()
        await self.db.close()

    # -- front ends ----------------------------------------------------------------------------
    def add_frontend(self, frontend: Frontend) -> None:
        """An adapter registers how its platform names commands and resolves references."""
        self.frontends[frontend.platform] = frontend

    def frontend(self, platform: str) -> Frontend:
        found = self.frontends.get(platform)
        if found is None:
            found = self.frontends[platform] = Frontend()
        return found

    # -- commands ----------------------------------------------------------------------------
    async def context(self, actor: Actor, place: Place) -> Context:
        """The context for a command, with the actor raised to moderator if a setting says so."""
        if actor.role < Role.MODERATOR and not place.is_dm and place.workspace_id:
            users = await self.settings.get(place, "mod_users")
            roles = await self.settings.get(place, "mod_roles")
            if actor.local_id in users or set(actor.role_ids) & set(roles):
                actor = replace(actor, role=Role.MODERATOR)
        return Context(actor, place, self, self.frontend(place.platform))

    async def handle(self, actor: Actor, place: Place, line: str) -> Reply:
        """A line of text (console, Slack's root command, a mention). Notices ride in ``reply.notices``."""
        ctx = await self.context(actor, place)
        started = time.perf_counter()
        reply = await self.registry.dispatch_line(ctx, line)
        self._count(ctx, reply, started)
        return await self.with_notices(ctx, reply)

    async def invoke(self, actor: Actor, place: Place, command_path: str, values: Mapping[str, Any]) -> Reply:
        """Already-split values (Discord options): the same conversion, gates, elevation and notices."""
        ctx = await self.context(actor, place)
        started = time.perf_counter()
        reply = await self.registry.invoke(ctx, command_path, values)
        self._count(ctx, reply, started)
        return await self.with_notices(ctx, reply)

    async def refresh_gauges(self) -> None:
        """The gauges read from the database: how late the scheduler is, how many posts wait."""
        now = self.clock.now()
        job = await self.db.fetchone("SELECT min(due_at) AS due FROM jobs")
        lag = (now - datetime.fromisoformat(job["due"])).total_seconds() if job and job["due"] else 0.0
        self.metrics.scheduler_lag.set(max(0.0, lag))
        rows = await self.db.fetchall(
            "SELECT platform, count(*) AS n FROM deliveries WHERE status IN ('pending', 'sending') GROUP BY platform"
        )
        waiting = {r["platform"]: r["n"] for r in rows}
        for platform in set(waiting) | set(self.outbox.dispatchers):
            self.metrics.queue_depth.labels(platform).set(waiting.get(platform, 0))
        for election in self.elections:
            self.metrics.roles_held.labels(election.name).set(1 if election.held else 0)

    def _count(self, ctx: Context, reply: Reply, started: float) -> None:
        command = ctx.command or "unknown"  # a line that named no command at all
        self.metrics.commands.labels(command, reply.kind).inc()
        self.metrics.command_seconds.labels(command).observe(time.perf_counter() - started)

    async def click(self, actor: Actor, place: Place, button_id: str) -> Reply:
        """A pressed ActionButton, run as whoever pressed it (their role is checked again)."""
        try:
            path, values = buttons.decode(button_id)
        except buttons.ButtonError as exc:
            return Reply.error(f"That button no longer works ({exc}).")
        return await self.invoke(actor, place, path, values)

    async def handle_text(self, line: str) -> Reply:
        """Runs a line as an anonymous member in a default channel (scripts, smoke tests)."""
        return await self.handle(Actor("local:you", "you"), Place("console", "console", "general", "general"), line)

    async def _feature_gate(self, ctx: Context, cmd: Command) -> str | None:
        feature = cmd.root
        if feature in self.settings.always_on or ctx.place.is_dm:
            return None
        enabled = await self.settings.get(ctx.place, "features")
        if "all" in enabled or feature in enabled:
            return None
        return (
            f"{ctx.cmd(feature)} is turned off in {ctx.place.label}. "
            f"A moderator can turn it on with {ctx.cmd('config set features all')} {ctx.place.label}."
        )

    # -- telling moderators --------------------------------------------------------------------
    async def _tell_moderators(self, problem: Problem) -> None:
        """Posts a delivery problem to the mod channel if one is set; otherwise it waits for a moderator.

        A person who does not accept DMs is not a moderator's problem: the feature that
        wrote to them hears of it (``Problem.is_user``) and stops.
        """
        if problem.is_user:
            return
        self.problem_workspaces.add(problem.workspace)
        place = Place(problem.platform, problem.workspace.split(":", 1)[-1], problem.channel)
        mod_channel = await self.settings.get(place, "mod_channel")
        if not mod_channel or mod_channel == problem.channel:
            return
        target = Target(problem.platform, problem.workspace, mod_channel, mod_channel)
        async with self.db.transaction() as conn:
            await self.outbox.queue(conn, target, "notice", f"problem-{problem.id}", _notice([problem]), self.clock.now())
            await delivery_repo.mark_notified(conn, [problem.id], self.clock.now().isoformat())
        self.outbox.wake(problem.platform)

    async def with_notices(self, ctx: Context, reply: Reply) -> Reply:
        """Attaches problems no moderator has seen yet to a moderator's reply, as a private notice.

        The notice is its own ephemeral message (``reply.notices``), never part of the reply's
        text: the reply may be public, and "I cannot post to #news" is for moderators only.
        """
        if ctx.actor.role < Role.MODERATOR or ctx.place.is_dm or not ctx.place.workspace_id:
            return reply
        lines: list[str] = []
        # The common case (nothing wrong) costs no database round trip: the outbox flags
        # workspaces with unseen problems in memory.
        if ctx.place.workspace_key in self.problem_workspaces:
            problems = await delivery_repo.unnotified(self.db, ctx.place.workspace_key)
            if problems:
                async with self.db.transaction() as conn:
                    await delivery_repo.mark_notified(conn, [p.id for p in problems], self.clock.now().isoformat())
                lines.append(_notice(problems).text)
            self.problem_workspaces.discard(ctx.place.workspace_key)
        for source in self.notice_sources:
            lines.extend(await source(ctx))
        if not lines:
            return reply
        notice = defuse_mentions("\n".join(lines))
        reply.notices.append(Reply(text=notice, kind="notice", ephemeral=True))
        return reply


def _notice(problems: list[Problem]) -> Reply:
    lines = [f"Moderator notice: {len(problems)} problem(s) posting." if len(problems) > 1 else "Moderator notice:"]
    for p in problems[:5]:
        where = f"#{p.channel_name or p.channel}"
        if p.target_gone:
            lines.append(f"- I cannot post to {where}: {p.reason}. Its digests are paused; fix access, then resume them (digest resume).")
        else:
            lines.append(f"- A post to {where} was not delivered: {p.reason}.")
    if len(problems) > 5:
        lines.append(f"- …and {len(problems) - 5} more.")
    return Reply(text="\n".join(lines))
