"""Study groups at scale, measured (prints figures; asserts nothing about speed).

Seeds one SQLite file with 1,000 groups, 20,000 members (20 per group, in five timezones)
and 1,000,000 check-ins (50 per member over the last ten weeks), then times what users and
the scheduler do, through the real App:
- ``/checkin``, ``/streak`` and ``/leaderboard`` as typed (p50/p99 over many members; target p99 < 10 ms);
- building every group's weekly summary (what the Monday jobs do, all at once);
- drawing one 12-week chart (the PNG, without the first matplotlib import, which is shown apart).

Run: .venv/bin/python bench/studygroups.py [--groups 1000] [--per-group 20] [--checkins 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import frozen_clock  # noqa: E402
from bot.models import Actor, Place  # noqa: E402
from bot.storage import studygroups_repo as repo  # noqa: E402
from commands import create_app  # noqa: E402
from commands.studygroups import service  # noqa: E402

NOW = "2027-03-15T10:40:00+00:00"  # a Monday
ZONES = ["America/Los_Angeles", "Asia/Tokyo", "Asia/Kathmandu", "Europe/Berlin", "UTC"]
WORDS = "leetcode mediums graphs dp attention paper notes flashcards linear algebra probability kaggle project".split()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"{name:<28} n={len(ms):>5}  p50 {statistics.median(ms):6.2f} ms  p99 {pct(ms, 99):6.2f} ms  max {max(ms):7.2f} ms"


async def seed(app, groups: int, per_group: int, checkins: int) -> None:  # noqa: ANN001
    rnd = random.Random(7)
    today = date(2027, 3, 15)
    t0 = time.perf_counter()
    async with app.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO study_groups (id, platform, workspace, name, name_key, channel, channel_name, goal, owner, owner_name, created_at)"
            " VALUES (?, 'console', 'console:club', ?, ?, ?, ?, 'two mediums a day', ?, ?, '2026-12-01T00:00:00+00:00')",
            [(g, f"group-{g}", f"group-{g}", f"ch{g % 50}", f"ch{g % 50}", f"console:u{g}-0", f"u{g}-0") for g in range(1, groups + 1)],
        )
        await conn.executemany(
            "INSERT INTO group_schedules (group_id, since_day, days, at) VALUES (?, '2026-12-01', ?, '19:00')",
            [(g, "0,1,2,3,4,5,6" if g % 3 else "0,1,2,3,4") for g in range(1, groups + 1)],
        )
        members, settings, rows = [], [], []
        days = [today - timedelta(days=d) for d in range(70)]
        for g in range(1, groups + 1):
            for m in range(per_group):
                user = f"console:u{g}-{m}"
                members.append((g, user, f"u{g}-{m}", "2026-12-01T00:00:00+00:00", "2026-12-01"))
                settings.append((user, "timezone", ZONES[(g + m) % len(ZONES)], "2026-12-01T00:00:00+00:00"))
                for d in sorted(rnd.sample(days, checkins)):
                    rows.append((g, user, d.isoformat(), f"u{g}-{m}", f"{d.isoformat()}T12:00:00+00:00", "UTC",
                                 rnd.choice((0, 15, 30, 45, 60)), " ".join(rnd.sample(WORDS, 3))))
        await conn.executemany(
            "INSERT INTO group_members (group_id, user_id, user_name, joined_at, joined_day) VALUES (?, ?, ?, ?, ?)", members)
        await conn.executemany("INSERT INTO user_settings (user_id, key, value, updated_at) VALUES (?, ?, ?, ?)", settings)
        await conn.executemany(
            "INSERT INTO checkins (group_id, user_id, local_day, user_name, at, zone, minutes, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    print(f"seeded {groups:,} groups, {len(members):,} members, {len(rows):,} check-ins in {time.perf_counter() - t0:.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--per-group", type=int, default=20)
    parser.add_argument("--checkins", type=int, default=50)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = await create_app(Path(tmp) / "bench.db", clock=frozen_clock(NOW))
        try:
            await seed(app, args.groups, args.per_group, args.checkins)
            size = (Path(tmp) / "bench.db").stat().st_size
            print(f"database file: {size / 2**20:.0f} MiB\n")
            rnd = random.Random(11)
            place = Place("console", "club", "ch0", "ch0")

            async def timed(user: str, text: str) -> float:
                t = time.perf_counter()
                reply = await app.handle(Actor(f"console:{user}", user), place, text)
                elapsed = time.perf_counter() - t
                assert reply.kind != "error", (text, reply.plain_text())
                return elapsed

            picks = [(rnd.randint(1, args.groups), rnd.randint(1, args.per_group - 1)) for _ in range(args.samples)]
            for name, make in (
                ("/checkin TEXT 30m GROUP", lambda g, m: f"/checkin two mediums 30m group-{g}"),
                ("/streak GROUP", lambda g, m: f"/streak group-{g}"),
                ("/leaderboard GROUP week", lambda g, m: f"/leaderboard group-{g} week"),
                ("/leaderboard GROUP all", lambda g, m: f"/leaderboard group-{g} all"),
            ):
                samples = [await timed(f"u{g}-{m}", make(g, m)) for g, m in picks]
                print(line(name, samples))

            svc = service(app)
            ids = await repo.live_group_ids(app.db)
            t = time.perf_counter()
            built = 0
            at = app.clock.now()
            for gid in ids:
                g = await repo.get_group(app.db, gid)
                if await svc.summary(g, date(2027, 3, 8), date(2027, 3, 14), at) is not None:
                    built += 1
            print(f"\nevery weekly summary: {built:,} groups in {time.perf_counter() - t:.2f} s")

            from commands.studygroups.chart import heatmap_png

            t = time.perf_counter()
            import matplotlib  # noqa: F401

            print(f"first import of matplotlib: {(time.perf_counter() - t) * 1000:.0f} ms")
            values = {date(2027, 3, 15) - timedelta(days=d): 1 for d in range(0, 80, 2)}
            heatmap_png(values, date(2027, 3, 15), title="warm-up")
            draws = []
            for _ in range(10):
                t = time.perf_counter()
                png = heatmap_png(values, date(2027, 3, 15), title="u1-1")
                draws.append(time.perf_counter() - t)
            print(line("one chart (PNG)", draws) + f"  {len(png) / 1024:.0f} KiB")
            samples = [await timed(f"u{g}-{m}", f"/streak chart group-{g}") for g, m in picks[:30]]
            print(line("/streak chart GROUP", samples))
        finally:
            await app.close()


if __name__ == "__main__":
    asyncio.run(main())
