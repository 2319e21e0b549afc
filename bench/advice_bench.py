"""Advice speed: in-process queries per second and p50/p99 over 1,000 varied questions, and the
wall time of one whole `careerbot advice` process. Prints figures; asserts nothing.

    python bench/advice_bench.py [--queries 1000] [--process-runs 10]

Questions are generated from a seeded mix of templates, knowledge-base vocabulary, typos,
off-topic phrases and long rambles, so the numbers cover answers and refusals alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEMPLATES = [
    "how do i {x}", "is {x} worth it for ml internships", "do i need {x}", "what about {x}?",
    "any tips on {x} before applying", "{x}", "should i focus on {x} or {y}", "help!! {x} {y} {z}",
]
OFF_TOPIC = ["banana bread recipe", "nginx reverse proxy", "fix cuda oom", "weather tomorrow", "best anime 2026"]


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def questions(n: int, vocabulary: list[str], seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        pick = [rng.choice(vocabulary) for _ in range(3)]
        if rng.random() < 0.15:
            pick[0] = rng.choice(OFF_TOPIC)
        if rng.random() < 0.2:
            pick[0] = typo(pick[0], rng)
        q = rng.choice(TEMPLATES).format(x=pick[0], y=pick[1], z=pick[2])
        if rng.random() < 0.05:
            q = (q + " ") * 12  # a long ramble
        out.append(q[:500])
    return out


async def in_process(n: int) -> None:
    from commands import create_app
    from commands.advice import service

    with tempfile.TemporaryDirectory() as tmp:
        app = await create_app(Path(tmp) / "bench.db")
        try:
            svc = service(app)
            vocab = sorted({k for e in svc.entries.values() for k in e.keywords})
            qs = questions(n, vocab)
            for q in qs[:50]:  # warm caches the way a running bot would be warm
                svc.search(q)
            latencies = []
            answered = 0
            start = time.perf_counter()
            for q in qs:
                t0 = time.perf_counter()
                answered += svc.search(q).status != "refused"
                latencies.append((time.perf_counter() - t0) * 1000)
            total = time.perf_counter() - start
            # Through the whole command path too (registry parse, render-neutral reply, sanitize).
            # (this one also records each question for the report: one SQLite write)
            full_lat = []
            for q in qs:
                t0 = time.perf_counter()
                await app.handle_text("/advice " + q)
                full_lat.append((time.perf_counter() - t0) * 1000)
            full_lat.sort()
        finally:
            await app.close()
    latencies.sort()
    p = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))]  # noqa: E731
    print(f"search, in-process: {len(qs)} questions in {total * 1000:.0f} ms -> {len(qs) / total:,.0f} queries/s")
    print(f"  latency p50 {p(0.50):.3f} ms, p99 {p(0.99):.3f} ms, max {latencies[-1]:.3f} ms; answered {answered}, refused {len(qs) - answered}")
    q = lambda f: full_lat[min(len(full_lat) - 1, int(f * len(full_lat)))]  # noqa: E731
    print(f"  whole /advice command through the registry (and the ask recorded): p50 {q(0.5):.3f} ms, "
          f"p99 {q(0.99):.3f} ms, mean {sum(full_lat) / len(full_lat):.3f} ms")


def whole_process(runs: int) -> None:
    """Wall time of whole processes, as a user types them: bytecode cached (a normal install;
    PYTHONDONTWRITEBYTECODE is dropped) and the built index cached under XDG_CACHE_HOME, then
    with no writable cache directory (the index built in every process)."""
    exe = Path(sys.executable).with_name("careerbot")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bot"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def timed(args: list[str], env: dict[str, str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env=env)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "proc.db")
        args = [*cmd, "advice", "do i need a phd for an ml internship", "--json", "--db", db]
        cached = {**env, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        first = timed(args, cached)
        warm = [timed(args, cached) for _ in range(runs)]
        (Path(tmp) / "not-a-dir").write_text("")
        uncached = {**env, "XDG_CACHE_HOME": str(Path(tmp) / "not-a-dir")}
        cold = [timed(args, uncached) for _ in range(max(3, runs // 3))]
    print(f"one `careerbot advice` process (goal < 1 s; sentence vectors cost about 0.25 s of it): first run (creates the database, builds and caches the index) {first * 1000:.0f} ms")
    print(f"  index cached: median {statistics.median(warm) * 1000:.0f} ms, min {min(warm) * 1000:.0f} ms, max {max(warm) * 1000:.0f} ms over {runs} runs")
    print(f"  no cache directory (index built each time): median {statistics.median(cold) * 1000:.0f} ms over {len(cold)} runs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--process-runs", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(in_process(args.queries))
    whole_process(args.process_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
