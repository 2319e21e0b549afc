"""Sharded Discord: shards split over processes take turns to IDENTIFY through the database.

Discord allows one IDENTIFY per bucket (``shard_id % max_concurrency``) every 5 s for the whole
bot, sends a guild's events to its shard only and DMs to shard 0. Here several "processes" (each
an App with its own database handle, or a real ``careerbot serve``) connect their shards to the
local fake Discord, which flags (and, as Discord does, refuses with op 9) an IDENTIFY that
comes too soon; what a user sees is an answer from the process holding their guild's shard.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.discord import DiscordAdapter, IdentifyGate
from bot.clock import Clock, frozen_clock
from bot.config import load_config
from bot.storage import identify_repo
from bot.storage.db import open_database
from commands import create_app
from tests.conftest import NO_POSTGRES, postgres_schema, postgres_url, subprocess_env
from tests.fakes.fake_discord import (
    FakeDiscord,
    guild_id_on_shard,
    make_guild,
    opt,
    point_discord_py_at,
    sub,
    token_for,
    user_payload,
)

pytestmark = pytest.mark.both_engines

START = "2026-01-05T09:00:00+00:00"
ASK = [sub("ask", opt("question", "do i need a phd"))]


def world(num_shards: int) -> list[dict]:
    """One club per shard: guild i lands on shard i of ``num_shards``; max is a member of each."""
    owner = user_payload("1000000000000000001", "olive")
    member = {"user": user_payload("1000000000000000005", "max"), "roles": []}
    guilds = []
    for shard in range(num_shards):
        gid = guild_id_on_shard(shard, num_shards)
        guilds.append(make_guild(gid, f"club-{shard}", owner, channels=[{"id": str(int(gid) + 100), "name": "general", "type": 0}],
                                 members=[member]))
    return guilds


# -- the gate, on fake time -----------------------------------------------------------------------------
async def test_a_bucket_is_taken_once_per_window_whichever_process_asks(db_path):
    clock = frozen_clock(START)
    dbs = [await open_database(db_path) for _ in range(3)]
    try:
        a, b, c = dbs
        assert await identify_repo.claim(a, 0, 0, clock, "a") == 0.0  # shard 0 (bucket 0 of 3)
        assert await identify_repo.claim(b, 0, 3, clock, "b") == pytest.approx(identify_repo.SPACING)  # shard 3: bucket 0 too
        assert await identify_repo.claim(c, 1, 1, clock, "c") == 0.0  # shard 1: a bucket of its own
        await clock.advance(timedelta(seconds=identify_repo.SPACING - 0.1))
        assert await identify_repo.claim(b, 0, 3, clock, "b") == pytest.approx(0.1)
        await clock.advance(timedelta(seconds=0.1))
        assert await identify_repo.claim(b, 0, 3, clock, "b") == 0.0
        held = {r["bucket"]: (r["shard_id"], r["owner"]) for r in await identify_repo.recent(a)}
        assert held == {0: (3, "b"), 1: (1, "c")}
    finally:
        for db in dbs:
            await db.close()


async def test_processes_racing_for_one_bucket_never_share_its_slot(db_path):
    clock = frozen_clock(START)
    dbs = [await open_database(db_path) for _ in range(6)]
    try:
        for _ in range(3):  # three windows; in each, six processes ask at the same instant
            waits = await asyncio.gather(*(identify_repo.claim(db, 0, n * 3, clock, f"p{n}") for n, db in enumerate(dbs)))
            assert waits.count(0.0) == 1 and min(waits) == 0.0, waits
            await clock.advance(timedelta(seconds=identify_repo.SPACING))
    finally:
        for db in dbs:
            await db.close()


async def test_the_gate_sleeps_until_its_buckets_slot_frees(db_path):
    clock = frozen_clock(START)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await clock.advance(timedelta(seconds=seconds))

    db = await open_database(db_path)
    try:
        gate = IdentifyGate(db, clock, "p", sleep=sleep)
        assert await gate.wait_turn(0, 3) == 0.0
        assert await gate.wait_turn(1, 3) == 0.0  # another bucket: no wait
        waited = await gate.wait_turn(3, 3)  # bucket 0 again
        assert waited == pytest.approx(identify_repo.SPACING, abs=0.05) and slept == [waited]
    finally:
        await db.close()


# -- in-process "processes" against the fake Discord ---------------------------------------------------------
class Process:
    """An App of its own (its own database handle) with a Discord adapter for some shards."""

    def __init__(self, app, adapter: DiscordAdapter) -> None:
        self.app, self.adapter = app, adapter

    @classmethod
    async def start(cls, fake: FakeDiscord, db_path, shards: tuple[int, ...], count: int, spacing: float) -> Process:
        config = load_config(environ={
            "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
        }, env_file=None)
        config = dataclasses.replace(config, discord_shard_ids=shards, discord_shard_count=count)
        app = await create_app(db_path, clock=Clock(), config=config)  # the gate needs a clock that runs
        adapter = DiscordAdapter(app, config, guild_ready_timeout=0.05, identify_spacing=spacing)
        try:
            await app.start(background=False)
            await adapter.start()
        except BaseException:
            await adapter.close()
            await app.close()
            raise
        return cls(app, adapter)

    async def close(self) -> None:
        await self.adapter.close()
        await self.app.close()


async def test_six_shards_over_three_processes_take_turns_and_answer_their_own_guilds(fake_shards: FakeDiscord, db_path):
    fake = fake_shards
    plan = [(0, 1), (2, 3), (4, 5)]
    started = await asyncio.gather(*(Process.start(fake, db_path, shards, 6, spacing=0.6) for shards in plan),
                                   return_exceptions=True)
    processes = [p for p in started if isinstance(p, Process)]
    try:
        for failed in started:
            if isinstance(failed, BaseException):
                raise failed
        await asyncio.gather(*(p.adapter.wait_ready(10) for p in processes))
        await fake.wait_synced(1)
        assert fake.identify_violations == []
        assert sorted(r.shard_id for r in fake.identify_log) == [0, 1, 2, 3, 4, 5]  # each once: none refused
        first, last = fake.identify_log[0].at, fake.identify_log[-1].at
        assert last - first >= fake.identify_window  # two buckets' worth of shards: a second round
        for process, shards in zip(processes, plan):  # each process holds its own shards' guilds only
            assert {g.shard_id for g in process.adapter.client.guilds} == set(shards)
            assert process.adapter.client.identified == list(shards)
        for shard in range(6):
            sent = await fake.send_interaction("advice", ASK, guild=guild_id_on_shard(shard, 6), user="max")
            [answer] = await sent.wait(1, timeout=10)
            assert sent.shard == shard and "PhD" in str(answer.data)
        dm = await fake.send_interaction("advice", ASK, dm=True, user="max")
        [answer] = await dm.wait(1, timeout=10)
        assert dm.shard == 0 and "PhD" in str(answer.data)
        assert {r["bucket"] for r in await identify_repo.recent(processes[0].app.db)} == {0, 1, 2}
    finally:
        for p in processes:
            await p.close()


async def test_an_interaction_two_processes_receive_is_answered_once(db_path):
    fake = FakeDiscord(token=token_for(), guilds=world(1), duplicate_dispatch=True,
                       enforce_identify_limit=True, identify_window=0.3)
    await fake.start()
    restore = point_discord_py_at(fake)  # put back afterwards: the adapter points discord.py's class URLs at it
    processes = []
    try:
        # Two deployments of the same shard overlapping (Discord allows it): both get every event.
        processes = [await Process.start(fake, db_path, (0,), 1, spacing=0.6) for _ in range(2)]
        await asyncio.gather(*(p.adapter.wait_ready(10) for p in processes))
        await fake.wait_synced(1)
        assert len([s for s in fake.sessions if s.conn is not None]) == 2 and fake.identify_violations == []
        sent = await fake.send_interaction("advice", ASK, guild=guild_id_on_shard(0, 1), user="max")
        [answer] = await sent.wait(1, timeout=10)
        await asyncio.sleep(0.3)  # time for a second answer, were there one
        assert "PhD" in str(answer.data) and len(sent.responses) == 1 and sent.rejected == []
        rows = await processes[0].app.db.fetchall("SELECT owner FROM inbound_events WHERE source = 'discord' AND event_id = ?",
                                                  (sent.id,))
        assert len(rows) == 1
    finally:
        for p in processes:
            await p.close()
        restore()
        await fake.stop()


@pytest.fixture
async def fake_shards() -> AsyncIterator[FakeDiscord]:
    """Six clubs on six shards; three buckets; a 0.3 s identify window (the processes keep 0.6 s) so the test runs in a second."""
    fake = FakeDiscord(token=token_for(), guilds=world(6), shards=6, max_concurrency=3,
                       enforce_identify_limit=True, identify_window=0.3)
    await fake.start()
    restore = point_discord_py_at(fake)
    yield fake
    restore()
    await fake.stop()


# -- real processes: three `careerbot serve` on one PostgreSQL ---------------------------------------------------
@pytest.fixture
async def pg_schema_url() -> AsyncIterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema of this test's own."""
    if postgres_url() is None:
        pytest.skip(NO_POSTGRES)
    async with postgres_schema() as url:
        yield url


async def until(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise asyncio.TimeoutError
        await asyncio.sleep(0.05)


class Serve:
    """``careerbot serve`` in a process of its own; its log read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process, self.name = process, name
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, tmp_path: Path, name: str, env: dict[str, str], *args: str) -> Serve:
        cwd = tmp_path / name
        cwd.mkdir()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", *args, cwd=cwd, env=subprocess_env(**env, CAREERBOT_LOG_LEVEL="INFO"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, name)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode(errors="replace").rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
        await asyncio.wait_for(self.reader, 5)
        return self.process.returncode or 0


async def test_six_shards_over_three_serve_processes_on_one_postgresql(tmp_path: Path, pg_schema_url: str):
    fake = FakeDiscord(token=token_for(), guilds=world(6), shards=6, max_concurrency=3, enforce_identify_limit=True)
    await fake.start()
    env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
           "CAREERBOT_DB": pg_schema_url}
    plan = {"a": "0-1", "b": "2-3", "c": "4-5"}
    launched = time.monotonic()
    spawned = await asyncio.gather(*(Serve.start(tmp_path, name, env, "--shards", shards, "--shard-count", "6")
                                     for name, shards in plan.items()), return_exceptions=True)
    serves = [s for s in spawned if isinstance(s, Serve)]
    try:
        for failed in spawned:
            if isinstance(failed, BaseException):
                raise failed
        try:
            sessions = await fake.wait_shards(range(6), timeout=40)
            all_identified = time.monotonic() - launched
            await until(lambda: all("connected to Discord" in s.log for s in serves), 20)
            all_ready = time.monotonic() - launched
        except asyncio.TimeoutError:
            raise AssertionError("\n\n".join(f"[{s.name}]\n{s.log}" for s in serves)) from None
        accepted = [r for r in fake.identify_log if r.accepted]
        span = accepted[-1].at - accepted[0].at
        print(f"\nsix shards over three processes: first IDENTIFY to last {span:.2f} s; launch to every shard "
              f"identified {all_identified:.2f} s; to every process ready (on_ready) {all_ready:.2f} s")
        # Every IDENTIFY within the bucket rule, none refused; every shard identified once.
        assert fake.identify_violations == [] and len(accepted) == len(fake.identify_log)
        assert Counter(r.shard_id for r in accepted) == Counter(range(6)) and {s.shard[1] for s in sessions.values()} == {6}
        assert span >= fake.identify_window  # six shards in three buckets take a second round
        await fake.wait_synced(1, timeout=20)
        for shard in range(6):  # a club on every shard asks; the process holding that shard answers
            sent = await fake.send_interaction("advice", ASK, guild=guild_id_on_shard(shard, 6), user="max")
            [answer] = await sent.wait(1, timeout=10)
            assert sent.shard == shard and "PhD" in str(answer.data)
        dm = await fake.send_interaction("advice", ASK, dm=True, user="max")  # a DM: on shard 0 only
        [answer] = await dm.wait(1, timeout=10)
        assert dm.shard == 0 and "PhD" in str(answer.data)
    finally:
        codes = [await s.stop() for s in serves]
        await fake.stop()
    for serve, code in zip(serves, codes):
        assert code == 0, serve.log
        shards = plan[serve.name]
        assert re.search(rf"connected to Discord as .* in 2 server\(s\), shards {shards} of 6", serve.log), serve.log
        assert fake.token not in serve.log
