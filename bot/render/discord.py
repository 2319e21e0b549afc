"""Reply → Discord message payload (content + embeds), within Discord's limits, never failing.

Limits (Discord API docs): content 2000 characters; up to 10 embeds whose text totals at
most 6000; title 256, description 4096, 25 fields of name 256 / value 1024, footer 2048.
Anything longer is cut with a visible "…". ``allowed_mentions`` is empty so that no text
we post — ours, a user's or a feed's — can ping anyone, on top of the core's defusing.
"""

from __future__ import annotations

from typing import Any

from bot.models import Reply
from bot.text import shorten

CONTENT = 2000
EMBEDS = 10
EMBED_TOTAL = 6000
TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE, FOOTER = 256, 4096, 25, 256, 1024, 2048
COLOURS = {"error": 0xD9534F, "refusal": 0xF0AD4E, "info": 0x5865F2, "nomatch": 0x99AAB5}


def render_message(reply: Reply) -> dict[str, Any]:
    embeds: list[dict[str, Any]] = []
    budget = EMBED_TOTAL
    for card in reply.cards[:EMBEDS]:
        embed: dict[str, Any] = {"color": COLOURS.get(reply.kind, COLOURS["info"])}
        body = card.body
        if card.buttons:
            body = (body + "\n" if body else "") + " · ".join(f"[{b.label}]({b.url})" for b in card.buttons)
        pieces = [("title", card.title, TITLE), ("description", body, DESCRIPTION)]
        for name, text, limit in pieces:
            if text and budget > 0:
                embed[name] = shorten(text, min(limit, budget))
                budget -= len(embed[name])
        if card.url:
            embed["url"] = card.url
        fields = []
        for f in card.fields[:FIELDS]:
            if budget <= 0:
                break
            name, value = shorten(f.name or "\u200b", FIELD_NAME), shorten(f.value or "\u200b", min(FIELD_VALUE, max(1, budget)))
            budget -= len(name) + len(value)
            fields.append({"name": name, "value": value, "inline": f.inline})
        if fields:
            embed["fields"] = fields
        if card.footer and budget > 0:
            embed["footer"] = {"text": shorten(card.footer, min(FOOTER, budget))}
            budget -= len(embed["footer"]["text"])
        embeds.append(embed)
    payload: dict[str, Any] = {"allowed_mentions": {"parse": []}}
    if reply.text:
        payload["content"] = shorten(reply.text, CONTENT)
    if embeds:
        payload["embeds"] = embeds
    if "content" not in payload and not embeds:
        payload["content"] = "\u200b"
    return payload
