"""A command's fixed cost: database round trips and latency through ``App.handle``, per command family.

Every interaction on a platform pays this before the handler's own work, so it is measured
on commands that do little else. A round trip is one hop to aiosqlite's thread (every
``execute``, fetch and commit), counted at ``aiosqlite.Connection._execute``, the one place
they all pass. Run: ``.venv/bin/python bench/commands.py`` (about 20 seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import frozen_clock  # noqa: E402
from bot.models import Actor, Place, Role  # noqa: E402
from commands import create_app  # noqa: E402

HOPS = 0
_original = aiosqlite.Connection._execute


async def _counting(self, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    global HOPS
    HOPS += 1
    return await _original(self, fn, *args, **kwargs)


aiosqlite.Connection._execute = _counting  # type: ignore[method-assign]


async def measure(app, actor: Actor, place: Place, lines: list[str]) -> tuple[list[float], list[int]]:  # noqa: ANN001
    global HOPS
    times, hops = [], []
    for line in lines:
        HOPS = 0
        started = time.perf_counter()
        reply = await app.handle(actor, place, line)
        times.append((time.perf_counter() - started) * 1000)
        hops.append(HOPS)
        if reply.kind in ("error", "refusal"):
            raise SystemExit(f"{line!r} failed: {reply.text}")
    return times, hops


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = await create_app(Path(tmp) / "bench.db", clock=frozen_clock("2026-03-04T12:00:00+00:00"))
        try:
            await app.start(background=False)
            member = Actor("discord:1", "ada", Role.MEMBER)
            mod = Actor("discord:2", "grace", Role.MODERATOR)
            place = Place("discord", "g1", "100", "general")
            await app.handle(mod, place, "/papers follow cs.LG")
            await app.handle(mod, place, "/config set timezone Europe/Berlin")
            families = {
                "/help": (member, ["/help"] * runs),
                "/advice QUESTION": (member, ["/advice do i need a phd for an ml internship"] * runs),
                "/paper today": (member, ["/paper today"] * runs),
                "/config show": (mod, ["/config show"] * runs),
                "/digest list": (member, ["/digest list"] * runs),
                # A server holds at most 100 digests: 5 to warm up, 95 measured.
                "/digest add (write)": (mod, [f"/digest add tips daily {h:02d}:00 #c{i}" for i in range(20) for h in range(9, 14)]),
                "/config set (write)": (mod, [f"/config set digest_quiet_line quiet {i}" for i in range(runs + 5)]),
            }
            print(f"{'command':<22} {'round trips':>11} {'p50 ms':>8} {'p99 ms':>8}   ({runs} runs each, 2-core machine)")
            for name, (actor, lines) in families.items():
                await measure(app, actor, place, lines[:5])  # warm caches as a running bot has them
                times, hops = await measure(app, actor, place, lines[5 : runs + 5])
                print(f"{name:<22} {statistics.median(hops):>11g} {pct(times, 0.5):>8.2f} {pct(times, 0.99):>8.2f}")
        finally:
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    asyncio.run(main(parser.parse_args().runs))
