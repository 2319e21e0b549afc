"""/help, generated from the declarations so it can never drift from the real commands."""

from __future__ import annotations

from bot.context import Context
from bot.models import Reply
from bot.registry import Arg, Registry, help_reply


def register(registry: Registry) -> None:
    @registry.command(
        "help",
        help="List the commands, or show one command's arguments.",
        ephemeral=True,
        args=[Arg("command", "a command name, e.g. advice", required=False, rest=True, max_len=60)],
    )
    async def help_command(ctx: Context, command: str | None = None) -> Reply:
        return help_reply(ctx, registry, command)
