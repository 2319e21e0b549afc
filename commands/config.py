"""/config: what a server and each of its channels gets, changed only by moderators, always audited."""

from __future__ import annotations

import json

from bot.context import Context
from bot.models import Card, Field, Reply, Role
from bot.registry import Arg, CommandError, Registry
from bot.settings import SettingError, looks_like_channel, parse_channel_ref

HISTORY_LIMIT = 15
IMPORT_MAX = 3800


def _channel(ctx: Context, raw: str | None) -> tuple[str, str]:
    """(channel id, label) for an optional channel argument; defaults to where the command ran."""
    if raw:
        try:
            channel = parse_channel_ref(raw)
        except SettingError as exc:
            raise CommandError(str(exc)) from None
        return channel, f"#{channel}"
    return ctx.place.channel_id, ctx.place.label


def _split_value(text: str) -> tuple[str, str | None]:
    """``VALUE [#channel]``: a trailing channel mention is the scope, not part of the value."""
    parts = text.rsplit(None, 1)
    if len(parts) == 2 and looks_like_channel(parts[1]):
        return parts[0], parts[1]
    return text, None


def _scope_label(channel: str) -> str:
    return f"#{channel}" if channel else "the whole server"


def register(registry: Registry) -> None:
    config = registry.group(
        "config", "Moderators: see and change what this server and its channels get.", min_role=Role.MODERATOR, dm_ok=False
    )

    @config.command(
        "show",
        "Show every setting as it applies in a channel, and where each value comes from.",
        args=[Arg("channel", "a channel, e.g. #general (default: this one)", required=False, max_len=100)],
    )
    async def show(ctx: Context, channel: str | None = None) -> Reply:
        channel_id, label = _channel(ctx, channel)
        rows = await ctx.app.settings.effective(ctx.place.workspace_key, channel_id)
        fields = [
            Field(
                f"{e.key.name} = {e.key.show(e.value)}",
                f"{e.key.help}. Set {'for ' + label if e.origin == 'channel' else 'server-wide' if e.origin == 'server' else 'by default'}"
                + ("" if e.key.channel_ok else " (server-wide only)"),
            )
            for e in rows
        ]
        return Reply(
            cards=[
                Card(
                    title=f"Settings in {label}",
                    fields=fields,
                    footer="Change one with /config set KEY VALUE [#channel]; /config history shows who changed what.",
                )
            ]
        )

    @config.command(
        "set",
        "Change a setting for the whole server, or for one channel by ending with #channel.",
        args=[
            Arg("key", "a setting name, e.g. timezone", max_len=40, complete=_complete_key),
            Arg("value", "the new value, optionally followed by #channel", rest=True, max_len=300),
        ],
    )
    async def set_(ctx: Context, key: str, value: str) -> Reply:
        raw, channel_arg = _split_value(value)
        channel = parse_channel_ref(channel_arg) if channel_arg else ""
        try:
            change = await ctx.app.settings.set(ctx.actor, ctx.place.workspace_key, channel, key, raw, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}.") from None
        name, scope = change.key, _scope_label(change.channel)
        if change.unchanged:
            return Reply(text=f"{name} is already {raw} for {scope}; nothing changed.")
        return Reply(
            text=f"{name} for {scope}: {change.old or '(default)'} → {change.new}. /config undo reverts it."
        )

    @config.command(
        "reset",
        "Put a setting back to its default (for the server, or one channel with #channel).",
        args=[
            Arg("key", "a setting name", max_len=40, complete=_complete_key),
            Arg("channel", "a channel, e.g. #general (default: the whole server)", required=False, max_len=100),
        ],
    )
    async def reset(ctx: Context, key: str, channel: str | None = None) -> Reply:
        channel_id = _channel(ctx, channel)[0] if channel else ""
        try:
            change = await ctx.app.settings.reset(ctx.actor, ctx.place.workspace_key, channel_id, key, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}.") from None
        if change.unchanged:
            return Reply(text=f"{change.key} was not set for {_scope_label(change.channel)}; nothing changed.")
        return Reply(text=f"{change.key} for {_scope_label(change.channel)} is back to its default (was {change.old}).")

    @config.command(
        "history",
        "Who changed which setting, newest first.",
        args=[Arg("key", "only this setting", required=False, max_len=40, complete=_complete_key)],
    )
    async def history(ctx: Context, key: str | None = None) -> Reply:
        try:
            rows = await ctx.app.settings.history(ctx.place.workspace_key, key, HISTORY_LIMIT)
        except SettingError as exc:
            raise CommandError(str(exc)) from None
        if not rows:
            return Reply(text="No settings have been changed here yet." if key is None else f"{key} has never been changed here.")
        lines = []
        for r in rows:
            when = r.at[:16].replace("T", " ")
            undone = " (undone)" if r.undone_by else ""
            lines.append(
                f"{when} UTC · {r.actor_name} · {r.action} {r.key} for {_scope_label(r.channel)}: "
                f"{r.old_value or '(default)'} → {r.new_value or '(default)'}{undone}"
            )
        return Reply(cards=[Card(title="Settings history (newest first)", body="\n".join(lines))])

    @config.command("undo", "Revert the most recent settings change (an import counts as one change).")
    async def undo(ctx: Context) -> Reply:
        try:
            changes = await ctx.app.settings.undo(ctx.actor, ctx.place.workspace_key, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}.") from None
        if not changes:
            return Reply(text="There is nothing to undo.")
        lines = [f"{c.key} for {_scope_label(c.channel)}: {c.old or '(default)'} → {c.new or '(default)'}" for c in changes]
        return Reply(text="Undone:\n" + "\n".join(lines))

    @config.command("export", "Print every setting of this server as a JSON document for /config import.")
    async def export(ctx: Context) -> Reply:
        doc = await ctx.app.settings.export(ctx.place.workspace_key)
        text = json.dumps(doc, indent=1, ensure_ascii=False)
        return Reply(text=f"```json\n{text}\n```", ephemeral=True)

    @config.command(
        "import",
        "Make this server's settings equal a JSON document from /config export; checks everything first.",
        args=[Arg("document", "the JSON document", rest=True, max_len=IMPORT_MAX)],
    )
    async def import_(ctx: Context, document: str) -> Reply:
        try:
            changes = await ctx.app.settings.import_document(ctx.actor, ctx.place.workspace_key, document, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Import refused: {exc}") from None
        if not changes:
            return Reply(text="Imported: the settings already matched the document; nothing changed.")
        lines = [f"{c.key} for {_scope_label(c.channel)}: {c.old or '(default)'} → {c.new or '(default)'}" for c in changes]
        return Reply(text=f"Imported {len(changes)} change(s) (/config undo reverts them all):\n" + "\n".join(lines))


async def _complete_key(ctx: Context, prefix: str) -> list[str]:
    return [k for k in ctx.app.settings.keys if k.startswith(prefix.lower())][:25]

