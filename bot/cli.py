"""``careerbot`` command line: run the bot, open the console, or ask for advice once.

Kept free of discord/slack imports so one-shot commands start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot import __version__
from bot.adapters import AdapterError
from bot.clock import Clock
from bot.config import Config, ConfigError, check_db_target, is_db_url, load_config, parse_roles, parse_shards, secrets_of
from bot.logs import configure_logging
from bot.models import Actor, Place, Reply, Role
from bot.storage.db import StorageError

log = logging.getLogger("careerbot")
EXIT_USAGE = 2


class CliError(Exception):
    """A problem to report in one line, with exit status 2."""


def _whole_number(lo: int, hi: int):  # noqa: ANN202 - an argparse type
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number from {lo} to {hi}, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected a whole number from {lo} to {hi}, got {value}")
        return value

    return parse


_limit = _whole_number(1, 10)


def _role(text: str) -> Role:
    try:
        return Role.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _guild_id(text: str) -> int:
    if not text.isdigit() or not 15 <= len(text) <= 21:
        raise argparse.ArgumentTypeError(f"expected a server id such as 123456789012345678, got {text[:30]!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: the option may come before or after the subcommand without one erasing the other.
    common.add_argument(
        "--db", metavar="PATH", default=argparse.SUPPRESS,
        help="SQLite database file or postgresql:// URL (default: $CAREERBOT_DB or ./careerbot.db)",
    )
    common.add_argument("--env-file", metavar="FILE", default=argparse.SUPPRESS, help="read settings from this .env file (default: .env)")

    parser = argparse.ArgumentParser(
        prog="careerbot",
        description="A Discord/Slack bot for ML career communities. With no tokens configured it opens the local console.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"careerbot {__version__}")
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND")

    sub.add_parser("run", parents=[common], help="run on the configured platforms, or the console without tokens")
    serve = sub.add_parser("serve", parents=[common], help="run every configured platform (Discord, Slack), the scheduler and the feeds")
    serve.add_argument(
        "--roles", metavar="LIST", default=None,
        help="what this process runs, of gateway,http,worker,sender (default: all; several processes on one "
             "PostgreSQL share the work, and one sender per platform and one feed poller are elected among them)",
    )
    serve.add_argument("--shards", metavar="A-B", default=None, help="the Discord shards this process connects, such as 0-2 (needs --shard-count)")
    serve.add_argument("--shard-count", metavar="N", type=int, default=None, help="how many Discord shards there are across every process")

    discord_cmd = sub.add_parser("discord", parents=[common], help="Discord set-up: sync the command tree, print the invite link")
    discord_sub = discord_cmd.add_subparsers(dest="discord_cmd", metavar="ACTION", required=True)
    sync = discord_sub.add_parser("sync", parents=[common], help="send the command tree to Discord now, even if unchanged")
    sync.add_argument("--guild", type=_guild_id, help="only this server (default: DISCORD_GUILD_IDS, or global)")
    discord_sub.add_parser("invite", parents=[common], help="print the link that adds the bot to a server")

    console = sub.add_parser("console", parents=[common], help="talk to the bot in this terminal")
    console.add_argument("-c", dest="lines", action="append", metavar="LINE", help="run this line and exit (repeatable)")
    console.add_argument("--json", action="store_true", help="print one JSON object per output")
    console.add_argument("--as", dest="role", type=_role, default=Role.MEMBER, help="start with this role (member, mod, admin, owner)")
    console.add_argument("--user", default="you", help="start as this user name")
    console.add_argument(
        "--now", type=_instant, metavar="INSTANT",
        help="start the bot's clock at this instant (e.g. 2027-03-15T10:40:00Z); it then moves only with :tick",
    )
    console.add_argument("--files", metavar="DIR", help="where pictures and files from replies are saved (default: careerbot-files next to the database)")

    feeds = sub.add_parser("feeds", parents=[common], help="check a paper or job feed, or refresh every source now")
    feeds_sub = feeds.add_subparsers(dest="feeds_cmd", metavar="ACTION", required=True)
    preview = feeds_sub.add_parser("preview", parents=[common], help="fetch a feed URL once and print its normalized items")
    preview.add_argument("url", help="the feed URL: arXiv API/RSS, Hugging Face daily papers, or a job list (SimplifyJobs listings.json, RSS/Atom, JSON)")
    preview.add_argument(
        "--kind", choices=["arxiv-api", "arxiv-rss", "hf-daily", "simplify", "rss", "json"], help="the feed's format (default: guess)"
    )
    preview.add_argument("--json", action="store_true", help='print {"kind", "items", "rejected", "errors"}')
    refresh = feeds_sub.add_parser("refresh", parents=[common], help="poll every paper and posting source once, now")
    refresh.add_argument("--json", action="store_true", help="print one JSON object per source")

    sub.add_parser("status", parents=[common], help="what is configured and whether it is healthy (safe while the bot runs)")

    db_cmd = sub.add_parser("db", parents=[common], help="back up, check or copy the database")
    db_sub = db_cmd.add_subparsers(dest="db_cmd", metavar="ACTION", required=True)
    db_backup = db_sub.add_parser("backup", parents=[common], help="a consistent copy, safe while the bot runs")
    db_backup.add_argument("path", help="where to write the copy (a new file, or a folder)")
    db_backup.add_argument("--force", action="store_true", help="replace the file if it exists")
    db_sub.add_parser("check", parents=[common], help="integrity, foreign keys and migration state (read-only)")
    db_copy = db_sub.add_parser(
        "copy", parents=[common],
        help="copy every table into another, empty database (SQLite file <-> postgresql:// URL)",
    )
    db_copy.add_argument("--to", dest="target", metavar="TARGET", required=True,
                         help="a new SQLite file or an empty PostgreSQL database, as a postgresql:// URL")

    advice = sub.add_parser("advice", parents=[common], help="print the best advice entries for a question")
    advice.add_argument("question", help='the question, in quotes (or "report": what was refused or voted down)')
    advice.add_argument("--days", type=_whole_number(1, 365), default=30, help="for report: how many days back (default 30)")
    advice.add_argument("--limit", type=_limit, default=3, help="how many entries at most (1-10, default 3)")
    advice.add_argument("--json", action="store_true", help='print {"matches": [...]} instead of text')
    advice.add_argument(
        "--status", action="store_true",
        help='with --json, also print "status" (answer, unsure or refused) and "nearest_topics"',
    )
    return parser


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an instant; use ISO 8601 such as 2027-03-15T10:40:00Z") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} has no timezone; add Z for UTC or an offset such as +01:00")
    return moment.astimezone(timezone.utc)


def _console_log_file(args: argparse.Namespace, config: Config) -> Path | None:
    """An interactive console logs to careerbot.log beside the database, never between replies."""
    console = args.cmd == "console" or (args.cmd in (None, "run") and not config.platforms)
    if console and not getattr(args, "lines", None) and sys.stdin.isatty():
        return _beside_database(config) / "careerbot.log"
    return None


def _beside_database(config: Config) -> Path:
    """Where local files go: next to an SQLite file, or here when the database is a server."""
    if is_db_url(config.db_path):
        return Path.cwd()
    return Path(config.db_path).expanduser().resolve().parent


async def _open_app(config: Config, clock: Clock | None = None):  # noqa: ANN202
    from commands import create_app

    return await create_app(config.db_path, config=config, clock=clock)


async def cmd_console(args: argparse.Namespace, config: Config) -> int:
    from bot.adapters.console import ConsoleSession
    from bot.render.console import render

    color = sys.stdout.isatty() and not args.json

    def show(event: dict[str, Any], reply: Reply) -> None:
        if args.json:
            print(json.dumps(event, ensure_ascii=False), flush=True)
            return
        if event["type"] == "post":
            target = event["target"]
            where = f"sent by DM to {target['user']}" if "user" in target else f"posted in #{target['channel']}"
            print(f"── {where} ({event['kind']}) ──\n{render(reply, color=color)}\n", flush=True)
        elif event["type"] == "edit":
            print(f"── a post in {event['channel']} was edited ──\n{render(reply, color=color)}\n", flush=True)
        elif event["type"] == "notice":
            print(f"── only you can see this ──\n{render(reply, color=color)}\n", flush=True)
        else:
            print(render(reply, color=color) + "\n", flush=True)
        if event.get("files"):
            print("\n".join(f"📎 saved {path}" for path in event["files"]) + "\n", flush=True)

    # --now replays a scenario exactly: the clock stands at that instant and moves only with :tick.
    now, files_arg = getattr(args, "now", None), getattr(args, "files", None)  # `careerbot run` has neither
    app = await _open_app(config, Clock(start=now) if now else None)
    files = Path(files_arg) if files_arg else _beside_database(config) / "careerbot-files"
    try:
        session = ConsoleSession(app, user=args.user, role=args.role, sink=show, files_dir=files)
        # Scripted runs (-c) move time only with :tick; an interactive console also runs the
        # scheduler and senders in the background, as the bot would on a platform.
        await app.start(background=not args.lines)
        if args.lines:
            for line in args.lines:
                await session.feed(line)
                if session.closed:
                    break
            return 0
        interactive = sys.stdin.isatty()
        if interactive and not args.json:
            try:
                import readline  # noqa: F401  (line editing and history for input())
            except ImportError:
                pass
            print(
                f"careerbot console — you are {session.actor.name} ({session.actor.role.label}) in "
                f"{session.place.label}, database {config.db_label}.\n"
                "Type /help for commands, :help for console controls, :quit to leave. "
                f"Logs go to {_console_log_file(args, config)}.\n"
            )
        while not session.closed:
            try:
                line = await _read_line("> " if interactive and not args.json else "")
            except EOFError:
                break
            await session.feed(line)
        return 0
    finally:
        await app.close()


_INPUT = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-input")


async def _read_line(prompt: str) -> str:
    """input() on our own one-thread executor, not asyncio's default one.

    asyncio.run joins its default executor on the way out, so a Ctrl-C while input() waits
    would hang until Enter; main() leaves with os._exit after Ctrl-C instead, past every join.
    """
    return await asyncio.get_running_loop().run_in_executor(_INPUT, input, prompt)


async def cmd_advice(args: argparse.Namespace, config: Config) -> int:
    from bot.registry import UsageError
    from bot.render.console import render
    from bot.text import clean_input
    from commands.advice import answer_reply, service

    app = await _open_app(config)
    try:
        if args.question.strip().lower() == "report":
            from datetime import timedelta

            from commands.advice.report import build_report

            since = app.clock.now() - timedelta(days=args.days)
            print(await build_report(app.db, service(app), since, None, args.days, limit=args.limit * 5))
            return 0
        declared = app.registry.resolve("advice ask")
        assert declared is not None
        try:
            ctx = await app.context(Actor("local:cli", "cli"), Place("console", None, "cli", "cli", is_dm=True))
            question = await declared.args[0].convert(clean_input(args.question), ctx)
        except UsageError as exc:
            raise CliError(str(exc)) from None
        if not question:
            raise CliError('ask a question in quotes, e.g. careerbot advice "do i need a phd?"')
        svc = service(app)
        answer = svc.search(question, limit=args.limit)
        if args.json:
            matches = [] if answer.status == "refused" else answer.matches
            doc: dict[str, object] = {
                "matches": [
                    {
                        "id": m.entry.id,
                        "title": m.entry.title,
                        "body": m.entry.body,
                        "topic": m.entry.topic,
                        "sources": list(m.entry.sources),
                        "score": round(m.score, 4),
                    }
                    for m in matches
                ]
            }
            if args.status:  # off by default: {"matches": [...]} is the documented contract
                doc |= {"status": answer.status, "nearest_topics": answer.nearest_topics}
            print(json.dumps(doc, ensure_ascii=False))
        else:
            print(render(answer_reply(svc, answer), color=sys.stdout.isatty()))
        return 0
    finally:
        await app.close()


async def cmd_feeds(args: argparse.Namespace, config: Config) -> int:
    if args.feeds_cmd == "preview":
        return await _feeds_preview(args)
    return await _feeds_refresh(args, config)


async def _feeds_preview(args: argparse.Namespace) -> int:
    from feeds import papers, postings
    from feeds.fetch import Fetcher, FetchError
    from feeds.papers import FeedError

    kind, items, rejected, errors = args.kind, [], [], []
    fetcher = Fetcher()
    try:
        fetched = await fetcher.get(args.url, max_bytes=postings.MAX_BODY)
        kind = kind or papers.sniff_kind(fetched.body) or postings.sniff_kind(fetched.body)
        if kind is None:
            raise FeedError("this is not a paper feed (arXiv API or RSS, Hugging Face daily papers) or a job feed (SimplifyJobs listings.json, RSS/Atom, JSON)")
        if kind in postings.PARSERS:
            jobs = postings.PARSERS[kind](fetched.body)
            items, rejected, errors = [p.to_dict() for p in jobs.items], [r.to_dict() for r in jobs.rejected], jobs.errors
        else:
            result = papers.PARSERS[kind](fetched.body)
            items, errors = [p.to_dict() for p in result.items], result.errors
        failed = False
    except (FetchError, FeedError) as exc:
        errors, failed = [exc.reason if isinstance(exc, FetchError) else str(exc)], True
    finally:
        await fetcher.close()
    if args.json:
        print(json.dumps({"kind": kind, "items": items, "rejected": rejected, "errors": errors}, ensure_ascii=False))
    elif failed:
        print(f"careerbot: {args.url}: {errors[0]}", file=sys.stderr)
    else:
        print(f"{kind}: {len(items)} item(s)" + (f", {len(rejected)} rejected" if rejected else "") + (f", {len(errors)} problem(s)" if errors else ""))
        for item in items:
            if "arxiv_id" in item:
                print(f"  {item['arxiv_id']}  {item['title'][:100]}")
            else:
                state = "" if item["active"] else "  [closed]"
                where = "; ".join(item["locations"][:3]) or ("Remote" if item["remote"] else "-")
                print(f"  {item['id'][:12]:<12}  {item['company'][:30]} — {item['title'][:70]} ({where}; {item['season'] or 'no season'}; "
                      f"{item['category']}; sponsorship {item['sponsorship']}){state}")
        for r in rejected:
            print(f"  - {r['company'][:30]} — {r['title'][:70]}: {r['reason']}")
        for error in errors:
            print(f"  ! {error}")
    return 1 if failed else 0


async def _feeds_refresh(args: argparse.Namespace, config: Config) -> int:
    from commands.papers import service
    from feeds.poller import poller

    app = await _open_app(config)
    try:
        outcomes = await service(app).refresh_all()
        outcomes += await poller(app).refresh("postings")
    finally:
        await app.close()
    if not outcomes:
        print("No channel follows any arXiv category yet, no server has a posting source, and Hugging Face gave nothing to store."
              if not args.json else json.dumps({"sources": []}))
    for o in outcomes:
        if args.json:
            print(json.dumps({"source": o.source, "ok": o.ok, "items": o.items, "new": o.new, "error": o.error,
                              "not_modified": o.not_modified, "problems": o.errors[:20]}, ensure_ascii=False))
        elif o.ok:
            state = "not modified" if o.not_modified else f"{o.items} item(s), {o.new} new"
            print(f"{o.source}: ok, {state}" + (f", {len(o.errors)} skipped" if o.errors else ""))
        else:
            print(f"{o.source}: FAILED: {o.error}")
    return 0 if all(o.ok for o in outcomes) else 1


async def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """No tokens: the console. Tokens: serve the platforms they are for."""
    if config.platforms:
        return await cmd_serve(args, config)
    args.lines, args.json, args.role, args.user = None, False, Role.MEMBER, "you"
    return await cmd_console(args, config)


async def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from bot.serve import Server

    if not config.platforms:
        raise CliError(
            "no platform is configured: set DISCORD_TOKEN, and/or SLACK_BOT_TOKEN with SLACK_APP_TOKEN or "
            "SLACK_SIGNING_SECRET (see deploy/.env.example). Without tokens, `careerbot console` talks to the bot here."
        )
    await Server(config, _open_app).run_until_stopped()
    return 0


async def cmd_db(args: argparse.Namespace, config: Config) -> int:
    """backup/check never migrate (safe beside a running bot); copy fills a new, empty database."""
    from bot.storage import maintenance

    if args.db_cmd == "copy":
        return await _db_copy(args, config)
    if args.db_cmd == "backup":
        if is_db_url(config.db_path):
            raise CliError(maintenance.PG_BACKUP_HINT)
        report = await asyncio.to_thread(maintenance.backup, config.db_path, args.path, args.force)
        print(f"Backed up {config.db_path} to {report.path} ({report.size_bytes / 1e6:.1f} MB, checked: OK).")
        return 0
    report = await maintenance.check_database(config.db_path)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


async def _db_copy(args: argparse.Namespace, config: Config) -> int:
    from bot.config import db_label
    from bot.storage.copy import copy_database

    target = check_db_target(args.target.strip(), "--to")
    print(f"Copying {config.db_label} to {db_label(target)} …", flush=True)
    result = await copy_database(config.db_path, target)
    width = max((len(name) for name in result.counts), default=10)
    for name, n in sorted(result.counts.items()):
        print(f"  {name:<{width}}  {n:>8}")
    print(
        f"Copied {result.total} rows in {len(result.counts)} tables; the paper search index was rebuilt for "
        f"{result.indexed} papers. Point CAREERBOT_DB at {db_label(target)} to use it."
    )
    return 0


async def cmd_status(args: argparse.Namespace, config: Config) -> int:
    from bot.status import collect

    status = await collect(config, datetime.now(timezone.utc))
    print("\n".join(status.lines))
    if status.problems:
        print("\nNeeds attention:\n" + "\n".join(f"- {p}" for p in status.problems))
    else:
        print("\nAll healthy.")
    return 0 if status.healthy else 1


async def cmd_discord(args: argparse.Namespace, config: Config) -> int:
    from bot.adapters.discord import application_id_from_token, invite_url

    if not config.discord_token:
        raise CliError("DISCORD_TOKEN is not set; see deploy/discord.md.")
    if args.discord_cmd == "invite":
        app_id = application_id_from_token(config.discord_token.reveal())
        if app_id is None:
            raise CliError("DISCORD_TOKEN does not look like a bot token (its first part should encode the bot's id).")
        print(invite_url(app_id))
        return 0
    from bot.adapters.discord import DiscordAdapter

    app = await _open_app(config)
    adapter = DiscordAdapter(app, config)
    try:
        try:
            await adapter.client.login(config.discord_token.reveal())
        except Exception as exc:  # discord.LoginFailure, HTTPException, network errors
            raise AdapterError(f"could not log in to Discord: {exc}") from None
        scopes = await adapter.sync(guild_id=args.guild, force=True)
        print("synced the command tree to " + ", ".join(f"server {s}" if s != "global" else "every server (global)" for s in scopes))
        return 0
    finally:
        await adapter.client.close()
        await app.close()


def _serve_options(args: argparse.Namespace, config: Config) -> Config:
    """``serve --roles/--shards/--shard-count`` into the config (checked before anything starts)."""
    changes: dict[str, object] = {}
    if getattr(args, "roles", None) is not None:
        changes["roles"] = parse_roles(args.roles)
    shards, count = getattr(args, "shards", None), getattr(args, "shard_count", None)
    if shards is not None:
        changes["discord_shard_ids"], changes["discord_shard_count"] = parse_shards(shards, count)
    elif count is not None:
        if count < 1:
            raise ConfigError("--shard-count must be 1 or more.")
        changes["discord_shard_ids"], changes["discord_shard_count"] = tuple(range(count)), count
    return Config(**{**config.__dict__, **changes}) if changes else config


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(env_file=getattr(args, "env_file", ".env"))
        if getattr(args, "db", None):
            config = Config(**{**config.__dict__, "db_path": check_db_target(args.db, "--db")})
        config = _serve_options(args, config)
        configure_logging(config.log_level, config.log_format, secrets_of(config), _console_log_file(args, config))
        handler = {
            "console": cmd_console, "advice": cmd_advice, "feeds": cmd_feeds, "serve": cmd_serve, "discord": cmd_discord,
            "db": cmd_db, "status": cmd_status,
        }.get(args.cmd or "run", cmd_run)
        return asyncio.run(handler(args, config))
    except (ConfigError, StorageError, CliError, AdapterError) as exc:
        print(f"careerbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`careerbot advice … | head -1`): that is not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        # Ctrl-C at the console prompt is how people leave it; elsewhere it interrupted work.
        if (args.cmd or "run") in ("run", "console"):
            # The database is closed by now (the console's finally ran). Leave without the
            # interpreter's shutdown, which would join the input thread still inside input().
            print(file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        return 130


if __name__ == "__main__":
    sys.exit(main())
