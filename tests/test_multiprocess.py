"""Several real ``careerbot serve`` processes on one database, against the local Discord fake.

Each process is ``python -m bot serve --roles worker,sender`` (no gateway: these tests are about
the outbound side). Posts are queued from the test through the core's outbox, as a digest or an
alert would be; the processes elect one sender, which sends each post once, in channel order.
Killing the sender with SIGKILL (no clean shutdown, a post half-sent) hands the role to a
standby within seconds; the half-sent post goes out once, after its lease runs out.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.clock import Clock
from bot.delivery import Target
from bot.models import Reply
from commands import create_app
from tests.conftest import REPO, subprocess_env
from tests.fakes.fake_discord import FakeDiscord

pytestmark = pytest.mark.both_engines

ROLE_TAKEN = re.compile(r"took the sender:discord role")
LEASE = 3  # seconds a half-sent post stays its dead sender's (CAREERBOT_DELIVERY_LEASE_SECONDS)


class StallingDiscord(FakeDiscord):
    """Holds the first message to ``stall_channel`` unanswered (and unstored) until the sender dies."""

    stall_channel = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()
        self._stalled_once = False

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["channel_id"] == self.stall_channel and not self._stalled_once:
            self._stalled_once = True
            self.stalled.set()
            await self.release.wait()  # the sender is SIGKILLed meanwhile: its connection drops
            raise ConnectionResetError("sender gone")
        return await super()._create_message(request)


@dataclass
class Proc:
    proc: asyncio.subprocess.Process
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def holds_sender(self) -> bool:
        return bool(ROLE_TAKEN.search(self.text()))


async def spawn(n: int, db: str, fake: FakeDiscord, workdir: Path) -> list[Proc]:
    env = subprocess_env(
        CAREERBOT_DB=str(db), DISCORD_TOKEN="test-token", DISCORD_API_BASE=fake.base_url,
        CAREERBOT_LOG_LEVEL="INFO", CAREERBOT_DELIVERY_LEASE_SECONDS=str(LEASE), PYTHONPATH=str(REPO),
    )
    procs = []
    for i in range(n):
        log = workdir / f"serve-{i}.log"
        with open(log, "wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", "--roles", "worker,sender",
                cwd=workdir, env=env, stdout=out, stderr=out,
            )
        procs.append(Proc(proc, log))
    deadline = time.monotonic() + 60
    try:
        while not all("careerbot is serving" in p.text() for p in procs):
            for p in procs:
                assert p.proc.returncode is None, f"serve exited early:\n{p.text()}"
            assert time.monotonic() < deadline, "serve processes not up in 60 s:\n" + "\n".join(p.text() for p in procs)
            await asyncio.sleep(0.1)
    except BaseException:
        await stop_all(procs)  # no process outlives a failed test
        raise
    return procs


async def stop_all(procs: list[Proc]) -> None:
    for p in procs:
        if p.proc.returncode is None:
            p.proc.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            await asyncio.wait_for(p.proc.wait(), 30)
        except asyncio.TimeoutError:
            p.proc.kill()
            await p.proc.wait()


async def queue_posts(db: str, channels: list[str], per_channel: int) -> list[str]:
    """Queues posts as the scheduler would (one transaction each), from a process of its own."""
    app = await create_app(db, clock=Clock())
    keys = []
    try:
        for n in range(per_channel):
            for channel in channels:
                target = Target("discord", "g1", channel, f"c{channel}")
                keys += await app.outbox.post(target, "test", f"p{n}", Reply(text=f"post {n} to {channel}"))
    finally:
        await app.close()
    return keys


async def wait_delivered(fake: FakeDiscord, channels: list[str], per_channel: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sum(len(fake.in_channel(c)) for c in channels) < len(channels) * per_channel:
        assert time.monotonic() < deadline, f"only {sum(len(fake.in_channel(c)) for c in channels)} posts arrived"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive now


def assert_once_in_order(fake: FakeDiscord, channels: list[str], per_channel: int) -> None:
    for channel in channels:
        texts = [m["content"] for m in fake.in_channel(channel)]
        assert texts == [f"post {n} to {channel}" for n in range(per_channel)], (channel, texts)


@pytest.mark.parametrize("processes", [2, 4])
async def test_several_processes_send_every_post_once_in_channel_order(
    db_path: Any, engine: str, tmp_path: Path, processes: int
) -> None:
    if engine == "sqlite" and processes == 4:
        pytest.skip("one file-lock election is shown with two processes; four share a database on PostgreSQL")
    fake = FakeDiscord(rate_limit=50, window=1.0)
    await fake.start()
    procs = await spawn(processes, str(db_path), fake, tmp_path)
    try:
        channels = [str(500 + i) for i in range(6)]
        await queue_posts(str(db_path), channels, per_channel=10)
        await wait_delivered(fake, channels, per_channel=10)
        assert_once_in_order(fake, channels, per_channel=10)
        holders = [p for p in procs if p.holds_sender()]
        assert len(holders) == 1, "exactly one process is elected sender"
    finally:
        await stop_all(procs)
        await fake.stop()
    for p in procs:
        assert p.proc.returncode == 0, p.text()
        assert "Traceback" not in p.text(), p.text()


async def test_killing_the_sender_hands_over_and_the_half_sent_post_goes_out_once(
    db_path: Any, engine: str, tmp_path: Path
) -> None:
    fake = StallingDiscord(rate_limit=50, window=1.0)
    StallingDiscord.stall_channel = "601"
    await fake.start()
    procs = await spawn(2, str(db_path), fake, tmp_path)
    try:
        channels = ["600", "601", "602"]
        await queue_posts(str(db_path), channels, per_channel=4)
        await asyncio.wait_for(fake.stalled.wait(), 30)  # the sender has claimed 601's first post and is sending it
        leader = next(p for p in procs if p.holds_sender())
        standby = next(p for p in procs if p is not leader)
        killed_at = time.monotonic()
        leader.proc.send_signal(signal.SIGKILL)
        await leader.proc.wait()
        fake.release.set()
        while not standby.holds_sender():
            assert time.monotonic() - killed_at < 15, "no standby took the sender role:\n" + standby.text()
            await asyncio.sleep(0.05)
        takeover = time.monotonic() - killed_at
        await wait_delivered(fake, channels, per_channel=4, timeout=LEASE + 30)
        assert_once_in_order(fake, channels, per_channel=4)
        print(f"\n[{engine}] sender failover: standby took the role {takeover:.2f} s after SIGKILL")
        assert takeover < 5
    finally:
        await stop_all(procs[1:] if procs[0].proc.returncode is not None else procs)
        await fake.stop()


async def test_feed_polls_run_in_one_process_only(db_path: Any, engine: str, tmp_path: Path) -> None:
    """The feeds role: two workers, one poller; the other's log never shows a poll."""
    fake = FakeDiscord(rate_limit=50, window=1.0)
    await fake.start()
    procs = await spawn(2, str(db_path), fake, tmp_path)
    try:
        held = defaultdict(list)
        for i, p in enumerate(procs):
            for role in re.findall(r"took the (\S+) role", p.text()):
                held[role].append(i)
        assert len(held["feeds"]) == 1 and len(held["sender:discord"]) == 1, dict(held)
    finally:
        await stop_all(procs)
        await fake.stop()
    assert all(p.proc.returncode == 0 for p in procs)


def test_roles_are_checked_before_anything_starts(tmp_path: Path) -> None:
    import subprocess

    env = subprocess_env(CAREERBOT_DB=str(tmp_path / "x.db"), DISCORD_TOKEN="test-token", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "bot", "serve", "--roles", "workers"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "'workers' is not one" in out.stderr, out.stderr
    assert not os.path.exists(tmp_path / "x.db"), "nothing was created"
