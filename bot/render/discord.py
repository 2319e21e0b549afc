"""Reply → Discord "create message" payloads: as many as it takes, each within every limit.

Discord answers a payload past any one of its limits with HTTP 400 and posts nothing, so
the renderer must stay inside all of them at once — but cutting to fit hides text from the
reader without a sign (``/advice topics`` once showed 25 of its 29 fields). So nothing is
cut: text and cards are split with ``bot.render.fit`` and packed, in order, into as few
messages as the limits allow. Callers that can send only one message (the REST transport
sends one queued part) use ``render_message``, which refuses a reply that needs more, so a
part the queue sized wrongly fails loudly instead of arriving short.

Limits (Discord API docs; lengths in code points, as Discord's Python API counts them):
content 2000; 10 embeds; per embed title 256, description 4096, 25 fields of name 256 /
value 1024, footer 2048; all embed text in one message 6000 together; 5 action rows of 5
buttons, label 80, link url 512. ``allowed_mentions`` is empty so that no text we post —
ours, a user's or a feed's — can ping anyone, on top of the core's defusing.

Files (``Reply.attachments``) go with the first message as ``files[n]`` parts: at most 10 in
one message, alt text (``description``) up to 1024 characters. The renderer only says which
files go together and what the ``attachments`` array of ``payload_json`` holds; adapters
turn that into discord.py ``File`` objects or a multipart body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from bot.buttons import encode
from bot.models import ActionButton, Attachment, Button, Card, Field, Reply
from bot.render.fit import split_card, split_text
from bot.text import ZWSP, shorten

CONTENT = 2000
EMBEDS = 10
EMBED_TOTAL = 6000
TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE, FOOTER = 256, 4096, 25, 256, 1024, 2048
ROWS, ROW_BUTTONS, LABEL, BUTTON_URL = 5, 5, 80, 512
BUTTONS = ROWS * ROW_BUTTONS
FILES, FILE_DESCRIPTION = 10, 1024  # attachments in one message; alt text of one
COLOURS = {"error": 0xD9534F, "refusal": 0xF0AD4E, "info": 0x5865F2, "nomatch": 0x99AAB5}
STYLES = {"primary": 1, "secondary": 2, "danger": 4}
LINK_STYLE = 5
# Discord refuses empty field names and values, so those become a zero-width space — one
# character each that the card's own size does not count; leave room for a full embed's.
_PIECE_TOTAL = EMBED_TOTAL - 2 * FIELDS


@dataclass
class _Message:
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0  # embed text so far, against EMBED_TOTAL
    buttons: list[dict[str, Any]] = field(default_factory=list)

    def takes(self, size: int, buttons: int) -> bool:
        """Room for one more embed of ``size`` with ``buttons`` beside it (over 25 need an empty message)."""
        room_for_buttons = len(self.buttons) + min(buttons, BUTTONS) <= BUTTONS
        return len(self.embeds) < EMBEDS and self.size + size <= EMBED_TOTAL and room_for_buttons

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"allowed_mentions": {"parse": []}}
        if self.content or not (self.embeds or self.buttons):
            payload["content"] = self.content or ZWSP
        if self.embeds:
            payload["embeds"] = self.embeds
        if self.buttons:
            payload["components"] = [
                {"type": 1, "components": self.buttons[i : i + ROW_BUTTONS]} for i in range(0, len(self.buttons), ROW_BUTTONS)
            ]
        return payload


def render_messages(reply: Reply) -> list[dict[str, Any]]:
    """One or more payloads that together carry all of ``reply`` (never its notices), text first.

    A reply that is only files gets no placeholder content: its files make the message.
    """
    messages = [_Message(content=chunk) for chunk in split_text(reply.text, CONTENT)] or [_Message()]
    colour = COLOURS.get(reply.kind, COLOURS["info"])
    for card in reply.cards:
        _add_card(messages, card, colour)
    payloads = [m.payload() for m in messages]
    if reply.attachments and payloads[0].get("content") == ZWSP and len(payloads[0]) == 2:
        del payloads[0]["content"]
    return payloads


def file_batches(attachments: Sequence[Attachment]) -> list[list[Attachment]]:
    """Files in groups Discord takes in one message: the first rides with the reply's first
    message, any further group follows as a message of its own."""
    return [list(attachments[i : i + FILES]) for i in range(0, len(attachments), FILES)]


def file_description(attachment: Attachment) -> str | None:
    """The alt text Discord shows for a file, within its limit; None when there is none."""
    text = attachment.description.strip()
    return shorten(text, FILE_DESCRIPTION) if text else None


def attachments_field(batch: Sequence[Attachment]) -> list[dict[str, Any]]:
    """The ``attachments`` array of ``payload_json``: ``id`` is the ``n`` of the ``files[n]`` part."""
    items: list[dict[str, Any]] = []
    for n, attachment in enumerate(batch):
        item: dict[str, Any] = {"id": n, "filename": attachment.name}
        description = file_description(attachment)
        if description is not None:
            item["description"] = description
        items.append(item)
    return items


def not_attached_line(attachments: Sequence[Attachment], reason: str) -> str:
    """What the reader is told when the text arrived but its files could not."""
    return f"I could not attach {file_names(attachments)}: {reason}."


def file_names(attachments: Sequence[Attachment]) -> str:
    """``a.png``, or ``a.png`` and ``b.png``: as code, so ``_`` in a name is not read as italics."""
    names = [f"`{a.name}`" for a in attachments]
    if len(names) <= 1:
        return names[0] if names else "the files"
    return ", ".join(names[:-1]) + " and " + names[-1]


def render_message(reply: Reply) -> dict[str, Any]:
    """The single payload for a reply that fits one message; ValueError if it needs more."""
    payloads = render_messages(reply)
    if len(payloads) != 1:
        raise ValueError(f"this reply needs {len(payloads)} Discord messages; split it before sending one")
    return payloads[0]


def _add_card(messages: list[_Message], card: Card, colour: int) -> None:
    """Appends the card's embeds, then its buttons beside its last embed."""
    card, buttons = _prepare(card)
    pieces = split_card(
        card, body=DESCRIPTION, fields=FIELDS, field_name=FIELD_NAME, field_value=FIELD_VALUE, title=TITLE, total=_PIECE_TOTAL
    )
    for i, piece in enumerate(pieces):
        embed, size = _embed(piece, colour)
        wanted = len(buttons) if i == len(pieces) - 1 else 0
        if not messages[-1].takes(size, wanted):
            messages.append(_Message())
        messages[-1].embeds.append(embed)
        messages[-1].size += size
    while buttons:  # more than a message holds: the rest follow on their own
        if len(messages[-1].buttons) >= BUTTONS:
            messages.append(_Message())
        room = BUTTONS - len(messages[-1].buttons)
        messages[-1].buttons.extend(buttons[:room])
        buttons = buttons[room:]


def _prepare(card: Card) -> tuple[Card, list[dict[str, Any]]]:
    """(card with its text made whole, its buttons as components).

    Links Discord cannot show as a button (not http(s), or a url over 512) become markdown
    links at the end of the body; a footer over 2048 is shortened and given in full there.
    """
    components: list[dict[str, Any]] = []
    links: list[str] = []
    for button in card.buttons:
        component = _component(button)
        if component is None:
            links.append(f"[{button.label}]({getattr(button, 'url', '')})")
        else:
            components.append(component)
    body, footer = card.body, card.footer
    if len(footer) > FOOTER:
        body, footer = "\n\n".join(p for p in (body, footer) if p), shorten(footer, FOOTER)
    body = "\n".join(p for p in (body, *links) if p)
    return replace(card, body=body, footer=footer, buttons=[]), components


def _component(button: Button) -> dict[str, Any] | None:
    if isinstance(button, ActionButton):
        label = _label(button.label, button.command)
        return {"type": 2, "style": STYLES[button.style], "label": label, "custom_id": encode(button)}
    if not _linkable(button.url):
        return None
    return {"type": 2, "style": LINK_STYLE, "label": _label(button.label, button.url), "url": button.url}


def _linkable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and len(url) <= BUTTON_URL


def _label(label: str, fallback: str) -> str:
    """Discord needs a non-empty label of at most 80 characters."""
    return shorten(label if label.strip() else fallback, LABEL)


def _embed(piece: Card, colour: int) -> tuple[dict[str, Any], int]:
    """(embed, characters it counts against EMBED_TOTAL) for a piece that already fits."""
    embed: dict[str, Any] = {"color": colour}
    if piece.title.strip():
        embed["title"] = piece.title
        if piece.url:
            embed["url"] = piece.url
    if piece.body.strip():
        embed["description"] = piece.body
    if piece.fields:
        embed["fields"] = [_field(f) for f in piece.fields]
    if piece.footer.strip():
        embed["footer"] = {"text": piece.footer}
    if len(embed) == 1:  # a card with no text at all still shows (and carries its buttons)
        embed["description"] = ZWSP
    size = sum(len(embed.get(k, "")) for k in ("title", "description"))
    size += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    size += len(embed.get("footer", {}).get("text", ""))
    return embed, size


def _field(f: Field) -> dict[str, Any]:
    return {"name": f.name if f.name.strip() else ZWSP, "value": f.value if f.value.strip() else ZWSP, "inline": f.inline}
