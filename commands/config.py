"""/config: what a server and each of its channels gets, changed only by moderators, always audited."""

from __future__ import annotations

import json

import re

from bot.context import Context
from bot.frontend import RefError
from bot.models import Card, ChannelRef, Field, Reply, Role
from bot.registry import Arg, CommandError, Registry
from bot.settings import ChannelSetting, ItemList, Key, SettingError

HISTORY_LIMIT = 15
IMPORT_MAX = 3800


def _scope_label(channel: str) -> str:
    return f"#{channel}" if channel else "the whole server"


async def _resolve_refs(ctx: Context, key: Key, raw: str) -> str:
    """Turns what a moderator typed for a channel/user/role setting into ids, via the front end.

    ``#mods`` on Slack or Discord is a name; the setting must hold the id the platform
    reports on events, or it silently never applies.
    """
    kind = key.type.ref if isinstance(key.type, (ChannelSetting, ItemList)) else None
    if kind is None:
        return raw
    resolve = {"channel": ctx.frontend.channel, "user": ctx.frontend.user, "role": ctx.frontend.role}[kind]
    tokens = [t for t in re.split(r"[,\s]+", raw.strip()) if t]
    if [t.lower() for t in tokens] in (["none"], ["all"]):
        return raw
    ids = []
    for token in tokens:
        try:
            ids.append((await resolve(ctx.place, token)).id)
        except RefError as exc:
            raise CommandError(f"Nothing changed: {key.name}: {exc}.") from None
    return ", ".join(ids)


def register(registry: Registry) -> None:
    config = registry.group(
        "config", "Moderators: see and change what this server and its channels get.", min_role=Role.MODERATOR, dm_ok=False,
        ephemeral=True,
    )

    @config.command(
        "show",
        "Show every setting as it applies in a channel, and where each value comes from.",
        args=[Arg("channel", "a channel, e.g. #general (default: this one)", kind="channel", required=False, max_len=100)],
    )
    async def show(ctx: Context, channel: ChannelRef | None = None) -> Reply:
        channel_id, label = (channel.id, channel.label) if channel else (ctx.place.channel_id, ctx.place.label)
        rows = await ctx.app.settings.effective(ctx.place.workspace_key, channel_id)

        async def shown(key: Key, value: object) -> str:
            if isinstance(key.type, ChannelSetting) and value:
                return f"#{await ctx.frontend.channel_name(ctx.place, str(value)) or value}"
            return key.show(value)

        fields = [
            Field(
                f"{e.key.name} = {await shown(e.key, e.value)}",
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
                    footer=f"Change one with {ctx.cmd('config set KEY VALUE [#channel]')}; "
                    f"{ctx.cmd('config history')} shows who changed what.",
                )
            ]
        )

    @config.command(
        "set",
        "Change a setting for the whole server, or for one channel by ending with #channel.",
        args=[
            Arg("key", "a setting name, e.g. timezone", max_len=40, complete=_complete_key),
            Arg("value", "the new value", rest=True, max_len=300, markup=True),
            Arg("channel", "set it for this channel only (default: the whole server)", kind="channel", required=False, max_len=100),
        ],
    )
    async def set_(ctx: Context, key: str, value: str, channel: ChannelRef | None = None) -> Reply:
        scope = channel.id if channel else ""
        raw = value
        try:
            value = await _resolve_refs(ctx, ctx.app.settings.key(key), value)
            change = await ctx.app.settings.set(ctx.actor, ctx.place.workspace_key, scope, key, value, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}.") from None
        name, scope = change.key, _scope_label(change.channel)
        if change.unchanged:
            return Reply(text=f"{name} is already {raw} for {scope}; nothing changed.")
        return Reply(
            text=f"{name} for {scope}: {change.old or '(default)'} → {change.new}. {ctx.cmd('config undo')} reverts it."
        )

    @config.command(
        "reset",
        "Put a setting back to its default (for the server, or one channel with #channel).",
        args=[
            Arg("key", "a setting name", max_len=40, complete=_complete_key),
            Arg("channel", "a channel, e.g. #general (default: the whole server)", kind="channel", required=False, max_len=100),
        ],
    )
    async def reset(ctx: Context, key: str, channel: ChannelRef | None = None) -> Reply:
        channel_id = channel.id if channel else ""
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

    @config.command("export", "Print every setting of this server as a JSON document to import later.")
    async def export(ctx: Context) -> Reply:
        doc = await ctx.app.settings.export(ctx.place.workspace_key)
        text = json.dumps(doc, indent=1, ensure_ascii=False)
        return Reply(text=f"```json\n{text}\n```", ephemeral=True)

    @config.command(
        "import",
        "Make this server's settings equal an exported JSON document; checks everything first.",
        args=[Arg("document", "the JSON document", rest=True, max_len=IMPORT_MAX, markup=True)],
    )
    async def import_(ctx: Context, document: str) -> Reply:
        try:
            changes = await ctx.app.settings.import_document(ctx.actor, ctx.place.workspace_key, document, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Import refused: {exc}") from None
        if not changes:
            return Reply(text="Imported: the settings already matched the document; nothing changed.")
        lines = [f"{c.key} for {_scope_label(c.channel)}: {c.old or '(default)'} → {c.new or '(default)'}" for c in changes]
        return Reply(text=f"Imported {len(changes)} change(s) ({ctx.cmd('config undo')} reverts them all):\n" + "\n".join(lines))


async def _complete_key(ctx: Context, prefix: str) -> list[str]:
    return [k for k in ctx.app.settings.keys if k.startswith(prefix.lower())][:25]

