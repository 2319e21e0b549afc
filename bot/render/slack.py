"""Reply → Slack messages (Block Kit plus the ``text`` fallback), within Slack's limits, never dropping text.

Limits (Slack's Block Kit reference): 50 blocks a message, 3,000 characters of section
text, 150 of header text, 10 fields of 2,000 in a section, 10 context elements, 25
elements in an actions block, 75 characters of button text, ``action_id`` 255. A reply that
does not fit becomes several messages, split by ``bot.render.fit``.

Everything we show went through ``escape`` first: Slack reads ``<…>`` as mentions and links
(``<!channel>``, ``<@U1>``, ``<http://evil|bank>``) and ``&`` as the start of an entity, so
text from a user or a feed is escaped, then our Markdown (``**bold**``, ``[label](url)``)
is turned into mrkdwn. What we mean as a link is only ever made by us.

Files (``Reply.attachments``) are not part of a message on Slack: they are uploaded and
shared after it (``files_upload_v2``). ``file_uploads`` says what each upload carries — the
file name as its title and the alt text, never an ``initial_comment``, so an upload cannot
mention anyone — and the ``*_line`` functions word what the person is told about them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.buttons import encode
from bot.models import ActionButton, Attachment, Card, Field, LinkButton, Reply
from bot.render.fit import split_card, split_text
from bot.text import shorten

BLOCKS = 50
SECTION = 3000
HEADER = 150
FIELDS, FIELD = 10, 2000
CONTEXT = 2000
ACTIONS = 25
BUTTON_TEXT = 75
FALLBACK = 3000  # notifications show the start; the blocks carry the rest
ALT_TEXT = 1000  # files.getUploadURLExternal answers alt_txt_too_large beyond this

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?!\*)")
_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s)]{1,2000})\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)


def escape(text: str) -> str:
    """Slack's three control characters, so text is shown literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Our Markdown, escaped, as Slack mrkdwn (bold, italics, links we wrote, headings)."""
    text = escape(text)
    # A Markdown link keeps its address in sight ("label (<url>)"), so no text, ours or a
    # feed's, can show one address and open another.
    text = _LINK.sub(lambda m: f"{m.group(1)} (<{m.group(2)}>)", text)
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    text = _BOLD.sub(lambda m: f"*{m.group(1)}*", text)
    return _HEADING.sub(lambda m: f"*{m.group(1)}*", text)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _text_blocks(text: str, limit: int = SECTION) -> list[dict[str, Any]]:
    # Split before converting, then check: escaping can lengthen a chunk (& → &amp;).
    out = []
    for chunk in split_text(text, limit // 2):
        out.extend(_section(piece) for piece in split_text(mrkdwn(chunk), limit))
    return out


def _button(b: LinkButton | ActionButton, n: int) -> dict[str, Any]:
    label = shorten(b.label.strip() or "Open", BUTTON_TEXT)
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": label, "emoji": True}}
    if isinstance(b, ActionButton):
        button["action_id"] = encode(b)
        button["value"] = b.command[:2000]
        if b.style in ("primary", "danger"):
            button["style"] = b.style
    else:
        button["url"] = b.url[:3000]  # a button's address is shown by Slack on hover, not disguisable text
        button["action_id"] = f"link:{n}"  # Slack still sends the click; the adapter only acknowledges it
    return button


def _card_blocks(card: Card) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if card.title:
        if len(card.title) <= HEADER and not card.url:
            blocks.append({"type": "header", "text": {"type": "plain_text", "text": card.title, "emoji": True}})
        else:
            label = escape(card.title)
            shown = f"<{escape(card.url)}|{label.replace('|', '¦')}>" if card.url else label
            blocks.extend(_section(f"*{piece}*") for piece in split_text(shown, SECTION - 2))
    if card.body:
        blocks.extend(_text_blocks(card.body))
    for start in range(0, len(card.fields), FIELDS):
        chunk = card.fields[start : start + FIELDS]
        blocks.append({
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _field_text(f)} for f in chunk],
        })
    for piece in split_text(mrkdwn(card.footer), CONTEXT) if card.footer else []:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": piece}]})
    for start in range(0, len(card.buttons), ACTIONS):
        elements = [_button(b, start + n) for n, b in enumerate(card.buttons[start : start + ACTIONS])]
        blocks.append({"type": "actions", "elements": elements})
    return blocks


def _field_text(f: Field) -> str:
    return shorten(f"*{escape(f.name)}*\n{mrkdwn(f.value)}", FIELD)


def render_messages(reply: Reply) -> list[dict[str, Any]]:
    """One or more ``{"text", "blocks"}`` payloads for ``chat.postMessage`` or ``respond()``."""
    blocks: list[dict[str, Any]] = _text_blocks(reply.text) if reply.text else []
    for i, card in enumerate(reply.cards):
        if i:
            blocks.append({"type": "divider"})
        # Fields are split to Slack's 2,000 per field first, so _field_text never has to cut.
        for piece in split_card(card, body=100_000, fields=10_000, field_name=200, field_value=1500, title=1000):
            blocks.extend(_card_blocks(piece))
    if not blocks:
        blocks = [_section("\u200b")]
    messages = []
    for start in range(0, len(blocks), BLOCKS):
        part = blocks[start : start + BLOCKS]
        while part and part[0]["type"] == "divider":
            part = part[1:]
        if part:
            messages.append({"text": _fallback(reply, part, first=not messages), "blocks": part})
    return messages


def _fallback(reply: Reply, blocks: list[dict[str, Any]], first: bool) -> str:
    """The notification and screen-reader text: plain, escaped, and never empty."""
    if first and reply.text:
        return shorten(escape(reply.text), FALLBACK)
    for block in blocks:
        text = (block.get("text") or {}).get("text")
        if text and text != "\u200b":
            return shorten(text, FALLBACK)
    return "careerbot"


# -- files -------------------------------------------------------------------------------------
def file_uploads(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """``file_uploads`` items for ``AsyncWebClient.files_upload_v2``.

    The title is the file name (a plain name, by ``Attachment``'s own check): a title is
    shown as text next to the file, and text we did not write could mention someone.
    """
    items: list[dict[str, Any]] = []
    for attachment in attachments:
        item: dict[str, Any] = {"file": attachment.data, "filename": attachment.name, "title": attachment.name}
        if attachment.description.strip():
            item["alt_txt"] = shorten(attachment.description.strip(), ALT_TEXT)
        items.append(item)
    return items


def file_names(attachments: Sequence[Attachment]) -> str:
    """``a.png``, or ``a.png`` and ``b.png``: as code, so ``_`` in a name is not read as italics."""
    names = [f"`{a.name}`" for a in attachments]
    if len(names) <= 1:
        return names[0] if names else "the files"
    return ", ".join(names[:-1]) + " and " + names[-1]


def sent_by_dm_line(attachments: Sequence[Attachment]) -> str:
    """Added to a private reply whose files went to the person's DM (Slack has no private files)."""
    return f"I sent {file_names(attachments)} to you in a direct message."


def not_sent_by_dm_line(attachments: Sequence[Attachment], reason: str) -> str:
    return f"I could not send you {file_names(attachments)} in a direct message: {reason}."


def not_attached_line(attachments: Sequence[Attachment], reason: str) -> str:
    """What people are told when the text arrived but its files did not."""
    return f"I could not attach {file_names(attachments)}: {reason}."
