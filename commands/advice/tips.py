"""The "tip of the day" digest provider: one advice entry per digest, never repeating in a channel
until every entry has been given once.

The order is a per-channel shuffle (a hash of channel and entry id), so two channels of the
same server do not march through the knowledge base in lockstep, yet a channel's order is
stable across restarts without storing it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from bot.models import Place
from bot.providers import Period, Section
from bot.storage import digest_repo
from bot.text import shorten

if TYPE_CHECKING:
    from bot.app import App

TIP_CHARS = 700


class TipsProvider:
    name = "tips"
    title = "Tip of the day"
    help = "one internship-advice entry per digest, rotating without repeats"

    async def collect(self, app: "App", place: Place, period: Period, settings: dict[str, Any]) -> Section | None:
        from commands.advice import entry_card, service

        svc = service(app)
        entries = [e for e in svc.entries.values() if e.workspace_id in (None, place.workspace_id)]
        if not entries:
            return None
        salt = f"{place.workspace_key}|{place.channel_id}"
        order = sorted(entries, key=lambda e: hashlib.sha1(f"{salt}|{e.id}".encode()).hexdigest())
        seen = await digest_repo.seen(app.db, place.workspace_key, place.channel_id, self.name)
        fresh = [e for e in order if e.id not in seen]
        restart = not fresh
        entry = (fresh or order)[0]
        cmd = app.frontend(place.platform).cmd
        card = entry_card(svc, entry, cmd)
        card.body = shorten(card.body, TIP_CHARS)
        card.footer = f"More: {cmd('advice topic ' + entry.id)} · {card.footer}"
        return Section(title=self.title, cards=[card], item_keys=[entry.id], restart_rotation=restart)
