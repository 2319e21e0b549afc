"""/me: a person's own settings and data — the user scope of the settings cascade.

A student sets their timezone once and every streak, reminder and date follows it; a
student leaving a community can take a copy of what the bot keeps about them and have it
deleted. Features say what they keep through ``app.personal_data``, so /me forget cannot
miss a feature that was added later without it noticing.
"""

from __future__ import annotations

import json
from typing import Any

from bot.context import Context
from bot.models import ActionButton, Attachment, Card, Reply
from bot.registry import Arg, CommandError, Registry
from bot.settings import SettingError
from bot.storage import studygroups_repo
from bot.storage.db import Database

PERSONAL_KEYS = ("timezone", "dm", "reminder_time", "date_format", "time_format")


class SettingsData:
    """The core's part of a person's data: their personal settings."""

    name = "settings"

    async def export(self, db: Database, user_id: str) -> Any:
        return await studygroups_repo.user_settings(db, user_id)

    async def forget(self, conn: Any, user_id: str) -> dict[str, int]:
        return {"personal settings": await studygroups_repo.forget_settings(conn, user_id)}


async def _complete_key(ctx: Context, prefix: str) -> list[str]:
    return [k for k in ctx.app.settings.user_keys if k.startswith(prefix.strip().lower())]


def register(registry: Registry) -> None:
    me = registry.group("me", "Your own settings (timezone, DMs), and your data: export or forget.", ephemeral=True)

    @me.command("show", "Your personal settings and where each value comes from.", default=True)
    async def show(ctx: Context) -> Reply:
        settings = ctx.app.settings
        mine = await settings.personal(ctx.actor.id)
        lines = []
        for key in settings.user_keys.values():
            if key.name in mine:
                origin = "yours"
                value = mine[key.name]
            elif key.name in settings.keys and ctx.place.workspace_id:
                value, origin = await settings.get(ctx.place, key.name), "this server's"
            else:
                value, origin = key.default, "default"
            lines.append(f"**{key.name}**: {key.show(value)} ({origin}) — {key.help}")
        footer = f"Change one: {ctx.cmd('me set timezone Europe/Berlin')} · {ctx.cmd('me export')} · {ctx.cmd('me forget')}"
        return Reply(cards=[Card(title=f"Settings for {ctx.actor.name}", body="\n".join(lines), footer=footer)])

    @me.command(
        "set", "Set one of your settings: timezone, dm on|off, reminder_time 19:00, date_format, time_format.",
        args=[
            Arg("key", "timezone, dm, reminder_time, date_format or time_format", max_len=40, complete=_complete_key),
            Arg("value", "the value, e.g. Europe/Berlin, on, 19:00; 'default' to clear", rest=True, max_len=80),
        ],
    )
    async def set_(ctx: Context, key: str, value: str) -> Reply:
        clear = value.strip().lower() in ("default", "reset", "none", "unset")
        try:
            found, stored = await ctx.app.settings.set_user(ctx.actor.id, key, None if clear else value, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}.") from None
        if stored is None:
            fallback = await ctx.app.settings.for_user(ctx.actor.id, ctx.place if ctx.place.workspace_id else None, found.name)
            return Reply(text=f"{found.name} is back to the default: {found.show(fallback)}.")
        extra = ""
        if found.name == "dm" and stored:
            extra = " I'll remind you by DM on study days you haven't checked in by your reminder_time."
        elif found.name == "timezone":
            extra = " Your study days now follow it; days you already checked in stay as they were."
        return Reply(text=f"{found.name} is now {found.show(stored)}.{extra}")

    @me.command("export", "Everything careerbot keeps about you, as a JSON file.")
    async def export(ctx: Context) -> Reply:
        doc: dict[str, Any] = {"careerbot_personal_data": 1, "user": ctx.actor.id, "exported_at": ctx.now().isoformat()}
        for part in ctx.app.personal_data:
            doc[part.name] = await part.export(ctx.db, ctx.actor.id)
        data = json.dumps(doc, ensure_ascii=False, indent=2, default=str).encode()
        return Reply(
            text=f"Here is everything I keep about you, as JSON: {', '.join(p.name for p in ctx.app.personal_data)}. "
                 f"{ctx.cmd('me forget')} deletes it.",
            attachments=[Attachment("careerbot-my-data.json", data, "application/json", "careerbot personal data export")],
        )

    @me.command(
        "forget", "Delete your check-ins, alerts and settings (asks first).",
        args=[Arg("confirm", "(set by the confirmation button)", required=False, max_len=120)],
    )
    async def forget(ctx: Context, confirm: str | None = None) -> Reply:
        if confirm != ctx.actor.id:
            button = ActionButton("Yes, delete my data", "me forget", {"confirm": ctx.actor.id}, style="danger")
            return Reply(cards=[Card(
                title="Delete everything careerbot keeps about you?",
                body="Your check-ins and streaks, group memberships and pauses, posting alerts and personal settings "
                     "are deleted for good. Groups you created stay for their members. "
                     f"Take a copy first with {ctx.cmd('me export')}.",
                buttons=[button],
            )])
        counts: dict[str, int] = {}
        async with ctx.db.transaction() as conn:
            for part in ctx.app.personal_data:
                counts.update(await part.forget(conn, ctx.actor.id))
        done = ", ".join(f"{n} {what}" for what, n in counts.items() if n) or "nothing was stored"
        return Reply(text=f"Done: deleted {done}. careerbot keeps nothing more about you.")


async def setup(app: Any) -> None:
    app.personal_data.insert(0, SettingsData())
    app.settings.always_on.add("me")  # personal: never turned off per channel
    if "me" in app.settings.feature_names:
        app.settings.feature_names.remove("me")
