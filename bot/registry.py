"""Commands are declared once here; every adapter derives its surface from the declaration.

A declaration carries the command's name, help, typed arguments, minimum role and whether
it works in DMs. Discord builds its app-command tree from it, Slack its slash-command
parser, the console its ``/help``. Dispatch owns the friendly failure modes, so a command
handler only has to be right for valid input.
"""

from __future__ import annotations

import difflib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.context import Context
from bot.models import Card, Field, Reply, Role
from bot.text import clean_input, defuse_mentions, quote_input

log = logging.getLogger("careerbot.registry")

MAX_LINE = 4000
Handler = Callable[..., Awaitable[Reply]]
Completer = Callable[[Context, str], Awaitable[list[str]]]
# A gate may refuse a command in a place (e.g. a feature a moderator turned off there).
Gate = Callable[[Context, "Command"], Awaitable[str | None]]


class CommandError(Exception):
    """Raised by a handler to tell the user something went wrong in words they can act on."""


class UsageError(CommandError):
    pass


@dataclass
class Arg:
    """One typed argument. ``rest`` takes the remainder of the line verbatim (free text)."""

    name: str
    help: str
    type: type = str
    required: bool = True
    default: Any = None
    choices: Sequence[str] | None = None
    rest: bool = False
    max_len: int = 200
    min_value: float | None = None
    max_value: float | None = None
    complete: Completer | None = None

    @property
    def metavar(self) -> str:
        base = self.name.upper() + ("..." if self.rest else "")
        return base if self.required else f"[{base}]"

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type is int:
            lo = "" if self.min_value is None else f" from {int(self.min_value)}"
            hi = "" if self.max_value is None else f" to {int(self.max_value)}"
            return f"a whole number{lo}{hi}"
        return self.help or "text"

    def convert(self, raw: Any) -> Any:
        """Turns raw input (console text or a platform's typed option) into a valid value."""
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
        if self.type is int:
            try:
                value = int(text)
            except ValueError:
                raise UsageError(f"{self.name} must be {self.describe()}, not {quote_input(text)}.") from None
            if (self.min_value is not None and value < self.min_value) or (
                self.max_value is not None and value > self.max_value
            ):
                raise UsageError(f"{self.name} must be {self.describe()}, not {value}.")
            return value
        return text


@dataclass
class Command:
    name: str
    help: str
    handler: Handler | None = None
    args: list[Arg] = field(default_factory=list)
    min_role: Role = Role.MEMBER
    dm_ok: bool = True
    subcommands: dict[str, "Command"] = field(default_factory=dict)
    default_sub: str | None = None
    parent: "Command | None" = None

    @property
    def path(self) -> str:
        return f"{self.parent.path} {self.name}" if self.parent else self.name

    @property
    def root(self) -> str:
        return self.parent.root if self.parent else self.name

    @property
    def usage(self) -> str:
        return " ".join(["/" + self.path, *(a.metavar for a in self.args)])

    def command(
        self,
        name: str,
        help: str,
        args: Sequence[Arg] = (),
        min_role: Role | None = None,
        dm_ok: bool | None = None,
        default: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declares a subcommand; ``default`` makes it answer when no subcommand name is given."""

        def decorate(handler: Handler) -> Handler:
            sub = Command(
                name=name,
                help=help,
                handler=handler,
                args=list(args),
                min_role=self.min_role if min_role is None else min_role,
                dm_ok=self.dm_ok if dm_ok is None else dm_ok,
                parent=self,
            )
            _check_args(sub)
            self.subcommands[name] = sub
            if default:
                self.default_sub = name
            return handler

        return decorate


def _check_args(cmd: Command) -> None:
    rest = [a for a in cmd.args if a.rest]
    if rest and cmd.args[-1] is not rest[0]:
        raise ValueError(f"/{cmd.path}: only the last argument may take the rest of the line")
    seen_optional = False
    for a in cmd.args:
        if seen_optional and a.required:
            raise ValueError(f"/{cmd.path}: required argument {a.name} follows an optional one")
        seen_optional = seen_optional or not a.required


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
    def group(self, name: str, help: str, min_role: Role = Role.MEMBER, dm_ok: bool = True) -> Command:
        if name in self.commands:
            raise ValueError(f"/{name} is declared twice")
        cmd = Command(name=name, help=help, min_role=min_role, dm_ok=dm_ok)
        self.commands[name] = cmd
        return cmd

    def command(
        self,
        name: str,
        help: str,
        args: Sequence[Arg] = (),
        min_role: Role = Role.MEMBER,
        dm_ok: bool = True,
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            cmd = self.group(name, help, min_role, dm_ok)
            cmd.handler = handler
            cmd.args = list(args)
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

    # -- dispatch ----------------------------------------------------------------------
    async def dispatch_line(self, ctx: Context, line: str) -> Reply:
        """Runs one line such as ``/advice topics``; never raises for anything the user typed."""
        line = clean_input(line)
        if not line or line == "/":
            return Reply.error("Type a command, for example /advice how do I find an internship. /help lists them all.")
        if len(line) > MAX_LINE:
            return Reply.error(f"That message is {len(line):,} characters long; commands take at most {MAX_LINE:,}.")
        if not line.startswith("/"):
            return Reply.error("Commands start with /. Try /help, or ask /advice followed by your question.")
        name, rest = _next_token(line[1:])
        return await self.dispatch(ctx, name, rest)

    async def dispatch(self, ctx: Context, name: str, text: str) -> Reply:
        """Entry point for platforms that deliver the command name and its text separately."""
        cmd = self.commands.get(name.lower())
        if cmd is None:
            return Reply.error(self._unknown(name))
        try:
            if cmd.subcommands:
                cmd, text = self._pick_sub(cmd, text)
            values = self._parse(cmd, clean_input(text))
        except UsageError as exc:
            return Reply.error(str(exc))
        return await self.invoke(ctx, cmd, values)

    async def invoke(self, ctx: Context, cmd: Command, values: dict[str, Any]) -> Reply:
        """Runs a resolved command with converted values (Discord delivers options already typed)."""
        refusal = self._check_access(ctx, cmd)
        for gate in self.gates:
            if refusal:
                break
            refusal = await gate(ctx, cmd)
        if refusal:
            return sanitize_reply(Reply.refusal(refusal))
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
                f"Sorry, something went wrong while running /{cmd.path}. "
                f"It has been logged (ref {ref}); please try again later."
            )
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

    # -- helpers -----------------------------------------------------------------------
    def _unknown(self, name: str) -> str:
        names = list(self.commands)
        guess = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
        hint = f" Did you mean /{guess[0]}?" if guess else ""
        return f"There is no command /{quote_input(name, 30)[1:-1]}.{hint} Type /help to see what I can do."

    def _pick_sub(self, cmd: Command, text: str) -> tuple[Command, str]:
        first, rest = _next_token(text)
        sub = cmd.subcommands.get(first.lower())
        if sub is not None:
            return sub, rest
        if cmd.default_sub:
            return cmd.subcommands[cmd.default_sub], text
        options = ", ".join(cmd.subcommands)
        if not first:
            raise UsageError(f"/{cmd.name} needs a subcommand: {options}. Try /help {cmd.name}.")
        guess = difflib.get_close_matches(first.lower(), list(cmd.subcommands), n=1)
        hint = f" Did you mean /{cmd.name} {guess[0]}?" if guess else ""
        raise UsageError(f"/{cmd.name} has no subcommand {quote_input(first, 30)}.{hint} It has: {options}.")

    def _parse(self, cmd: Command, text: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        remaining = text
        for arg in cmd.args:
            if arg.rest:
                raw = _unquote(remaining)
                remaining = ""
            else:
                raw, remaining = _next_token(remaining)
            if not raw:
                if arg.required:
                    raise UsageError(f"/{cmd.path} needs {arg.name.upper()} ({arg.describe()}). Usage: {cmd.usage}")
                values[arg.name] = arg.default
                continue
            try:
                values[arg.name] = arg.convert(raw)
            except UsageError as exc:
                raise UsageError(f"{exc} Usage: {cmd.usage}") from None
        if remaining.strip():
            raise UsageError(f"/{cmd.path} got more than it takes ({quote_input(remaining.strip())}). Usage: {cmd.usage}")
        return values

    @staticmethod
    def _check_access(ctx: Context, cmd: Command) -> str | None:
        if ctx.place.is_dm and not cmd.dm_ok:
            return f"/{cmd.path} only works in a server channel, not in a direct message."
        if ctx.actor.role < cmd.min_role:
            return (
                f"/{cmd.path} is for {cmd.min_role.label}s and above; you are a {ctx.actor.role.label}. "
                "Ask a moderator if you think you should have access."
            )
        return None


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


def help_reply(registry: Registry, role: Role, topic: str | None = None) -> Reply:
    """Builds /help from the declarations, so new commands document themselves."""
    if topic:
        cmd = registry.resolve(topic)
        if cmd is None:
            guess = difflib.get_close_matches(topic.lower().lstrip("/"), list(registry.commands), n=1)
            hint = f" Did you mean /help {guess[0]}?" if guess else ""
            return Reply.error(f"No command called /{topic.lstrip('/')[:30]}.{hint}")
        leaves = list(cmd.subcommands.values()) or [cmd]
        fields = []
        for leaf in leaves:
            lines = [leaf.help] + [f"  {a.name.upper()}: {a.describe()}" for a in leaf.args]
            if leaf.min_role > Role.MEMBER:
                lines.append(f"  (needs {leaf.min_role.label})")
            fields.append(Field(leaf.usage, "\n".join(lines)))
        return Reply(cards=[Card(title=f"/{cmd.path}", body=cmd.help, fields=fields)])
    fields = [
        Field(c.usage, c.help)
        for c in registry.walk()
        if c.min_role <= role
    ]
    return Reply(
        cards=[
            Card(
                title="careerbot commands",
                body="Ask about ML internships, or type /help COMMAND for details.",
                fields=fields,
                footer="Arguments in [brackets] are optional; NAME... takes the rest of the line.",
            )
        ]
    )
