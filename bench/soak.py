"""Soak: the real ``careerbot serve`` process under steady load, injected faults and two SIGKILLs.

    .venv/bin/python bench/soak.py                 # 300 s of load: about 6-8 minutes in all
    .venv/bin/python bench/soak.py --seconds 60    # 2-3 minutes (a short run waits so a digest minute falls inside it)
    .venv/bin/python bench/soak.py --seconds 120 --kill-near-minutes --digests-per-minute 8 --seed 5

    .venv/bin/python bench/soak.py --seconds 30 --kills 1 --check --cleanup   # what `make test` runs (~1-2 min)

Options: --rate (commands/s), --kills, --digests-per-minute, --drain, --no-refresh, --seed, --cleanup,
--check (exit 1 on a broken promise; see the end of this text).

What runs: this process starts the local fakes on 127.0.0.1 only — FakeDiscord (REST +
gateway, tests/fakes/fake_discord.py), FakeSlack in HTTP mode with a signing secret
(tests/fakes/slack_server.py: it posts signed slash commands to the bot's /slack/events) and a
feed server (tests/fakes/feed_server.py, with the fixtures of tests/fixtures/feeds and a
SimplifyJobs list) — then runs ``python -m bot serve`` as a subprocess with environment
variables pointing every platform and feed URL at them, ``CAREERBOT_DB`` in a temporary
directory and ``CAREERBOT_HTTP_PORT`` set, so /healthz and /metrics are read while it runs.

Set-up (as moderators on both platforms): follow an arXiv category, add a job list, a channel
alert and a DM alert, a study group whose daily prompt falls inside the run, and digests
(``daily HH:MM``, the shortest schedule the grammar has) at every whole minute inside the run,
a few channels per minute per platform. Some 30 s before the last digest minute the job list
grows and an operator runs ``careerbot feeds refresh`` (a second process on the same database),
so the four alerts come due (the running bot sends them when its scheduler next wakes).

Load: ``--rate`` commands per second, half Discord interactions, half Slack slash commands
(/help, /advice ask with the students' questions of bench/advice_student.jsonl, /advice topics,
/paper today, /paper search and /paper ID (both ask the arXiv fake), /checkin, /streak,
/leaderboard, /postings latest, /digest list, /me show), each sent without waiting for the last.

Faults, on a schedule: the paper feeds cycle through healthy, HTTP 500, slow (25 s, past the
bot's 20 s fetch timeout), malformed bodies and 429 + Retry-After; before each digest minute
some of the channels about to get a post answer 429 or 5xx (FakeDiscord ``fail_next``, FakeSlack
``rate_limit_next``/``fail_next``); the bot process is killed with SIGKILL twice at random
moments (``--kill-near-minutes``: just after digest minutes, while posts are going out) and
restarted on the same database. At the end, after a drain (``--drain``: failed posts retry after
30 s, then 60 s), it gets SIGTERM and should exit 0.

Printed at the end: commands sent vs answered, answer latency p50/p99
(sent -> first message with content), unanswered ones split by cause (bot down, in flight at
a kill, lost while up), Discord interactions not acknowledged in 3 s; posts expected vs
delivered vs duplicated (per idempotency key: Discord's nonce, Slack's metadata key; and per
identical content in a channel) plus posts nobody expected; error texts shown to users
("Traceback", "something went wrong"); 429s and 5xx seen by the platforms and counted by the
bot; feed requests by fault; /healthz answers; the bot process's RSS (from /proc/PID/status
every ``--sample-every`` s: start, max, end, per life); restarts; and what the bot logged at
ERROR or with a traceback. The temporary directory (database, one log per life) is kept and
printed unless ``--cleanup``.

With ``--check`` the run fails (exit 1, workdir kept) on a broken promise: an expected post
missing, a delivery key posted twice or a post nobody expected, an error shown to a user, a
command sent while the bot was up (not at a kill) never answered, a traceback or ERROR line in
the bot's log, a life whose memory grew by half again, or an exit other than 0 on SIGTERM.
Timings (latency, delays) are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bot.adapters.discord_rest import nonce_for  # noqa: E402 - a Discord message's nonce -> its delivery key
from bot.clock import iso_utc  # noqa: E402 - the bot's text form of an instant, as in delivery keys
from tests.fakes.fake_discord import CHANNEL_IDS, GUILD_ID, FakeDiscord, default_guild, opt, sub, token_for  # noqa: E402
from tests.fakes.feed_server import FIXTURES, FeedServer  # noqa: E402
from tests.fakes.slack_server import FakeSlack  # noqa: E402

JOBS = ROOT / "tests" / "fixtures" / "jobs" / "simplify_listings_2024-11-15.json"
PWC = ROOT / "tests" / "fixtures" / "pwc"
QUESTIONS = ROOT / "bench" / "advice_student.jsonl"
INTERNAL_ERROR = re.compile(r"traceback|something went wrong|internal error", re.I)
NUMBERS = re.compile(r"[0-9a-f]{6,}|\d+")  # ids and counts, so log lines group

# -- the world ------------------------------------------------------------------------------------------
N_CHANNELS = 20  # digest channels per platform (each takes at most 5 digests)
DISCORD_CATEGORY = CHANNEL_IDS["Text Channels"]
DISCORD_SOAK = {f"soak-{i:02d}": str(1100000000000000200 + i) for i in range(N_CHANNELS)}
DISCORD_STUDY = ("soak-study", "1100000000000000300")
DISCORD_MOD, DISCORD_MEMBERS, DISCORD_DM_USER = "mia", ("max", "mo"), "max"
SLACK_TEAM = "T0FAKE"
SLACK_SOAK = {f"soak-{i:02d}": f"C0SOAK{i:02d}" for i in range(N_CHANNELS)}
SLACK_GENERAL, SLACK_JOBS, SLACK_STUDY = ("C0GENERAL", "general"), ("C0JOBS", "jobs"), ("C0STUDY", "soak-study")
SLACK_MOD = ("U0MOD", "mod")
SLACK_MEMBERS = (("U0ADA", "ada"), ("U0BOB", "bob"), ("U0CAT", "cat"))
SLACK_DM_USER = SLACK_MEMBERS[0]
CHANNEL_ALERT, DM_ALERT = "season:summer-2025 sponsorship:yes", "location:uk"
CONTENTS = ("tips", "tips,papers", "tips,postings")
ARXIV_IDS = {"1605.08386": "id_1605.08386_s0_m100_199195aa31ad.xml", "2104.12255": "id_2104.12255v1_s0_m100_6ae69987ffe1.xml",
             "quant-ph/0201082": "id_quant-ph_0201082v1_s0_m100_86989fe779ef.xml"}
UNKNOWN_ID_BODY = "id_0000.0000_s0_m100_8b51d9633a68.xml"
SEARCHES = ("quantum error correction", "variational circuits", "diffusion transformers", "entanglement witness",
            "retrieval augmented generation", "graph neural networks for molecules", "zzqx unlikely words")
FEED_MODES = ("ok", "500", "slow", "malformed", "429")
# What the channels due a post answer first, in turn per platform (None: no fault).
PLATFORM_FAULTS = ([429], [502, 503], [500], None, [429, 500])
FAULTY = ("/arxiv/", "/hf/", "/pwc/")  # the job list stays healthy: its alerts are counted exactly


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_only() -> None:
    """This process talks to 127.0.0.1 only (the bot gets only loopback URLs)."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        name = host.decode() if isinstance(host, bytes) else (host or "")
        if name and name not in ("127.0.0.1", "localhost", "::1"):
            try:
                ipaddress.ip_address(name)
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, f"soak: no DNS for {name!r} (loopback only)") from None
        return real(host, *args, **kwargs)

    socket.getaddrinfo = guarded  # type: ignore[assignment]


def soak_guild() -> dict[str, Any]:
    guild = default_guild()
    for name, cid in [*DISCORD_SOAK.items(), DISCORD_STUDY]:
        guild["channels"].append({"id": cid, "name": name, "type": 0, "parent_id": DISCORD_CATEGORY})
    return guild


# -- the feed server, with a fault mode ---------------------------------------------------------------------
class FaultyFeeds(FeedServer):
    """The tests' feed server; paths under FAULTY answer according to ``mode``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.mode = "ok"
        self.by_mode: collections.Counter[str] = collections.Counter()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        mode = self.mode if path.startswith(FAULTY) else "ok"
        self.by_mode[mode] += 1
        if mode == "500":
            self._log(request)
            return web.Response(status=500, text="<html><body><h1>500 Internal Server Error</h1></body></html>", content_type="text/html")
        if mode == "429":
            self._log(request)
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "3"})
        if mode == "malformed":
            self._log(request)
            if path.startswith(("/hf/", "/pwc/")):
                return web.Response(body=b'{"paper": {"id": "2608.1', content_type="application/json")
            return web.Response(body=b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry><title>trunc",
                                content_type="application/xml")
        if mode == "slow":
            await asyncio.sleep(25.0)
        if path == "/arxiv/api/query" and "id_list" in request.query and request.path_qs not in self.routes:
            self._log(request)
            return web.Response(body=(FIXTURES / UNKNOWN_ID_BODY).read_bytes(), content_type="application/xml")
        return await super()._serve(request)


# -- the bot process ----------------------------------------------------------------------------------------
@dataclass
class Life:
    number: int
    proc: asyncio.subprocess.Process
    log: Path
    spawned: float
    ready: float | None = None
    ended: float | None = None
    how: str = ""  # "SIGKILL", "SIGTERM", "died"
    exit_code: int | None = None
    rss: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, kB)
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)  # last scrape


class Bot:
    def __init__(self, env: dict[str, str], workdir: Path, fd: FakeDiscord, http_url: str) -> None:
        self.env, self.workdir, self.fd, self.http_url = env, workdir, fd, http_url
        self.lives: list[Life] = []

    @property
    def life(self) -> Life | None:
        return self.lives[-1] if self.lives else None

    def up(self) -> bool:
        life = self.life
        return bool(life and life.ready and life.ended is None)

    async def start(self, timeout: float = 90.0) -> Life:
        number = len(self.lives) + 1
        log = self.workdir / f"bot-{number}.log"
        sessions = len(self.fd.sessions)
        with open(log, "wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", cwd=self.workdir, env=self.env, stdout=out, stderr=out)
        life = Life(number, proc, log, time.monotonic())
        self.lives.append(life)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"careerbot serve exited with {proc.returncode} while starting; see {log}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"careerbot serve not ready after {timeout} s; see {log}")
                try:
                    async with session.get(self.http_url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                        checks = (await resp.json(content_type=None)).get("checks", {})
                    gateway = self.fd.session
                    if (checks.get("discord") == "ok" and checks.get("slack") == "ok" and len(self.fd.sessions) > sessions
                            and gateway is not None and gateway.ready and gateway.conn is not None):
                        life.ready = time.monotonic()
                        return life
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                    pass
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        life = self.life
        assert life is not None and life.ended is None
        life.proc.send_signal(signal.SIGKILL)
        life.exit_code = await life.proc.wait()
        life.ended, life.how = time.monotonic(), "SIGKILL"

    async def terminate(self, timeout: float = 30.0) -> float:
        life = self.life
        assert life is not None
        started = time.monotonic()
        if life.proc.returncode is None:
            life.proc.send_signal(signal.SIGTERM)
            try:
                life.exit_code = await asyncio.wait_for(life.proc.wait(), timeout)
                life.how = "SIGTERM"
            except asyncio.TimeoutError:
                life.proc.send_signal(signal.SIGKILL)
                life.exit_code = await life.proc.wait()
                life.how = f"SIGTERM ignored for {timeout:.0f} s, then SIGKILL"
        else:
            life.exit_code, life.how = life.proc.returncode, "died"
        life.ended = time.monotonic()
        return life.ended - started

    def rss_kb(self) -> int | None:
        life = self.life
        if life is None or life.ended is not None or life.proc.returncode is not None:
            return None
        try:
            with open(f"/proc/{life.proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not match:
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match[2] or "")))
        try:
            out[(match[1], labels)] = float(match[3])
        except ValueError:
            pass
    return out


def metric_sum(lives: list[Life], name: str, **want: str) -> float:
    total = 0.0
    for life in lives:
        for (metric, labels), value in life.metrics.items():
            if metric == name and all(dict(labels).get(k) == v for k, v in want.items()):
                total += value
    return total


# -- what was sent -----------------------------------------------------------------------------------------
@dataclass
class SlackSent:
    label: str
    sent: float
    up: bool
    response_id: str | None = None
    ack_status: int | None = None
    ack_elapsed: float | None = None
    error: str | None = None


@dataclass
class DiscordSent:
    label: str
    rec: Any  # tests.fakes.fake_discord.SentInteraction
    up: bool


def discord_text(data: dict[str, Any]) -> str:
    parts = [str(data.get("content") or "")]
    for embed in data.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or ""), str((embed.get("footer") or {}).get("text") or "")]
        parts += [f"{f.get('name')}: {f.get('value')}" for f in embed.get("fields") or []]
    return "\n".join(p for p in parts if p)


def discord_answer(rec: Any) -> Any:
    """The first response that carried content (a message callback, or the edit/follow-up after a defer)."""
    for r in rec.responses:
        if (r.kind == "callback" and r.type in (4, 7)) or r.kind in ("edit_original", "followup"):
            return r
    return None


def slack_text(body: dict[str, Any]) -> str:
    return str(body.get("text") or "") + "\n" + json.dumps(body.get("blocks") or [], ensure_ascii=False)


# -- the soak ---------------------------------------------------------------------------------------------------
class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = Path(tempfile.mkdtemp(prefix="careerbot-soak-"))
        self.fd = FakeDiscord(token=token_for(), guilds=[soak_guild()])
        users = {SLACK_MOD[0]: {"name": SLACK_MOD[1], "is_admin": True}}
        users.update({uid: {"name": name} for uid, name in SLACK_MEMBERS})
        self.fs = FakeSlack(users=users)
        self.feeds = FaultyFeeds()
        self.questions = [json.loads(line)["question"][:500] for line in QUESTIONS.read_text().splitlines() if line.strip()]
        self.discord_sent: list[DiscordSent] = []
        self.slack_sent: list[SlackSent] = []
        self.setup_problems: list[str] = []
        self.expected: list[dict[str, Any]] = []  # {"platform", "channel", "kind", "period", "what", "due"}
        self.injected: collections.Counter[str] = collections.Counter()
        self.health: collections.Counter[str] = collections.Counter()
        self.unhealthy_parts: collections.Counter[str] = collections.Counter()
        self.kill_at: list[float] = []
        self.refresh: dict[str, Any] = {}
        self.refreshing = False
        self.fault_turn: collections.Counter[str] = collections.Counter()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.t0 = 0.0  # monotonic start of the load
        self.wall_offset = time.time() - time.monotonic()

    # -- plumbing ---------------------------------------------------------------------------------------
    def at(self, mono: float) -> str:
        return f"+{mono - self.t0:.1f} s"

    def mono_of(self, moment: datetime) -> float:
        return moment.timestamp() - self.wall_offset

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def discord(self, user: str, channel: str, name: str, options: list[Any], timeout: float = 20.0) -> str:
        """A set-up interaction, waited for; returns the answer's text."""
        rec = await self.fd.send_interaction(name, options, user=user, channel=channel)
        deadline = time.monotonic() + timeout
        while discord_answer(rec) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        answer = discord_answer(rec)
        text = discord_text(answer.data) if answer else f"(no answer; rejected {[(r.kind, r.code) for r in rec.rejected]})"
        return text

    async def slack(self, user: tuple[str, str], channel: tuple[str, str], text: str, timeout: float = 20.0) -> str:
        ack = await self.fs.post_slash_command(self.slack_url, text=text, user_id=user[0], user_name=user[1],
                                               channel_id=channel[0], channel_name=channel[1], timeout=timeout)
        if ack.status != 200:
            return f"(ack {ack.status}: {ack.body[:200]})"
        try:
            [answer, *_] = await self.fs.wait_responses(ack.response_id or "", 1, timeout)
        except TimeoutError:
            return "(no answer)"
        return slack_text(answer["body"])

    def check(self, what: str, text: str, *expect: str) -> None:
        ok = any(e.lower() in text.lower() for e in expect)
        print(f"  {'ok ' if ok else 'BAD'} {what}: {text.splitlines()[0][:150] if text else '(empty)'}")
        if not ok:
            self.setup_problems.append(f"{what}: {text[:300]}")

    def expect_digest(self, platform: str, channel: str, text: str, minute: datetime, what: str) -> None:
        """Records the post a digest set-up reply promises, or the set-up problem if it promised none."""
        found = re.search(r"Digest #(\d+) will post", text)
        if found:
            self.expected.append({"platform": platform, "channel": channel, "kind": f"digest-{found[1]}",
                                  "period": iso_utc(minute), "what": "digest", "due": minute})
        else:
            self.check(f"{platform} digest {what}", text, "will post")

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Reads the bot's database beside it (read-only; WAL lets it keep writing)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    # -- start ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.fd.start()
        await self.fs.start()
        await self.feeds.start()
        base = self.feeds.base_url
        self.feeds.serve_fixture("/arxiv/api/query", "q_testing_s0_m10_bc5a6c384fe9.xml")
        for arxiv_id, name in ARXIV_IDS.items():
            self.feeds.routes[f"/arxiv/api/query?id_list={arxiv_id.replace('/', '%2F')}&max_results=1"] = (FIXTURES / name).read_bytes()
        self.feeds.serve_fixture("/arxiv/rss/quant-ph", "quant-ph_2025-04-28.xml")
        self.feeds.serve_fixture("/hf/api/daily_papers", "daily_papers_2026-08-21_reserialized.json")
        self.feeds.routes["/pwc/api/v1/papers/"] = (PWC / "papers_arxiv_unknown.json").read_bytes()
        listings = json.loads(JOBS.read_bytes())
        self.jobs_v1 = json.dumps(listings[:-3]).encode()  # the last three appear half way (tests/test_postings.py)
        self.jobs_v2 = json.dumps(listings).encode()
        self.feeds.routes["/jobs/listings.json"] = self.jobs_v1
        self.jobs_url = base + "/jobs/listings.json"

        slack_port, http_port = free_port(), free_port()
        self.slack_url = f"http://127.0.0.1:{slack_port}/slack/events"
        self.db_path = self.workdir / "careerbot.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "CAREERBOT_"))}
        env.update(
            DISCORD_TOKEN=self.fd.token, DISCORD_API_BASE=self.fd.base_url, DISCORD_GATEWAY_URL=self.fd.gateway_url,
            DISCORD_GUILD_IDS=GUILD_ID,
            SLACK_BOT_TOKEN=self.fs.bot_token, SLACK_SIGNING_SECRET=self.fs.signing_secret, SLACK_API_BASE=self.fs.api_url,
            CAREERBOT_SLACK_HOST="127.0.0.1", CAREERBOT_SLACK_PORT=str(slack_port),
            CAREERBOT_HTTP_HOST="127.0.0.1", CAREERBOT_HTTP_PORT=str(http_port),
            CAREERBOT_DB=str(self.db_path), CAREERBOT_LOG_LEVEL="INFO",
            CAREERBOT_ARXIV_API_URL=base + "/arxiv/api/query", CAREERBOT_ARXIV_RSS_URL=base + "/arxiv/rss",
            CAREERBOT_HF_PAPERS_URL=base + "/hf/api/daily_papers", CAREERBOT_PWC_API_URL=base + "/pwc/api/v1",
            CAREERBOT_ALLOW_PRIVATE_FEEDS="1",
        )
        self.env = env
        self.bot = Bot(env, self.workdir, self.fd, f"http://127.0.0.1:{http_port}")
        life = await self.bot.start()
        print(f"bot started (pid {life.proc.pid}) and ready in {life.ready - life.spawned:.1f} s")

    # -- set-up as moderators ---------------------------------------------------------------------------
    async def setup(self) -> None:
        print("set-up:")
        general = "general"
        self.check("discord /papers follow", await self.discord(DISCORD_MOD, general, "papers", [sub("follow", opt("categories", "quant-ph"))]), "follows")
        text = await self.discord(DISCORD_MOD, general, "postings", [sub("source", opt("action", "add"), opt("target", self.jobs_url), opt("kind", "simplify"))])
        self.check("discord /postings source add", text, "added")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            row = next(iter(self.query("SELECT status, items_last FROM feed_sources WHERE feature = 'postings'")), None)
            if row and row[0] == "ok":
                print(f"  ok  job list baseline stored ({row[1]:,} postings)")
                break
            await asyncio.sleep(0.5)
        else:
            self.setup_problems.append("the job list's first fetch did not finish in 90 s")
        self.check("discord channel alert", await self.discord(DISCORD_MOD, general, "alerts", [sub("add", opt("filters", CHANNEL_ALERT), opt("channel", "jobs"))]), "added")
        self.check("discord DM alert", await self.discord(DISCORD_DM_USER, general, "alerts", [sub("add", opt("filters", DM_ALERT))]), "added")
        g, j = SLACK_GENERAL, SLACK_JOBS
        self.check("slack /papers follow", await self.slack(SLACK_MOD, g, "papers follow quant-ph"), "follows")
        self.check("slack /postings source add", await self.slack(SLACK_MOD, g, f"postings source add {self.jobs_url} simplify"), "added")
        self.check("slack channel alert", await self.slack(SLACK_MOD, g, f"alerts add {CHANNEL_ALERT} <#{j[0]}|{j[1]}>"), "added")
        self.check("slack DM alert", await self.slack(SLACK_DM_USER, g, f"alerts add {DM_ALERT}"), "added")

    def plan(self) -> list[datetime]:
        """The run's window and the whole minutes inside it that get digests."""
        seconds = self.args.seconds
        start = time.time() + 10.0  # time to create groups and digests

        def minutes(a: float, b: float) -> list[datetime]:
            first = datetime.fromtimestamp(a, timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
            out = []
            while first.timestamp() <= b:
                out.append(first)
                first += timedelta(minutes=1)
            return out

        found = minutes(start + 5, start + seconds - 15)
        if not found:  # a short run between two minutes: move it so one falls inside
            nxt = minutes(start + 5, start + 3600)[0]
            start = nxt.timestamp() - seconds / 2
            found = [nxt]
        self.t0 = start - self.wall_offset
        return found

    async def schedule_posts(self, minutes: list[datetime]) -> None:
        k = self.args.digests_per_minute
        n = 0
        middle = minutes[len(minutes) // 2]
        hhmm = middle.strftime("%H:%M")
        study, (sc, sn) = DISCORD_STUDY, SLACK_STUDY
        text = await self.discord(DISCORD_MOD, study[0], "studygroup", [sub("create", opt("name", "soak-dc"), opt("plan", f"daily {hhmm} two mediums"))])
        self.check("discord study group", text, "created")
        gid = await self._group_id("discord", "soak-dc")
        if gid:
            self.expected.append({"platform": "discord", "channel": study[1], "kind": f"studygroup-{gid}",
                                  "period": f"prompt-{middle.date().isoformat()}", "what": "study prompt", "due": middle})
        for user in DISCORD_MEMBERS:
            self.check(f"discord {user} joins", await self.discord(user, "general", "studygroup", [sub("join", opt("name", "soak-dc"))]), "you joined")
        text = await self.slack(SLACK_MOD, (sc, sn), f"studygroup create soak-sl daily {hhmm} two mediums")
        self.check("slack study group", text, "created")
        gid = await self._group_id("slack", "soak-sl")
        if gid:
            self.expected.append({"platform": "slack", "channel": sc, "kind": f"studygroup-{gid}",
                                  "period": f"prompt-{middle.date().isoformat()}", "what": "study prompt", "due": middle})
        for user in SLACK_MEMBERS:
            self.check(f"slack {user[1]} joins", await self.slack(user, SLACK_GENERAL, "studygroup join soak-sl"), "you joined")
        for minute in minutes:
            for _ in range(k):
                name = f"soak-{n % N_CHANNELS:02d}"
                contents = CONTENTS[n % len(CONTENTS)]
                n += 1
                if minute.timestamp() < time.time() + 2:
                    continue
                schedule = f"daily {minute:%H:%M}"
                text = await self.discord(DISCORD_MOD, name, "digest", [sub("add", opt("contents", contents), opt("schedule", schedule))])
                self.expect_digest("discord", DISCORD_SOAK[name], text, minute, f"{name} {schedule}")
                text = await self.slack(SLACK_MOD, (SLACK_SOAK[name], name), f"digest add {contents} {schedule}")
                self.expect_digest("slack", SLACK_SOAK[name], text, minute, f"{name} {schedule}")
        digests = sum(1 for e in self.expected if e["what"] == "digest")
        print(f"  ok  {digests} digests at {', '.join(m.strftime('%H:%M') for m in minutes)} UTC; study prompts at {hhmm} UTC")

    async def _group_id(self, platform: str, name: str) -> int | None:
        try:
            row = next(iter(self.query("SELECT id FROM study_groups WHERE platform = ? AND name = ?", platform, name)), None)
            return int(row[0]) if row else None
        except sqlite3.Error as exc:
            self.setup_problems.append(f"reading study group {name}: {exc}")
            return None

    # -- load ---------------------------------------------------------------------------------------------
    def command(self) -> tuple[str, list[Any], str]:
        """(Discord name, Discord options, Slack text) for one random command."""
        r = self.rng
        choice = r.choices(
            ["help", "ask", "topics", "today", "search", "show", "checkin", "streak", "leaderboard", "postings", "digests", "me"],
            weights=[2, 5, 1, 2, 1.5, 1.5, 2, 1, 0.5, 0.5, 0.5, 0.5])[0]
        if choice == "help":
            return "help", [], "help"
        if choice == "ask":
            q = r.choice(self.questions)
            return "advice", [sub("ask", opt("question", q))], "advice " + q
        if choice == "topics":
            return "advice", [sub("topics")], "advice topics"
        if choice == "today":
            return "paper", [sub("today")], "paper today"
        if choice == "search":
            q = r.choice(SEARCHES) if r.random() < 0.5 else f"soak{r.randint(0, 10**6)} {r.choice(SEARCHES)}"  # few local hits: asks arXiv
            return "paper", [sub("search", opt("query", q))], "paper search " + q
        if choice == "show":
            arxiv_id = r.choice(list(ARXIV_IDS)) if r.random() < 0.3 else f"2401.{r.randint(10000, 99999)}"  # unknown: asks arXiv
            return "paper", [sub("show", opt("id", arxiv_id))], "paper " + arxiv_id
        if choice == "checkin":
            return "checkin", [sub("add", opt("text", "soak: two mediums"), opt("minutes", "30m"))], "checkin soak: two mediums 30m"
        if choice == "streak":
            return "streak", [sub("show")], "streak"
        if choice == "leaderboard":
            return "leaderboard", [], "leaderboard soak-sl"
        if choice == "postings":
            return "postings", [sub("latest", opt("filters", "remote"))], "postings latest remote"
        if choice == "digests":
            return "digest", [sub("list")], "digest list"
        return "me", [sub("show")], "me show"

    @staticmethod
    def label(name: str, options: list[Any]) -> str:
        return name + (" " + options[0]["name"] if options and options[0].get("type") == 1 else "")

    async def send_discord(self, name: str, options: list[Any]) -> None:
        up = self.bot.up()
        user = self.rng.choice(DISCORD_MEMBERS)
        try:
            rec = await self.fd.send_interaction(name, options, user=user, channel="general")
        except Exception as exc:  # noqa: BLE001 - a bench: count it, carry on
            self.injected[f"discord send failed: {type(exc).__name__}"] += 1
            return
        self.discord_sent.append(DiscordSent(self.label(name, options), rec, up))

    async def send_slack(self, text: str) -> None:
        user = self.rng.choice(SLACK_MEMBERS)
        words = text.split()
        label = " ".join(words[:2]) if words[0] in ("advice", "paper", "postings", "digest", "me") else words[0]
        if words[0] == "advice" and label != "advice topics":
            label = "advice ask"
        elif words[0] == "paper" and label not in ("paper today", "paper search"):
            label = "paper show"
        label = {"checkin": "checkin add", "streak": "streak show"}.get(label, label)
        sent = SlackSent(label, time.monotonic(), self.bot.up())
        self.slack_sent.append(sent)
        try:
            ack = await self.fs.post_slash_command(self.slack_url, text=text, user_id=user[0], user_name=user[1],
                                                   channel_id=SLACK_GENERAL[0], channel_name=SLACK_GENERAL[1], timeout=10)
            sent.ack_status, sent.ack_elapsed, sent.response_id = ack.status, ack.elapsed, ack.response_id
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            sent.error = type(exc).__name__

    async def load(self, until: float) -> None:
        interval = 1.0 / self.args.rate
        next_at = time.monotonic()
        while next_at < until:
            name, options, text = self.command()
            if self.rng.random() < 0.5:
                self.spawn(self.send_discord(name, options))
            else:
                self.spawn(self.send_slack(text))
            next_at += self.rng.uniform(0.5, 1.5) * interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    # -- faults -------------------------------------------------------------------------------------------
    async def feed_faults(self, until: float) -> None:
        phase = min(30.0, max(10.0, self.args.seconds / 10))
        n = 0
        while time.monotonic() < until:
            mode = FEED_MODES[n % len(FEED_MODES)]
            self.feeds.mode = "ok" if self.refreshing else mode
            end = min(until, time.monotonic() + phase)
            while time.monotonic() < end:
                self.feeds.mode = "ok" if self.refreshing else mode
                await asyncio.sleep(0.2)
            n += 1
        self.feeds.mode = "ok"

    async def platform_faults(self, minutes: list[datetime]) -> None:
        """A few seconds before each digest minute, some channels due a post answer 429 or 5xx."""
        for minute in minutes:
            await asyncio.sleep(max(0.0, self.mono_of(minute) - 4.0 - time.monotonic()))
            for e in self.expected:
                if e["due"] != minute or e["what"] != "digest":
                    continue
                turn = self.fault_turn[e["platform"]]
                self.fault_turn[e["platform"]] += 1
                fault = PLATFORM_FAULTS[turn % len(PLATFORM_FAULTS)]
                if fault is None:
                    continue
                if e["platform"] == "discord":
                    self.fd.fail_next.setdefault(e["channel"], []).extend(fault)
                    e["fault"] = fault  # this channel's next posts
                else:  # Slack's come per method: the next chat.postMessage calls, whichever post they carry
                    for status in fault:
                        if status == 429:
                            q = self.fs.rate_limit_next.setdefault("chat.postMessage", [])
                            (q if isinstance(q, list) else []).append(2)
                        else:
                            self.fs.fail_next.setdefault("chat.postMessage", []).append(status)
                for status in fault:
                    self.injected[f"{e['platform']} {status}"] += 1

    async def kills(self) -> None:
        for when in self.kill_at:
            await asyncio.sleep(max(0.0, when - time.monotonic()))
            if not self.bot.up():
                continue
            await self.bot.kill()
            delay = self.rng.uniform(0.5, 3.0)
            print(f"  {self.at(time.monotonic())}: SIGKILL (life {self.bot.life.number}, pid {self.bot.life.proc.pid}); restart in {delay:.1f} s")
            await asyncio.sleep(delay)
            life = await self.bot.start()
            print(f"  {self.at(life.ready)}: life {life.number} (pid {life.proc.pid}) ready {life.ready - life.spawned:.1f} s after spawn")

    async def operator_refresh(self, when: float) -> None:
        """The job list grows, then an operator runs ``careerbot feeds refresh`` beside the bot."""
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        self.refreshing = True
        self.feeds.mode = "ok"
        self.feeds.routes["/jobs/listings.json"] = self.jobs_v2
        started = time.monotonic()
        print(f"  {self.at(started)}: job list grew by 3; running careerbot feeds refresh (feed faults paused)")
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "feeds", "refresh", cwd=self.workdir, env=self.env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 120)
                self.refresh = {"rc": proc.returncode, "out": out.decode(), "err": err.decode()}
            except asyncio.TimeoutError:
                proc.send_signal(signal.SIGTERM)
                out, err = await proc.communicate()
                self.refresh = {"rc": f"timed out, SIGTERM -> {proc.returncode}", "out": out.decode(), "err": err.decode()}
        finally:
            self.refresh["seconds"] = time.monotonic() - started
            self.refreshing = False
        print(f"  {self.at(time.monotonic())}: feeds refresh exited {self.refresh['rc']} after {self.refresh['seconds']:.1f} s")
        ok = self.refresh["rc"] == 0
        for platform, channel in (("discord", CHANNEL_IDS["jobs"]), ("slack", SLACK_JOBS[0])):
            self.expected.append({"platform": platform, "channel": channel, "kind": "alert", "period": None, "what": "channel alert",
                                  "due": datetime.now(timezone.utc), "if": ok})
        self.expected.append({"platform": "discord", "channel": "@" + self.fd.user_id(DISCORD_DM_USER), "kind": "alert", "period": None,
                              "what": "DM alert", "due": datetime.now(timezone.utc), "if": ok})
        self.expected.append({"platform": "slack", "channel": "@" + SLACK_DM_USER[0], "kind": "alert", "period": None,
                              "what": "DM alert", "due": datetime.now(timezone.utc), "if": ok})

    async def sample(self, until_event: asyncio.Event) -> None:
        every = self.args.sample_every
        last_scrape = 0.0
        async with aiohttp.ClientSession() as session:
            while not until_event.is_set():
                kb = self.bot.rss_kb()
                life = self.bot.life
                if kb is not None and life is not None:
                    life.rss.append((time.monotonic(), kb))
                if time.monotonic() - last_scrape >= 5.0 and self.bot.up():
                    last_scrape = time.monotonic()
                    await self.scrape(session)
                try:
                    await asyncio.wait_for(until_event.wait(), every)
                except asyncio.TimeoutError:
                    pass

    async def scrape(self, session: aiohttp.ClientSession) -> None:
        life = self.bot.life
        try:
            async with session.get(self.bot.http_url + "/healthz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
                body = await resp.json(content_type=None)
                self.health[str(resp.status)] += 1
                for part in body.get("unhealthy") or []:
                    self.unhealthy_parts[f"{part} ({(body.get('checks') or {}).get(part, '')[:60]})"] += 1
            async with session.get(self.bot.http_url + "/metrics", timeout=aiohttp.ClientTimeout(total=5)) as resp:
                if life is not None and resp.status == 200:
                    life.metrics = parse_metrics(await resp.text())
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            self.health[f"error {type(exc).__name__}"] += 1

    # -- the run ------------------------------------------------------------------------------------------------
    async def run(self) -> None:
        args = self.args
        wall_started = time.monotonic()
        print(f"careerbot soak: {args.seconds} s of load at ~{args.rate}/s, seed {args.seed}, workdir {self.workdir}")
        await self.start()
        await self.setup()
        minutes = self.plan()
        await self.schedule_posts(minutes)
        until = self.t0 + args.seconds
        wait = self.t0 - time.monotonic()
        if wait > 0:
            print(f"  waiting {wait:.1f} s so the run starts at {datetime.fromtimestamp(self.t0 + self.wall_offset, timezone.utc):%H:%M:%S} UTC")
            await asyncio.sleep(wait)
        self.t0 = time.monotonic()
        until = self.t0 + args.seconds
        lo, hi = self.t0 + 0.1 * args.seconds, self.t0 + 0.9 * args.seconds
        gap = min(0.2 * args.seconds, 0.8 * args.seconds / (args.kills + 1))
        while True:
            picks = sorted(self.rng.uniform(lo, hi) for _ in range(args.kills))
            if all(b - a >= gap for a, b in zip(picks, picks[1:])):
                break
        if args.kill_near_minutes:  # just after a digest minute: while its posts are being sent
            near = [self.mono_of(m) + self.rng.uniform(0.01, 0.5) for m in minutes if lo <= self.mono_of(m) <= hi]
            picks = sorted(near[: args.kills] + picks[len(near):])
        self.kill_at = picks
        for k in picks:
            nearest = min(minutes, key=lambda m: abs(self.mono_of(m) - k))
            print(f"  SIGKILL planned at {self.at(k)}, {k - self.mono_of(nearest):+.1f} s from the digest minute {nearest:%H:%M}")
        last = self.mono_of(minutes[-1])
        refresh_at = min(max(self.t0 + 3.0, last - 30.0), until - 20.0)
        print(f"run: load from {datetime.now(timezone.utc):%H:%M:%S} UTC; SIGKILL at {', '.join(self.at(k) for k in picks)}; "
              f"operator refresh at {self.at(refresh_at)}")
        stop_sampling = asyncio.Event()
        sampler = asyncio.create_task(self.sample(stop_sampling))
        background = [asyncio.create_task(c) for c in (
            self.feed_faults(until), self.platform_faults([m for m in minutes if self.mono_of(m) < until]), self.kills(),
            self.operator_refresh(refresh_at) if args.refresh else asyncio.sleep(0))]
        await self.load(until)
        print(f"  {self.at(time.monotonic())}: load stopped; draining")
        self.feeds.mode = "ok"
        await asyncio.gather(*background, return_exceptions=False)
        self.feeds.mode = "ok"
        self.fd.fail_next.clear()
        self.fs.fail_next.clear()
        self.fs.rate_limit_next.clear()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=15)
        drain_end = time.monotonic() + args.drain
        while time.monotonic() < drain_end:
            posts = self.posts()
            if all(e.get("if", True) is False or self.delivered(e, posts) for e in self.expected) and self.discord_settled():
                break
            await asyncio.sleep(0.5)
        self.drained = time.monotonic() - until
        async with aiohttp.ClientSession() as session:
            if self.bot.up():
                await self.scrape(session)
        kb = self.bot.rss_kb()
        if kb is not None:
            self.bot.life.rss.append((time.monotonic(), kb))
        stop_sampling.set()
        await sampler
        self.stop_seconds = await self.bot.terminate()
        self.total_seconds = time.monotonic() - wall_started

    def discord_settled(self) -> bool:
        now = time.monotonic()
        return all(discord_answer(s.rec) is not None or now - s.rec.sent_at > 15 for s in self.discord_sent)

    # -- posts: what the fakes got --------------------------------------------------------------------
    def posts(self) -> list[dict[str, Any]]:
        """Every unsolicited message the fakes stored, with its delivery key where one can be known."""
        out = []
        keys_by_nonce = {}
        try:
            self.deliveries = self.query("SELECT idem_key, platform, kind, status, attempts, last_error FROM deliveries")
        except sqlite3.Error as exc:
            self.deliveries = []
            self.setup_problems.append(f"reading deliveries: {exc}")
        for key, *_ in self.deliveries:
            keys_by_nonce[nonce_for(key)] = key
        for m in self.fd.messages:
            key = keys_by_nonce.get(str(m.get("nonce") or ""))
            out.append({"platform": "discord", "channel": m["channel_id"], "key": key, "nonce": m.get("nonce"),
                        "content": json.dumps([m.get("content"), m.get("embeds")], sort_keys=True),
                        "at": datetime.fromisoformat(m["timestamp"]).timestamp()})
        for m in self.fs.messages:
            if not m.get("bot_id"):
                continue
            key = ((m.get("metadata") or {}).get("event_payload") or {}).get("key")
            out.append({"platform": "slack", "channel": m["channel"], "key": key, "nonce": None,
                        "content": json.dumps([m.get("text"), m.get("blocks")], sort_keys=True), "at": float(m["ts"])})
        for p in out:
            fields = p["key"].split("|") if p["key"] else []
            p["kind"], p["period"] = (fields[3], fields[4]) if len(fields) == 6 else (None, None)
            p["target"] = fields[2] if len(fields) == 6 else p["channel"]
        return out

    def delivered(self, e: dict[str, Any], posts: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        posts = posts if posts is not None else self.posts()
        return [p for p in posts if p["platform"] == e["platform"] and p["target"] == e["channel"]
                and p["kind"] == e["kind"] and (e["period"] is None or p["period"] == e["period"])]

    # -- the report ------------------------------------------------------------------------------------------
    def report(self) -> list[str]:
        """Prints the figures; returns what broke a promise (the list ``--check`` fails on)."""
        args = self.args
        lives = self.bot.lives
        failures: list[str] = [f"set-up: {p}" for p in self.setup_problems]
        print()
        print(f"=== careerbot soak: {args.seconds} s of load, {self.total_seconds:.0f} s in all (seed {args.seed}) ===")
        if self.setup_problems:
            print("set-up problems:")
            for p in self.setup_problems:
                print("  - " + p)

        # the process
        kills = [x for x in lives if x.how == "SIGKILL"]
        print(f"\nbot process: {len(lives)} lives, {len(kills)} SIGKILL restarts")
        for x in lives:
            ready = f"ready {x.ready - x.spawned:.1f} s after spawn" if x.ready else "never ready"
            print(f"  life {x.number}: pid {x.proc.pid}, {ready}, ended {self.at(x.ended) if x.ended else '-'} by {x.how}, exit {x.exit_code}")
        last = lives[-1]
        print(f"  final SIGTERM: exit code {last.exit_code} after {self.stop_seconds:.2f} s ({last.how})")
        if last.exit_code != 0:
            failures.append(f"SIGTERM: exit code {last.exit_code} ({last.how})")

        # commands
        print("\ncommands (answer = sent -> first message with content)")
        kills_at = [x.ended for x in kills if x.ended]
        rows: dict[str, dict[str, Any]] = {}

        def row(key: str) -> dict[str, Any]:
            return rows.setdefault(key, {"sent": 0, "answered": 0, "down": 0, "at_kill": 0, "lost": 0, "lat": [], "errors": 0})

        def unanswered_cause(sent_at: float, up: bool) -> str:
            if not up:
                return "down"
            if any(0 <= k - sent_at <= 15 for k in kills_at):
                return "at_kill"
            return "lost"

        late_ack = rejected = 0
        shown_errors: list[str] = []
        for s in self.discord_sent:
            answer = discord_answer(s.rec)
            for key in ("discord", f"discord {s.label}"):
                r = row(key)
                r["sent"] += 1
                if answer is not None:
                    r["answered"] += 1
                    r["lat"].append(answer.at - s.rec.sent_at)
                else:
                    r[unanswered_cause(s.rec.sent_at, s.up)] += 1
            if s.up and s.rec.callback is None:
                late_ack += 1
            rejected += len(s.rec.rejected)
            for resp in s.rec.responses:
                text = discord_text(resp.data)
                if INTERNAL_ERROR.search(text):
                    shown_errors.append(f"discord /{s.label}: {text[:200]}")
                    row("discord")["errors"] += 1
        acks = collections.Counter()
        for s in self.slack_sent:
            responses = self.fs.responses_to(s.response_id) if s.response_id else []
            acks[str(s.ack_status) if s.ack_status is not None else (s.error or "none")] += 1
            for key in ("slack", f"slack {s.label}"):
                r = row(key)
                r["sent"] += 1
                if responses:
                    r["answered"] += 1
                    r["lat"].append(responses[0]["at"] - s.sent)
                else:
                    r[unanswered_cause(s.sent, s.up and s.error is None or s.ack_status == 200)] += 1
            for resp in responses:
                text = slack_text(resp["body"])
                if INTERNAL_ERROR.search(text):
                    shown_errors.append(f"slack {s.label}: {text[:200]}")
                    row("slack")["errors"] += 1
        print(f"  {'':<24}{'sent':>6}{'answered':>9}{'unanswered: down':>18}{'at kill':>8}{'lost':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for key in sorted(rows, key=lambda k: (k.split()[0], len(k.split()) > 1, k)):
            r = rows[key]
            lat = r["lat"]
            print(f"  {key:<24}{r['sent']:>6}{r['answered']:>9}{r['down']:>18}{r['at_kill']:>8}{r['lost']:>6}"
                  f"{pct(lat, .5) * 1000:>9.0f}{pct(lat, .99) * 1000:>9.0f}{(max(lat) if lat else float('nan')) * 1000:>9.0f}")
        ack_times = [s.ack_elapsed for s in self.slack_sent if s.ack_elapsed is not None and s.ack_status == 200]
        slow_acks = sum(1 for t in ack_times if t > 3.0)
        total = len(self.discord_sent) + len(self.slack_sent)
        print(f"  {total} commands in {args.seconds} s ({total / args.seconds:.1f}/s); "
              f"discord: {late_ack} sent while up got no interaction response at all, {rejected} answers refused by Discord "
              f"(e.g. past the 3 s deadline); slack acks: {dict(acks)}, "
              f"ack p50 {pct(ack_times, .5) * 1000:.0f} ms, p99 {pct(ack_times, .99) * 1000:.0f} ms, over Slack's 3 s: {slow_acks}")
        print(f"errors shown to users (Traceback / 'something went wrong'): {len(shown_errors)}")
        failures += [f"error shown to a user: {line[:160]}".replace("\n", " ") for line in shown_errors]
        lost = sum(r["lost"] for key, r in rows.items() if " " not in key)
        if lost:
            failures.append(f"{lost} command(s) sent while the bot was up (not at a kill) never answered")
        for line in shown_errors[:8]:
            print("  - " + line.replace("\n", " ")[:220])

        # posts
        posts = self.posts()
        print("\nposts (a post = one delivery key; expected = what the set-up scheduled inside the run)")
        by_what: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        delays: list[float] = []
        delay_lines: list[str] = []
        missing = []
        for e in self.expected:
            c = by_what[f"{e['platform']} {e['what']}"]
            got = self.delivered(e, posts)
            if e.get("if", True) is False:
                c["not expected (refresh failed)"] += 1
                continue
            c["expected"] += 1
            keys = collections.Counter(p["key"] or p["nonce"] for p in got)
            if got:
                c["delivered"] += 1
                c["messages"] += len(got)
                c["duplicated"] += sum(n - 1 for n in keys.values() if n > 1)
                if "alert" not in e["what"]:
                    delays.append(min(p["at"] for p in got) - e["due"].timestamp())
                delay_lines.append(f"{e['platform']} {e['kind'] if 'alert' not in e['what'] else e['what']} "
                                   f"{min(p['at'] for p in got) - e['due'].timestamp():+.1f} s"
                                   f"{' (injected ' + '+'.join(map(str, e['fault'])) + ')' if e.get('fault') else ''}")
            else:
                missing.append(e)
        print(f"  {'':<24}{'expected':>9}{'delivered':>10}{'missing':>8}{'messages':>9}{'dup (key)':>10}")
        for what in sorted(by_what):
            c = by_what[what]
            print(f"  {what:<24}{c['expected']:>9}{c['delivered']:>10}{c['expected'] - c['delivered']:>8}{c['messages']:>9}{c['duplicated']:>10}"
                  + (f"   ({c['not expected (refresh failed)']} not expected: the refresh failed)" if c["not expected (refresh failed)"] else ""))
        tot = collections.Counter()
        for c in by_what.values():
            tot.update(c)
        print(f"  {'total':<24}{tot['expected']:>9}{tot['delivered']:>10}{tot['expected'] - tot['delivered']:>8}{tot['messages']:>9}{tot['duplicated']:>10}")
        failures += [f"post missing: {e['platform']} {e['what']} {e['kind']} in {e['channel']}" for e in missing]
        for e in missing:
            print(f"  missing: {e['platform']} {e['what']} {e['kind']} {e['period'] or ''} in {e['channel']} (due {e['due']:%H:%M:%S})")
        per_key = collections.Counter((p["platform"], p["key"] or f"nonce:{p['nonce']}") for p in posts if p["key"] or p["nonce"])
        dup_keys = {k: n for k, n in per_key.items() if n > 1}
        per_content = collections.Counter((p["platform"], p["channel"], p["content"]) for p in posts)
        dup_content = {k: n for k, n in per_content.items() if n > 1}
        unexpected = [p for p in posts if not any(p["platform"] == e["platform"] and p["target"] == e["channel"] and p["kind"] == e["kind"]
                                                  and (e["period"] is None or p["period"] == e["period"]) for e in self.expected)]
        print(f"  all bot posts: {len(posts)} messages; same key more than once: {len(dup_keys)} keys ({sum(n - 1 for n in dup_keys.values())} extra); "
              f"identical content in one channel: {len(dup_content)} ({sum(n - 1 for n in dup_content.values())} extra); "
              f"posts nobody expected: {len(unexpected)}")
        failures += [f"posted {n} times: {platform} {key}" for (platform, key), n in dup_keys.items()]
        failures += [f"{n} identical posts in {platform} {channel}" for (platform, channel, _), n in dup_content.items()]
        failures += [f"post nobody expected: {p['platform']} {p['channel']} {p['key']}" for p in unexpected]
        for (platform, key), n in list(dup_keys.items())[:6]:
            print(f"    duplicated key ({platform}) x{n}: {key}")
        for p in unexpected[:6]:
            print(f"    unexpected: {p['platform']} {p['channel']} key={p['key']} {p['content'][:120]}")
        if delays:
            print(f"  first delivery after due time (digests, prompts): p50 {pct(delays, .5):.1f} s, max {max(delays):.1f} s")
        if delay_lines and len(delay_lines) <= 16:
            print("  each: " + ", ".join(delay_lines))
        print("  (alerts are timed from the end of the operator's refresh; Slack's injected faults hit whichever posts came first)")
        print(f"  Discord refused as duplicates by nonce (resends after a crash or lost reply): {self.fd.deduplicated}")
        statuses = collections.Counter((d[1], d[3]) for d in self.deliveries)
        print(f"  deliveries table at the end: {dict(sorted(statuses.items()))}; max attempts {max((d[4] for d in self.deliveries), default=0)}")
        for d in self.deliveries:
            if d[3] in ("failed", "pending", "sending"):
                print(f"    {d[3]}: {d[0]} attempts {d[4]} last_error {str(d[5])[:120]}")

        # 429s and 5xx
        print("\nrate limits and outages")
        inj = dict(sorted(self.injected.items()))
        print(f"  injected before digest minutes: {inj}")
        print(f"  429s answered: discord fake {self.fd.rate_limited}, slack fake {self.fs.rate_limited}; slack 5xx answered {self.fs.server_errors}")
        print(f"  bot's own counts (/metrics, last scrape of each life): 429s discord {metric_sum(lives, 'careerbot_rate_limited_total', platform='discord'):.0f}, "
              f"slack {metric_sum(lives, 'careerbot_rate_limited_total', platform='slack'):.0f}; posts delivered "
              f"{metric_sum(lives, 'careerbot_posts_total', result='delivered'):.0f}, retried {metric_sum(lives, 'careerbot_posts_total', result='retried'):.0f}, "
              f"failed {metric_sum(lives, 'careerbot_posts_total', result='failed'):.0f}")
        fetches = collections.Counter()
        for life in lives:
            for (metric, labels), value in life.metrics.items():
                if metric == "careerbot_source_fetches_total":
                    fetches[dict(labels).get("status", "?")] += value
        print(f"  feed requests by fault mode: {dict(self.feeds.by_mode)}; bot's fetches by status: {dict(fetches)}")
        if self.refresh:
            tail = (self.refresh.get("out") or "").strip().splitlines()[-6:]
            print(f"  operator `careerbot feeds refresh`: exit {self.refresh['rc']} in {self.refresh['seconds']:.1f} s: " + " | ".join(tail)[:400])
            if self.refresh.get("rc") != 0:
                print("    stderr: " + (self.refresh.get("err") or "").strip()[-400:])
        print(f"  /healthz answers: {dict(self.health)}; unhealthy parts: {dict(self.unhealthy_parts)}")

        # memory
        print(f"\nmemory (VmRSS of the bot process from /proc/PID/status every {args.sample_every:g} s, MB)")
        every = []
        for life in lives:
            ready = [(t, kb) for t, kb in life.rss if life.ready and t >= life.ready]  # "start": the first sample once ready
            if not ready:
                continue
            mb = [kb / 1024 for _, kb in ready]
            every += ready
            print(f"  life {life.number}: start {mb[0]:.0f}, max {max(mb):.0f}, end {mb[-1]:.0f} ({len(mb)} samples once ready)")
        if every:
            mb = [kb / 1024 for _, kb in every]
            print(f"  overall: start {mb[0]:.0f}, max {max(mb):.0f}, end {mb[-1]:.0f}")
            step = max(1, len(every) // 12)
            print("  over time: " + ", ".join(f"{self.at(t)} {kb / 1024:.0f}" for t, kb in every[::step]))
            for life in lives:  # flat: no life grows by half again over its own start
                ready = [kb / 1024 for t, kb in life.rss if life.ready and t >= life.ready]
                if len(ready) >= 2 and max(ready) > 1.5 * ready[0] + 10:
                    failures.append(f"memory of life {life.number} grew from {ready[0]:.0f} to {max(ready):.0f} MB")

        # the log
        print("\nbot log (all lives)")
        tracebacks, errors, warnings, exceptions = 0, collections.Counter(), collections.Counter(), collections.Counter()
        for life in lives:
            lines = life.log.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if line.startswith("Traceback"):
                    tracebacks += 1
                    j = i + 1
                    while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                        j += 1
                    if j < len(lines):
                        exceptions[lines[j][:160]] += 1
                m = re.match(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) (\S+): (.*)", line)
                if m:
                    (warnings if m[1] == "WARNING" else errors)[f"{m[2]}: {NUMBERS.sub('#', m[3])[:140]}"] += 1
        print(f"  tracebacks: {tracebacks}; ERROR lines: {sum(errors.values())}; WARNING lines: {sum(warnings.values())}")
        for text, n in errors.most_common(10):
            print(f"    ERROR {n} x {text}")
        for text, n in warnings.most_common(12):
            print(f"    WARNING {n} x {text}")
        for text, n in exceptions.most_common(10):
            print(f"    exception {n} x {text}")
        if tracebacks or errors:
            failures.append(f"the bot logged {tracebacks} traceback(s) and {sum(errors.values())} ERROR line(s)")
        print(f"\nworkdir: {self.workdir}" + (" (removed)" if args.cleanup else " (database and bot-N.log kept)"))
        return failures

    async def close(self) -> None:
        life = self.bot.life if hasattr(self, "bot") else None
        if life is not None and life.proc.returncode is None:
            life.proc.send_signal(signal.SIGKILL)
            await life.proc.wait()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.fd.stop()
        await self.fs.stop()
        await self.feeds.stop()


async def main(args: argparse.Namespace) -> int:
    loopback_only()
    soak = Soak(args)
    try:
        await soak.run()
        failures = soak.report()
    finally:
        await soak.close()
        if args.cleanup and not (args.check and "failures" in locals() and failures):
            shutil.rmtree(soak.workdir, ignore_errors=True)
    if args.check:
        if failures:
            print(f"\nsoak check FAILED ({len(failures)}); workdir kept: {soak.workdir}")
            for line in failures:
                print("  - " + line)
            return 1
        print("\nsoak check passed: every expected post delivered exactly once, no error shown to a user, "
              "no traceback logged, memory flat, clean exit on SIGTERM")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300, help="how long the load runs (at least 30)")
    parser.add_argument("--rate", type=float, default=4.0, help="commands per second, both platforms together")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs at random moments")
    parser.add_argument("--digests-per-minute", type=int, default=2, help="digests per platform due at each minute of the run")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between RSS samples")
    parser.add_argument("--drain", type=float, default=120.0,
                        help="at most this long after the load for due posts to arrive (retries back off 30 s, then 60 s)")
    parser.add_argument("--kill-near-minutes", action="store_true",
                        help="kill just after digest minutes (the send/record crash window) instead of at random moments")
    parser.add_argument("--no-refresh", dest="refresh", action="store_false", help="skip the operator's `feeds refresh`")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cleanup", action="store_true", help="remove the temporary directory at the end")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a promise is broken: a post missing or duplicated, an error shown to a user, "
                             "a command lost while up, a logged traceback, memory growth, an unclean exit (make test runs this)")
    parsed = parser.parse_args()
    if parsed.seconds < 30:
        parser.error("--seconds must be at least 30")
    sys.exit(asyncio.run(main(parsed)))
