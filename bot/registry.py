"""Commands are declared once here; every adapter derives its surface from the declaration.

A declaration carries the command's name, help, typed arguments, minimum role and whether
it works in DMs. Discord builds its app-command tree from it, Slack its slash-command
parser, the console its ``/help``. Dispatch owns the friendly failure modes, so a command
handler only has to be right for valid input.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.context import Context
from bot.frontend import RefError, looks_like_channel, looks_like_role, looks_like_user
from bot.models import Card, ChannelRef, Field, Reply, Role, RoleRef, UserRef
from bot.text import clean_input, defuse_mentions, quote_input

log = logging.getLogger("careerbot.registry")

MAX_LINE = 4000
Handler = Callable[..., Awaitable[Reply]]
# Suggestions for what is being typed: a value, or (what to show, the value) when they differ.
Completer = Callable[[Context, str], Awaitable[list[str] | list[tuple[str, str]]]]
# A gate may refuse a command in a place (e.g. a feature a moderator turned off there).
Gate = Callable[[Context, "Command"], Awaitable[str | None]]


class CommandError(Exception):
    """Raised by a handler to tell the user something went wrong in words they can act on."""


class UsageError(CommandError):
    pass


ARG_KINDS = ("str", "int", "number", "bool", "channel", "user", "role")
_TRUE = {"on", "yes", "true", "1", "enabled", "y"}
_FALSE = {"off", "no", "false", "0", "disabled", "n"}


@dataclass
class Arg:
    """One typed argument, converted the same way from console text and from a platform's typed option.

    ``kind`` is what platforms can pass natively (Discord option types, Slack's escaped
    mentions): ``channel``/``user``/``role`` arrive as refs resolved by the front end's
    directory. ``rest`` takes the remainder of a text line (free text); optional args of a
    recognisable kind may follow it and are peeled off the end of the line
    (``/digest add tips daily 09:00 #news``). ``markup`` keeps mention markup in free text
    (a setting value such as ``<@U1|ilya>``); otherwise it is shown as names.
    """

    name: str
    help: str
    kind: str = "str"
    required: bool = True
    default: Any = None
    choices: Sequence[str] | None = None
    rest: bool = False
    max_len: int = 200
    min_value: float | None = None
    max_value: float | None = None
    complete: Completer | None = None
    markup: bool = False
    # A word that is this argument when it ends a free-text line (e.g. an arXiv category).
    matches: Callable[[str], bool] | None = None
    # Canonical form of a valid value; raises ValueError with words for the user.
    normalize: Callable[[str], Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ARG_KINDS:
            raise ValueError(f"argument {self.name}: kind must be one of {ARG_KINDS}, not {self.kind!r}")

    @property
    def metavar(self) -> str:
        base = self.name.upper() + ("..." if self.rest else "")
        if self.kind == "channel":
            base = "#" + base
        elif self.kind in ("user", "role"):
            base = "@" + base
        return base if self.required else f"[{base}]"

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind in ("int", "number"):
            lo = "" if self.min_value is None else f" from {_number(self.min_value)}"
            hi = "" if self.max_value is None else f" to {_number(self.max_value)}"
            return f"{'a whole number' if self.kind == 'int' else 'a number'}{lo}{hi}"
        if self.kind == "bool":
            return "on or off"
        return self.help or "text"

    def accepts(self, token: str) -> bool:
        """Whether a last word of a line is this (optional, trailing) argument rather than free text."""
        if self.kind == "channel":
            return looks_like_channel(token)
        if self.kind == "user":
            return looks_like_user(token)
        if self.kind == "role":
            return looks_like_role(token)
        if self.choices:
            return token.lower() in {c.lower() for c in self.choices}
        return bool(self.matches and self.matches(token))

    async def convert(self, raw: Any, ctx: Context) -> Any:
        """Turns console text or a platform's typed option into a valid value (or a UsageError)."""
        if self.kind in ("channel", "user", "role"):
            return await self._reference(raw, ctx)
        if isinstance(raw, bool) and self.kind == "bool":
            return raw
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and self.kind in ("int", "number"):
            return self._in_range(raw if self.kind == "number" else int(raw), str(raw))
        text = str(raw).strip()
        if not text:
            raise UsageError(f"{self.name} is empty: expected {self.describe()}.")
        if len(text) > self.max_len:
            raise UsageError(
                f"{self.name} is {len(text):,} characters long; keep it under {self.max_len:,}."
            )
        if self.choices:
            lowered = {c.lower(): c for c in self.choices}
            if text.lower() not in lowered:
                hint = difflib.get_close_matches(text.lower(), list(lowered), n=1)
                more = f" Did you mean {lowered[hint[0]]}?" if hint else ""
                raise UsageError(f"{quote_input(text)} is not a valid {self.name}: expected {self.describe()}.{more}")
            return lowered[text.lower()]
        if self.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise UsageError(f"{self.name} must be {self.describe()}, not {quote_input(text)}.") from None
            return self._in_range(value, text)
        if self.kind == "number":
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise UsageError(f"{self.name} must be {self.describe()}, not {quote_input(text)}.")
            return self._in_range(number, text)
        if self.kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise UsageError(f"{self.name} must be on or off, not {quote_input(text)}.")
        if not self.markup:
            text = ctx.frontend.readable(text)
        if self.normalize is not None:
            try:
                return self.normalize(text)
            except ValueError as exc:
                raise UsageError(f"{exc}.") from None
        return text

    def _in_range(self, value: float, shown: str) -> float:
        if (self.min_value is not None and value < self.min_value) or (
            self.max_value is not None and value > self.max_value
        ):
            raise UsageError(f"{self.name} must be {self.describe()}, not {quote_input(shown, 20)[1:-1]}.")
        return value

    async def _reference(self, raw: Any, ctx: Context) -> ChannelRef | UserRef | RoleRef:
        wanted = {"channel": ChannelRef, "user": UserRef, "role": RoleRef}[self.kind]
        if isinstance(raw, wanted):
            return raw  # an adapter resolved it from a platform's typed option
        text = str(raw).strip()
        if not text:
            raise UsageError(f"{self.name} is empty: expected {self.describe()}.")
        if len(text) > self.max_len:
            raise UsageError(f"{self.name} is {len(text):,} characters long; keep it under {self.max_len:,}.")
        resolve = {"channel": ctx.frontend.channel, "user": ctx.frontend.user, "role": ctx.frontend.role}[self.kind]
        try:
            return await resolve(ctx.place, text)
        except RefError as exc:
            raise UsageError(f"{exc}.") from None


@dataclass
class Command:
    """A declared command. ``ephemeral`` and ``slow`` are known before the handler runs, so an
    adapter can acknowledge (defer) with the right visibility within the platform's deadline."""

    name: str
    help: str
    handler: Handler | None = None
    args: list[Arg] = field(default_factory=list)
    min_role: Role = Role.MEMBER
    dm_ok: bool = True
    subcommands: dict[str, "Command"] = field(default_factory=dict)
    default_sub: str | None = None
    parent: "Command | None" = None
    ephemeral: bool = False  # the reply is shown only to whoever ran it
    slow: bool = False  # may take over 2 s (asks a remote service): adapters defer first

    @property
    def path(self) -> str:
        return f"{self.parent.path} {self.name}" if self.parent else self.name

    @property
    def root(self) -> str:
        return self.parent.root if self.parent else self.name

    def usage(self, ctx: Context) -> str:
        return " ".join([ctx.cmd(self.path), *(a.metavar for a in self.args)])

    def command(
        self,
        name: str,
        help: str,
        args: Sequence[Arg] = (),
        min_role: Role | None = None,
        dm_ok: bool | None = None,
        default: bool = False,
        ephemeral: bool | None = None,
        slow: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declares a subcommand; ``default`` makes it answer when no subcommand name is given
        (on text front ends; Discord always names it)."""

        def decorate(handler: Handler) -> Handler:
            sub = Command(
                name=name,
                help=help,
                handler=handler,
                args=list(args),
                min_role=self.min_role if min_role is None else min_role,
                dm_ok=self.dm_ok if dm_ok is None else dm_ok,
                parent=self,
                ephemeral=self.ephemeral if ephemeral is None else ephemeral,
                slow=slow,
            )
            _check_args(sub)
            self.subcommands[name] = sub
            if default:
                self.default_sub = name
            return handler

        return decorate


def _check_args(cmd: Command) -> None:
    rest = [i for i, a in enumerate(cmd.args) if a.rest]
    if len(rest) > 1:
        raise ValueError(f"/{cmd.path}: only one argument may take the rest of the line")
    for a in cmd.args[rest[0] + 1 :] if rest else []:
        recognisable = a.kind in ("channel", "user", "role") or a.choices or a.matches
        if a.required or not recognisable:
            raise ValueError(
                f"/{cmd.path}: {a.name} follows the free-text argument, so it must be optional and "
                "recognisable at the end of a line (a channel, user, role, choice, or with matches=)"
            )
    seen_optional = False
    for a in cmd.args:
        if seen_optional and a.required:
            raise ValueError(f"/{cmd.path}: required argument {a.name} follows an optional one")
        seen_optional = seen_optional or not a.required
    names = [a.name for a in cmd.args]
    if len(set(names)) != len(names):
        raise ValueError(f"/{cmd.path}: two arguments share a name")


def _next_token(text: str) -> tuple[str, str]:
    """Splits one token off the front; a double-quoted token may hold spaces.

    Deliberately not shlex: free text like "what's a good project" has lone quotes.
    """
    text = text.lstrip()
    for open_q, close_q in (('"', '"'), ("\u201c", "\u201d")):
        if text.startswith(open_q):
            end = text.find(close_q, 1)
            if end > 0:
                return text[1:end], text[end + 1 :]
    parts = text.split(None, 1)
    return (parts[0], parts[1] if len(parts) > 1 else "") if parts else ("", "")


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].strip()
    return text


class Registry:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.gates: list[Gate] = []

    # -- declaration -------------------------------------------------------------------
    def group(
        self, name: str, help: str, min_role: Role = Role.MEMBER, dm_ok: bool = True, ephemeral: bool = False
    ) -> Command:
        if name in self.commands:
            raise ValueError(f"/{name} is declared twice")
        cmd = Command(name=name, help=help, min_role=min_role, dm_ok=dm_ok, ephemeral=ephemeral)
        self.commands[name] = cmd
        return cmd

    def command(
        self,
        name: str,
        help: str,
        args: Sequence[Arg] = (),
        min_role: Role = Role.MEMBER,
        dm_ok: bool = True,
        ephemeral: bool = False,
        slow: bool = False,
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            cmd = self.group(name, help, min_role, dm_ok, ephemeral)
            cmd.handler = handler
            cmd.args = list(args)
            cmd.slow = slow
            _check_args(cmd)
            return handler

        return decorate

    def walk(self) -> list[Command]:
        """Every invocable command (leaves), in declaration order."""
        out: list[Command] = []
        for cmd in self.commands.values():
            if cmd.handler:
                out.append(cmd)
            out.extend(cmd.subcommands.values())
        return out

    def explicit(self, path: str) -> str:
        """A command line with every default subcommand named (``paper 2401.1`` → ``paper show 2401.1``)."""
        words = path.strip().lstrip("/").split(" ")
        cmd = self.commands.get(words[0].lower()) if words else None
        if cmd is None or not cmd.subcommands:
            return " ".join(words)
        if len(words) > 1 and words[1].lower() in cmd.subcommands:
            return " ".join(words)
        if cmd.default_sub:
            return " ".join([words[0], cmd.default_sub, *words[1:]])
        return " ".join(words)

    # -- dispatch ----------------------------------------------------------------------
    async def dispatch_line(self, ctx: Context, line: str) -> Reply:
        """Runs one line such as ``/advice topics``; never raises for anything the user typed."""
        line = clean_input(line)
        if not line or line == "/":
            return Reply.error(
                f"Type a command, for example {ctx.cmd('advice how do I find an internship')}. "
                f"{ctx.cmd('help')} lists them all."
            )
        if len(line) > MAX_LINE:
            return Reply.error(f"That message is {len(line):,} characters long; commands take at most {MAX_LINE:,}.")
        if not line.startswith("/"):
            return Reply.error(
                f"Commands start with /. Try {ctx.cmd('help')}, or ask {ctx.cmd('advice')} followed by your question."
            )
        name, rest = _next_token(line[1:])
        return await self.dispatch(ctx, name, rest)

    async def dispatch(self, ctx: Context, name: str, text: str) -> Reply:
        """Entry point for front ends that deliver the command name and its text separately."""
        cmd = self.commands.get(name.lower())
        if cmd is None:
            return Reply.error(self._unknown(ctx, name))
        try:
            if cmd.subcommands:
                cmd, text = self._pick_sub(ctx, cmd, text)
            raw = self._split(ctx, cmd, clean_input(text))
        except UsageError as exc:
            return Reply.error(str(exc))
        return await self.run(ctx, cmd, raw)

    async def invoke(self, ctx: Context, path: str, values: Mapping[str, Any]) -> Reply:
        """Runs a command named by its path with values already split (Discord options, a button)."""
        cmd = self.resolve(path)
        if cmd is None:
            return Reply.error(self._unknown(ctx, path.split()[0] if path.split() else path))
        if cmd.handler is None:
            return Reply.error(f"{ctx.cmd(cmd.path)} needs a subcommand: {', '.join(cmd.subcommands)}.")
        return await self.run(ctx, cmd, dict(values))

    async def run(self, ctx: Context, cmd: Command, raw: dict[str, Any]) -> Reply:
        """Access, gates, conversion, then the handler: the one path every front end shares."""
        ctx.command = cmd.path
        refusal = self._check_access(ctx, cmd)
        for gate in self.gates:
            if refusal:
                break
            refusal = await gate(ctx, cmd)
        if refusal:
            return sanitize_reply(Reply.refusal(refusal))
        try:
            values = await self._convert(ctx, cmd, raw)
        except UsageError as exc:
            return sanitize_reply(Reply.error(str(exc)))
        started = time.perf_counter()
        try:
            assert cmd.handler is not None
            reply = await cmd.handler(ctx, **values)
        except CommandError as exc:
            reply = Reply.error(str(exc))
        except Exception:
            ref = secrets.token_hex(3)
            log.exception("command /%s failed (ref %s) for %s in %s", cmd.path, ref, ctx.actor.id, ctx.place.label)
            reply = Reply.error(
                f"Sorry, something went wrong while running {ctx.cmd(cmd.path)}. "
                f"It has been logged (ref {ref}); please try again later."
            )
        if cmd.ephemeral:
            reply.ephemeral = True
        log.debug("/%s answered in %.1f ms", cmd.path, (time.perf_counter() - started) * 1000)
        return sanitize_reply(reply)

    def resolve(self, path: str) -> Command | None:
        parts = path.strip().lstrip("/").split()
        if not parts:
            return None
        cmd = self.commands.get(parts[0].lower())
        for part in parts[1:]:
            if cmd is None:
                return None
            cmd = cmd.subcommands.get(part.lower())
        return cmd

    # -- platform limits -----------------------------------------------------------------
    def validate(self, platform: str) -> list[str]:
        """Every way a declaration breaks a platform's limits (empty: it can be registered there).

        Discord refuses a whole command sync for one bad name or description, so this runs
        in tests rather than at a user's first command. Slack carries our commands as text
        under one root command, so only names, descriptions and choice counts apply there.
        """
        limits = PLATFORM_LIMITS[platform]
        problems: list[str] = []
        if len(self.commands) > limits["commands"]:
            problems.append(f"{len(self.commands)} top-level commands; {platform} allows {limits['commands']}")

        def describe(where: str, text: str) -> None:
            if not 1 <= len(text) <= limits["description"]:
                problems.append(f"{where}: description is {len(text)} characters; {platform} allows 1-{limits['description']}")

        def name(where: str, text: str) -> None:
            if not _PLATFORM_NAME.fullmatch(text):
                problems.append(f"{where}: name {text!r} must be 1-32 lowercase letters, digits, - or _")

        for root in self.commands.values():
            total = 0
            name(f"/{root.path}", root.name)
            describe(f"/{root.path}", root.help)
            if root.handler and root.subcommands and not limits["group_handler"]:
                problems.append(f"/{root.path}: a group that also runs by itself cannot exist on {platform}")
            if len(root.subcommands) > limits["options"]:
                problems.append(f"/{root.path}: {len(root.subcommands)} subcommands; {platform} allows {limits['options']}")
            for cmd in [root, *root.subcommands.values()]:
                total += len(cmd.name) + len(cmd.help)
                if cmd is not root:
                    name(f"/{cmd.path}", cmd.name)
                    describe(f"/{cmd.path}", cmd.help)
                if len(cmd.args) > limits["options"]:
                    problems.append(f"/{cmd.path}: {len(cmd.args)} options; {platform} allows {limits['options']}")
                for a in cmd.args:
                    where = f"/{cmd.path} {a.name}"
                    name(where, a.name)
                    describe(where, a.help)
                    total += len(a.name) + len(a.help)
                    if a.choices:
                        if len(a.choices) > limits["choices"]:
                            problems.append(f"{where}: {len(a.choices)} choices; {platform} allows {limits['choices']}")
                        for c in a.choices:
                            total += 2 * len(c)
                            if not 1 <= len(c) <= 100:
                                problems.append(f"{where}: choice {c!r} must be 1-100 characters")
            if total > limits["total"]:
                problems.append(f"/{root.path}: {total} characters of names and descriptions; {platform} allows {limits['total']}")
        return problems

    # -- helpers -----------------------------------------------------------------------
    def _unknown(self, ctx: Context, name: str) -> str:
        names = list(self.commands)
        guess = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
        hint = f" Did you mean {ctx.cmd(guess[0])}?" if guess else ""
        return (
            f"There is no command {ctx.cmd(quote_input(name, 30)[1:-1])}.{hint} "
            f"Type {ctx.cmd('help')} to see what I can do."
        )

    def _pick_sub(self, ctx: Context, cmd: Command, text: str) -> tuple[Command, str]:
        first, rest = _next_token(text)
        sub = cmd.subcommands.get(first.lower())
        if sub is not None:
            return sub, rest
        if cmd.default_sub and first:
            return cmd.subcommands[cmd.default_sub], text
        default = cmd.subcommands.get(cmd.default_sub) if cmd.default_sub else None
        if not first and default is not None and (not default.args or not default.args[0].required):
            return default, text  # "/me", "/streak": the default needs nothing more
        options = ", ".join(cmd.subcommands)
        if not first and cmd.default_sub and cmd.subcommands[cmd.default_sub].args:
            arg = cmd.subcommands[cmd.default_sub].args[0]
            others = ", ".join(n for n in cmd.subcommands if n != cmd.default_sub)
            raise UsageError(
                f"{ctx.cmd(cmd.name)} needs {arg.name.upper()} ({arg.describe()}): {ctx.cmd(cmd.name + ' ' + arg.name.upper())}. "
                f"It also has: {others}."
            )
        if not first:
            raise UsageError(f"{ctx.cmd(cmd.name)} needs a subcommand: {options}. Try {ctx.cmd('help ' + cmd.name)}.")
        guess = difflib.get_close_matches(first.lower(), list(cmd.subcommands), n=1)
        hint = f" Did you mean {ctx.cmd(cmd.name + ' ' + guess[0])}?" if guess else ""
        raise UsageError(f"{ctx.cmd(cmd.name)} has no subcommand {quote_input(first, 30)}.{hint} It has: {options}.")

    def _split(self, ctx: Context, cmd: Command, text: str) -> dict[str, str | None]:
        """Cuts a text line into raw values by name; conversion is shared with typed invocation."""
        args = cmd.args
        rest_at = next((i for i, a in enumerate(args) if a.rest), len(args))
        raw: dict[str, str | None] = {}
        remaining = text
        for arg in args[:rest_at]:
            token, remaining = _next_token(remaining)
            raw[arg.name] = token or None
        if rest_at < len(args):
            free = args[rest_at]
            for arg in reversed(args[rest_at + 1 :]):
                parts = remaining.rsplit(None, 1)
                keep_one = free.required and len(parts) < 2
                if parts and not keep_one and arg.accepts(parts[-1]):
                    raw[arg.name] = parts[-1]
                    remaining = parts[0] if len(parts) == 2 else ""
            raw[free.name] = _unquote(remaining) or None
            remaining = ""
        if remaining.strip():
            raise UsageError(
                f"{ctx.cmd(cmd.path)} got more than it takes ({quote_input(remaining.strip())}). Usage: {cmd.usage(ctx)}"
            )
        return raw

    async def _convert(self, ctx: Context, cmd: Command, raw: dict[str, Any]) -> dict[str, Any]:
        known = {a.name for a in cmd.args}
        unknown = [k for k in raw if k not in known]
        if unknown:
            raise UsageError(f"{ctx.cmd(cmd.path)} has no option {quote_input(unknown[0], 30)}. Usage: {cmd.usage(ctx)}")
        values: dict[str, Any] = {}
        for arg in cmd.args:
            given = raw.get(arg.name)
            if given is None or (isinstance(given, str) and not given.strip()):
                if arg.required:
                    raise UsageError(
                        f"{ctx.cmd(cmd.path)} needs {arg.name.upper()} ({arg.describe()}). Usage: {cmd.usage(ctx)}"
                    )
                values[arg.name] = arg.default
                continue
            try:
                values[arg.name] = await arg.convert(given, ctx)
            except UsageError as exc:
                raise UsageError(f"{exc} Usage: {cmd.usage(ctx)}") from None
        return values

    @staticmethod
    def _check_access(ctx: Context, cmd: Command) -> str | None:
        if ctx.place.is_dm and not cmd.dm_ok:
            return f"{ctx.cmd(cmd.path)} only works in a server channel, not in a direct message."
        if ctx.actor.role < cmd.min_role:
            return (
                f"{ctx.cmd(cmd.path)} is for {cmd.min_role.label}s and above; you are a {ctx.actor.role.label}. "
                "Ask a moderator if you think you should have access."
            )
        return None


_PLATFORM_NAME = re.compile(r"[-_a-z0-9]{1,32}")
PLATFORM_LIMITS: dict[str, dict[str, Any]] = {
    # Discord application commands: names 1-32 lowercase, descriptions 1-100, 25 options or
    # subcommands or choices, 100 global commands, 8000 characters per command in all.
    "discord": {"commands": 100, "description": 100, "options": 25, "choices": 25, "total": 8000, "group_handler": False},
    # Slack: one root slash command; ours are text under it, shown in help and menus
    # (static selects hold 100 options).
    "slack": {"commands": 100, "description": 100, "options": 25, "choices": 100, "total": 10**9, "group_handler": True},
}


def sanitize_reply(reply: Reply) -> Reply:
    """Applies mention defusing to every text field of a reply, whatever the command put there."""
    reply.text = defuse_mentions(reply.text)
    for card in reply.cards:
        card.title = defuse_mentions(card.title)
        card.body = defuse_mentions(card.body)
        card.footer = defuse_mentions(card.footer)
        card.fields = [Field(defuse_mentions(f.name), defuse_mentions(f.value), f.inline) for f in card.fields]
        for b in card.buttons:
            b.label = defuse_mentions(b.label)
    return reply


def help_reply(ctx: Context, registry: Registry, topic: str | None = None) -> Reply:
    """Builds /help from the declarations, so new commands document themselves."""
    role = ctx.actor.role
    if topic:
        cmd = registry.resolve(topic)
        if cmd is None:
            guess = difflib.get_close_matches(topic.lower().lstrip("/"), list(registry.commands), n=1)
            hint = f" Did you mean {ctx.cmd('help ' + guess[0])}?" if guess else ""
            return Reply.error(f"No command called {ctx.cmd(quote_input(topic, 30)[1:-1])}.{hint}")
        leaves = list(cmd.subcommands.values()) or [cmd]
        fields = []
        for leaf in leaves:
            lines = [leaf.help] + [f"  {a.name.upper()}: {a.describe()}" for a in leaf.args]
            if leaf.min_role > Role.MEMBER:
                lines.append(f"  (needs {leaf.min_role.label})")
            fields.append(Field(leaf.usage(ctx), "\n".join(lines)))
        return Reply(cards=[Card(title=ctx.cmd(cmd.path), body=cmd.help, fields=fields)])
    fields = [Field(c.usage(ctx), c.help) for c in registry.walk() if c.min_role <= role]
    return Reply(
        cards=[
            Card(
                title="careerbot commands",
                body=f"Ask about ML internships, or type {ctx.cmd('help COMMAND')} for details.",
                fields=fields,
                footer="Arguments in [brackets] are optional; NAME... takes the rest of the line.",
            )
        ]
    )


def _number(value: float) -> str:
    """As people write it: 1000000000 (not 1e+09), 0.5."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
