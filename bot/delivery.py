"""Outbound delivery: one rate-limited queue per platform for every unsolicited post.

A post (digest, alert, reminder, notice) is queued as rows in ``deliveries``, one per part,
each with an idempotency key built from (target, kind, period, part). The key makes queueing
idempotent (the same period queued twice is one row) and travels with every send attempt,
so a platform that deduplicates on it (Discord's ``nonce`` with ``enforce_nonce``) turns a
resend after a lost acknowledgement into the original message instead of a second one.

Row life: pending → sending (committed *before* the network call) → sent (after the
platform accepted it). A crash leaves 'sending' rows; at start they go back to pending and
are resent with the same key. Rate limits (429 + retry_after) pause the queue and never
count as failures; transient errors back off exponentially up to MAX_ATTEMPTS; permanent
ones (channel gone, permission missing) fail every queued post for that target at once and
are reported to the workspace's moderators.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

import aiosqlite

from bot.clock import BackgroundLoop, Clock, backoff, iso_utc
from bot.models import Card, Reply
from bot.registry import sanitize_reply
from bot.render.fit import split_card, split_text
from bot.storage import delivery_repo
from bot.storage.db import Database
from bot.storage.delivery_repo import Delivery, Problem
from bot.text import shorten

log = logging.getLogger("careerbot.delivery")

MAX_ATTEMPTS = 10  # with backoff from 30 s doubling to 1 h: about three hours of trying


# -- what transports raise -------------------------------------------------------------------
class DeliveryError(Exception):
    pass


DRAIN_GRACE = 10.0  # seconds a stopping sender gives posts in flight
# After taking a platform's sender role: how long posts the previous holder left in flight stay
# its own. A holder that lost its database session notices within a few seconds (bot/leader.py)
# and then stops, letting sends finish for DRAIN_GRACE; past that, resending is safe (Discord's
# nonce, or a look at the channel for the post's key). A holder that died needs no wait at all,
# but the two cannot be told apart, and this is far shorter than the 2-minute lease.
TAKEOVER_GRACE = 20.0


class RateLimited(DeliveryError):
    def __init__(self, retry_after: float, whole_platform: bool = True) -> None:
        super().__init__(f"rate limited for {retry_after:.2f}s")
        self.retry_after = max(0.0, float(retry_after))
        self.whole_platform = whole_platform


class PermanentFailure(DeliveryError):
    """The platform will never accept this; ``target_gone`` means no post to this target will."""

    def __init__(self, reason: str, target_gone: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.target_gone = target_gone


class TransientFailure(DeliveryError):
    pass


@dataclass(frozen=True)
class Target:
    """Where a post goes: a channel, or (``is_user``) a person, whose DM channel the transport opens.

    For a user, ``channel`` holds the user id and ``channel_name`` their display name.
    """

    platform: str
    workspace: str  # the workspace key, "platform:id"
    channel: str
    channel_name: str = ""
    is_user: bool = False

    @classmethod
    def user(cls, platform: str, workspace: str, user_id: str, name: str = "") -> "Target":
        return cls(platform, workspace, user_id, name, is_user=True)

    @property
    def kind(self) -> str:
        return "user" if self.is_user else "channel"

    @property
    def key_part(self) -> str:
        """The target inside an idempotency key; ``@`` keeps a user apart from a channel of the same id."""
        return f"@{self.channel}" if self.is_user else self.channel

    @property
    def label(self) -> str:
        if self.is_user:
            return f"@{self.channel_name or self.channel}"
        return f"#{self.channel_name or self.channel}"


@dataclass(frozen=True)
class Sent:
    """What a platform answered for an accepted post: the message and the channel it landed in."""

    message_id: str
    channel_id: str
    # Seconds the channel's route must rest before the next post, when the platform said its
    # bucket is empty (Discord's X-RateLimit-Remaining: 0): paced before a 429, not after.
    rest: float = 0.0


@dataclass(frozen=True)
class Limits:
    """How much one message may hold on a platform; longer posts are split into parts.

    The defaults are the strictest common ground (Discord's): each queued part must render
    as exactly one platform message, because the idempotency key belongs to one message.
    """

    max_chars: int = 4000  # all text of the cards in one message
    max_cards: int = 10
    rate: float | None = None  # requests per second for the whole platform; None = unlimited
    burst: int = 1
    channel_interval: float = 0.0  # minimum seconds between posts to one channel
    max_text: int = 2000  # the message's own text
    max_buttons: int = 25
    card_body: int = 4096
    card_fields: int = 25
    field_name: int = 256
    field_value: int = 1024
    card_title: int = 256


class Transport(Protocol):
    platform: str
    limits: Limits

    async def send(self, target: Target, reply: Reply, key: str) -> Sent:
        """Posts one part (opening the DM channel for a user target) or raises a DeliveryError."""
        ...


@dataclass(frozen=True)
class PostKey:
    """The parts of an idempotency key, for transports and logs that want to show them."""

    platform: str
    workspace: str
    channel: str
    kind: str
    period: str
    part: str

    @classmethod
    def parse(cls, key: str) -> "PostKey":
        fields = key.split("|")
        if len(fields) != 6:
            raise ValueError(f"not a delivery key: {key!r}")
        return cls(*fields)


# -- splitting to platform size ----------------------------------------------------------------
def _card_size(card: Card) -> int:
    return len(card.title) + len(card.body) + len(card.footer) + sum(len(f.name) + len(f.value) for f in card.fields)


def split_reply(reply: Reply, limits: Limits) -> list[Reply]:
    """Packs text and cards into as few messages as the limits allow, in order, losing nothing.

    Long text and oversized cards are split (``bot.render.fit``), never cut: a digest that
    arrives in three parts beats one whose end silently vanished.
    """
    parts = [replace(reply, text=chunk, cards=[], notices=[], attachments=[]) for chunk in split_text(reply.text, limits.max_text)]
    if not parts:
        parts = [replace(reply, text="", cards=[], notices=[], attachments=[])]
    used, buttons = len(parts[-1].text), 0
    for card in reply.cards:
        pieces = split_card(
            card, body=limits.card_body, fields=limits.card_fields, field_name=limits.field_name,
            field_value=limits.field_value, title=limits.card_title, total=limits.max_chars - 50,
        )
        for piece in pieces:
            size, count = _card_size(piece), len(piece.buttons)
            current = parts[-1]
            full = len(current.cards) >= limits.max_cards or buttons + count > limits.max_buttons
            if (current.cards or current.text) and (full or used + size > limits.max_chars):
                parts.append(replace(reply, text="", cards=[], notices=[], attachments=[]))
                current, used, buttons = parts[-1], 0, 0
            current.cards.append(piece)
            used += size
            buttons += count
    parts[0].attachments = list(reply.attachments)  # files go with the first message
    return [p for p in parts if p.text or p.cards or p.attachments]


# -- rate limiting -------------------------------------------------------------------------------
class RateLimiter:
    """A token bucket for the platform plus per-channel spacing and pauses from 429s.

    Uses the monotonic clock (injectable, so tests fake it): rate limits are about the
    platform's real seconds, not the bot's scheduling clock.
    """

    def __init__(
        self,
        limits: Limits,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self.monotonic = monotonic
        self.sleep = sleep
        self._tokens = float(limits.burst)
        self._stamp = monotonic()
        self._paused_until = 0.0
        self._channel_free_at: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self.waited = 0.0

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.monotonic()
                if now < self._paused_until:
                    await self._wait(self._paused_until - now)
                    continue
                if self.limits.rate is None:
                    return
                self._tokens = min(float(self.limits.burst), self._tokens + (now - self._stamp) * self.limits.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._wait((1 - self._tokens) / self.limits.rate)
                # The token that accrued while we waited is ours; setting it (rather than
                # recomputing) avoids spinning on float rounding a hair short of 1.
                self._tokens = max(self._tokens, 1.0)
                self._stamp = self.monotonic()

    async def _wait(self, seconds: float) -> None:
        self.waited += seconds
        await self.sleep(seconds)

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.monotonic() + seconds)
        self._tokens = 0.0

    def channel_sent(self, channel: str) -> None:
        if self.limits.channel_interval:
            self._channel_free_at[channel] = self.monotonic() + self.limits.channel_interval

    def channel_pause(self, channel: str, seconds: float) -> None:
        self._channel_free_at[channel] = max(self._channel_free_at.get(channel, 0.0), self.monotonic() + seconds)

    def resting_channels(self) -> dict[str, float]:
        """Channels that must wait, with how many seconds are left."""
        now = self.monotonic()
        resting = {c: t - now for c, t in self._channel_free_at.items() if t > now}
        if len(self._channel_free_at) > 10_000:
            self._channel_free_at = {c: now + left for c, left in resting.items()}
        return resting


# -- the per-platform queue ------------------------------------------------------------------------
ProblemListener = Callable[[Problem], Awaitable[None]]
LEASE_SECONDS = 120.0
CLAIM_TRIES = 5


async def recover(db: Database, platform: str, now: str) -> int:
    """At start: a SQLite file has one bot process, so whatever it left in flight is ours to
    resend; on a shared PostgreSQL only posts whose lease ran out are (another process may be
    sending the rest right now)."""
    if db.dialect == "sqlite":
        return await delivery_repo.recover(db, platform)
    return await delivery_repo.reap(db, platform, now)


@dataclass
class Dispatcher:
    """Drains one platform's queue with a few concurrent senders, oldest first."""

    db: Database
    clock: Clock
    transport: Transport
    limiter: RateLimiter
    on_problem: list[ProblemListener] = field(default_factory=list)
    concurrency: int = 4
    stats: dict[str, int] = field(default_factory=lambda: {"sent": 0, "rate_limited": 0, "retried": 0, "failed": 0})
    # How long a claimed post stays ours: past it, a process that died mid-send loses the post
    # to whichever process reaps it first (longer than any send with its timeouts).
    lease: float = LEASE_SECONDS
    on_claim: Callable[[str, float], None] | None = None  # (platform, seconds): the claim-time histogram

    def __post_init__(self) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._claim_lock = asyncio.Lock()
        self._busy: set[str] = set()
        self._wake = asyncio.Event()
        self._loop = BackgroundLoop()
        self._stopping = False  # set by stop(): finish what is in flight, claim nothing new

    @property
    def platform(self) -> str:
        return self.transport.platform

    def wake(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Sends everything ready now; returns how many rows were handled."""
        counts = await asyncio.gather(*(self._worker() for _ in range(max(1, self.concurrency))))
        return sum(counts)

    async def _worker(self) -> int:
        handled = 0
        while True:
            if self._stopping:
                return handled
            row = await self._claim()
            if row is None:
                resting = self.limiter.resting_channels()
                if not resting or not await self._has_pending():
                    return handled
                await self.limiter.sleep(min(resting.values()))
                continue
            try:
                await self._deliver(row)
            finally:
                self._busy.discard(row.channel)
            handled += 1

    async def _has_pending(self) -> bool:
        return await delivery_repo.has_pending(self.db, self.platform)

    async def _claim(self) -> Delivery | None:
        async with self._claim_lock:
            skip = sorted(self._busy | set(self.limiter.resting_channels()))
            for _ in range(CLAIM_TRIES):
                now = self.clock.now()
                started = time.perf_counter()
                try:
                    row = await delivery_repo.claim_next(
                        self.db, self.platform, iso_utc(now), self.owner, iso_utc(now + timedelta(seconds=self.lease)), skip
                    )
                except delivery_repo.Contended:  # another process took that channel this instant
                    continue
                if row is not None and self.on_claim is not None:
                    self.on_claim(self.platform, time.perf_counter() - started)
                if row is not None:
                    self._busy.add(row.channel)
                return row
            return None

    async def _deliver(self, row: Delivery) -> None:
        target = Target(row.platform, row.workspace, row.channel, row.channel_name, is_user=row.target_kind == "user")
        reply = Reply.from_dict(json.loads(row.payload))
        await self.limiter.acquire()
        try:
            sent = await self._already_sent(target, row) or await self.transport.send(target, reply, row.idem_key)
        except RateLimited as exc:
            self.stats["rate_limited"] += 1
            if exc.whole_platform:
                self.limiter.pause(exc.retry_after)
            else:
                self.limiter.channel_pause(row.channel, exc.retry_after)
            await delivery_repo.release(self.db, row.id, iso_utc(self.clock.now()), str(exc), count_attempt=False)
            return
        except PermanentFailure as exc:
            self.stats["failed"] += 1
            if exc.target_gone:
                await self._target_gone(target, exc.reason)
            else:
                await delivery_repo.fail(self.db, row.id, exc.reason[:500])
                await self._report(target, f"a post was refused: {exc.reason}")
            return
        except Exception as exc:  # transient: network errors, 5xx, timeouts, a transport bug
            attempts = row.attempts  # the claim counted this attempt
            reason = f"{type(exc).__name__}: {exc}"[:500]
            if attempts >= MAX_ATTEMPTS:
                self.stats["failed"] += 1
                await delivery_repo.fail(self.db, row.id, reason)
                await self._report(target, f"gave up after {attempts} attempts ({shorten(reason, 120)})")
                return
            self.stats["retried"] += 1
            retry_at = self.clock.now() + backoff(attempts)
            log.warning("delivery %s to %s failed (%s); retry %d at %s", row.idem_key, target.label, reason, attempts, retry_at)
            await delivery_repo.release(self.db, row.id, iso_utc(retry_at), reason)
            return
        self.limiter.channel_sent(row.channel)
        if sent.rest > 0:
            self.limiter.channel_pause(row.channel, sent.rest)
        await delivery_repo.mark_sent(self.db, row.id, sent.message_id, sent.channel_id, iso_utc(self.clock.now()))
        self.stats["sent"] += 1

    async def _already_sent(self, target: Target, row: Delivery) -> Sent | None:
        """After a crash mid-send, asks a platform without idempotency keys whether the post arrived.

        Only rows interrupted in flight are looked up (a history read is rate-limited hard on
        Slack); a platform that deduplicates by itself (Discord's nonce) has no ``find``.
        """
        find = getattr(self.transport, "find", None)
        if find is None or row.last_error != delivery_repo.INTERRUPTED:
            return None
        found = await find(target, row.idem_key, datetime.fromisoformat(row.created_at))
        if found is not None:
            log.warning("post %s had reached %s before the crash; not sending it again", row.idem_key, target.label)
        return found

    async def _target_gone(self, target: Target, reason: str) -> None:
        log.warning("%s on %s is unreachable (%s); stopping its posts", target.label, target.platform, reason)
        await self._report(target, reason, fail_all=True)

    async def _report(self, target: Target, reason: str, fail_all: bool = False) -> None:
        now = iso_utc(self.clock.now())
        if fail_all:
            pid = await delivery_repo.fail_target(
                self.db, target.platform, target.workspace, target.channel, target.channel_name, reason, now, target.kind
            )
        else:
            pid = await delivery_repo.add_problem(
                self.db, target.platform, target.workspace, target.channel, target.channel_name, reason, now, target.kind
            )
        problem = Problem(
            pid, target.platform, target.workspace, target.channel, target.channel_name, reason, now, fail_all, target.is_user
        )
        for listener in self.on_problem:
            await listener(problem)

    async def run_forever(self) -> None:
        now = self.clock.now()
        if self.db.dialect == "postgres":
            await delivery_repo.shorten_leases(
                self.db, self.platform, self.owner, iso_utc(now + timedelta(seconds=min(self.lease, TAKEOVER_GRACE)))
            )
        recovered = await recover(self.db, self.platform, iso_utc(now))
        if recovered:
            log.warning("%d %s post(s) were in flight when their sender stopped; resending them with their original keys",
                        recovered, self.platform)
        while not self._stopping:
            self._wake.clear()
            try:
                await delivery_repo.reap(self.db, self.platform, iso_utc(self.clock.now()))
                await self.drain()
                earliest = await delivery_repo.earliest_pending(self.db, self.platform)
            except Exception:  # keep sending later rather than dying silently
                log.exception("%s sender failed; retrying in 30 s", self.platform)
                await asyncio.sleep(30)
                continue
            timeout = None
            if earliest is not None:
                due = datetime.fromisoformat(earliest)
                timeout = min(3600.0, max(0.05, (due - self.clock.now()).total_seconds()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def start(self) -> None:
        self._stopping = False  # again after a stop: a process that lost the sender role may win it back
        self._loop.start(self.run_forever, f"careerbot-delivery-{self.platform}")

    async def stop(self, grace: float = DRAIN_GRACE) -> None:
        """Lets posts already being sent finish (up to ``grace`` seconds), then stops: a part in
        flight completes rather than being cut off; the rest wait in the queue for next start."""
        self._stopping = True
        self._wake.set()
        await self._loop.stop(grace)


# -- the facade features use -----------------------------------------------------------------------
class Outbox:
    """Where features queue posts; owns one Dispatcher per platform that has a transport."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.dispatchers: dict[str, Dispatcher] = {}
        self.problem_listeners: list[ProblemListener] = []
        self.lease = LEASE_SECONDS  # CAREERBOT_DELIVERY_LEASE_SECONDS, set by the App
        self.on_claim: Callable[[str, float], None] | None = None

    def add_transport(
        self, transport: Transport, limiter: RateLimiter | None = None, concurrency: int = 4
    ) -> Dispatcher:
        dispatcher = Dispatcher(
            self.db, self.clock, transport, limiter or RateLimiter(transport.limits), concurrency=concurrency,
            lease=self.lease, on_claim=self.on_claim,
        )
        dispatcher.on_problem.append(self._problem)
        self.dispatchers[transport.platform] = dispatcher
        return dispatcher

    def limits(self, platform: str) -> Limits:
        dispatcher = self.dispatchers.get(platform)
        return dispatcher.transport.limits if dispatcher else Limits()

    async def queue(
        self, conn: aiosqlite.Connection, target: Target, kind: str, period: str, reply: Reply, now: datetime
    ) -> list[str]:
        """Queues a post inside the caller's transaction (so it commits with the caller's other writes)."""
        # Posts carry feed- and moderator-supplied text; defuse mentions here as replies are in dispatch.
        parts = split_reply(sanitize_reply(reply), self.limits(target.platform))
        base = f"{target.platform}|{target.workspace}|{target.key_part}|{kind}|{period}"
        rows = []
        keys = []
        for number, part in enumerate(parts, 1):
            key = f"{base}|{number}/{len(parts)}"
            keys.append(key)
            rows.append((
                key, target.platform, target.workspace, target.channel, target.channel_name, target.kind, kind, period,
                number, len(parts), json.dumps(part.to_dict(), ensure_ascii=False), iso_utc(now),
            ))
        await delivery_repo.insert(conn, rows)
        return keys

    async def post(self, target: Target, kind: str, period: str, reply: Reply) -> list[str]:
        async with self.db.transaction() as conn:
            keys = await self.queue(conn, target, kind, period, reply, self.clock.now())
        self.wake(target.platform)
        return keys

    def wake(self, platform: str | None = None) -> None:
        for name, dispatcher in self.dispatchers.items():
            if platform is None or name == platform:
                dispatcher.wake()

    async def drain(self, _at: datetime | None = None) -> int:
        handled = 0
        for dispatcher in self.dispatchers.values():
            handled += await dispatcher.drain()
        return handled

    async def edit(self, key: str, reply: Reply) -> bool:
        """Replaces a sent post (e.g. a posting that closed); False if it was never sent or cannot be edited."""
        row = await delivery_repo.by_key(self.db, key)
        dispatcher = self.dispatchers.get(row.platform) if row else None
        edit = getattr(dispatcher.transport, "edit", None) if dispatcher else None
        if row is None or dispatcher is None or edit is None or row.status != "sent" or not row.message_id:
            return False
        await dispatcher.limiter.acquire()
        part = split_reply(sanitize_reply(reply), dispatcher.transport.limits)[0]
        await edit(row.sent_channel or row.channel, row.message_id, part)
        return True

    async def recover(self) -> int:
        now = iso_utc(self.clock.now())
        return sum([await recover(self.db, p, now) for p in self.dispatchers])

    async def _problem(self, problem: Problem) -> None:
        for listener in self.problem_listeners:
            await listener(problem)

    def start(self) -> None:
        for dispatcher in self.dispatchers.values():
            dispatcher.start()

    async def stop(self) -> None:
        for dispatcher in self.dispatchers.values():
            await dispatcher.stop()
            aclose = getattr(dispatcher.transport, "aclose", None)
            if aclose is not None:
                await aclose()
