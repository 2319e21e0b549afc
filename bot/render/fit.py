"""Cutting replies to a platform's size without losing a word of them.

Every platform caps its messages differently, and a reply that is cut short (or whose
26th field silently vanishes) is worse than one that arrives in two parts: the reader
cannot tell anything is missing. So these helpers only ever *split*: text is cut at the
most natural boundary that fits, cards become several cards marked "(cont.)", and the only
thing ever dropped is whitespace at a cut. They know nothing about any one platform, so the
Discord renderer and the outbound queue size things the same way.
"""

from __future__ import annotations

from dataclasses import replace

from bot.models import Card, Field
from bot.text import shorten

CONT = " (cont.)"
# Cut boundaries, best first: a paragraph break, a line break, a word break.
_BOUNDARIES = ("\n\n", "\n", " ")


def split_text(text: str, limit: int) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at a blank line, else a newline, else a space.

    A text that fits comes back unchanged as ``[text]``; an empty or whitespace-only text
    gives ``[]``. When cutting, a boundary is taken in the second half of the window if one
    is there (a blank line before a newline before a space); failing that the latest
    boundary anywhere in the window, and only a window with no space or newline at all is
    hard-cut mid-word.

    What is preserved: the text is exactly the chunks joined by runs of whitespace —
    ``text == w0 + c0 + w1 + c1 + ... + cn + w(n+1)`` where every ``w`` is a possibly empty
    run of whitespace (``str.isspace``; empty where a word was hard-cut). Only whitespace at
    the cut points is dropped (the separator cut at, plus any whitespace touching it), so
    every non-whitespace character survives, in order, and no chunk is empty, blank, or
    starts or ends with whitespace at a cut.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if not text.strip():
        return []
    chunks: list[str] = []
    pos = 0
    while len(text) - pos > limit:
        cut, resume = _cut_point(text, pos, limit)
        chunk = text[pos:cut].rstrip()
        if chunk.strip():
            chunks.append(chunk)
        pos = _skip_space(text, resume)
    if text[pos:].strip():
        chunks.append(text[pos:])
    return chunks


def _cut_point(text: str, pos: int, limit: int) -> tuple[int, int]:
    """(end of the chunk starting at ``pos``, start of the rest) when more than ``limit`` is left."""
    end = pos + limit + 1  # a separator right after the limit still leaves a full chunk
    first = _skip_space(text, pos)  # cutting before this would leave only whitespace
    found: list[tuple[int, int]] = []
    for sep in _BOUNDARIES:
        at = text.rfind(sep, pos, end)
        if at > first:
            if at - pos >= limit // 2:
                return at, at + len(sep)
            found.append((at, at + len(sep)))
    if found:
        return max(found)
    return pos + limit, pos + limit


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def split_card(
    card: Card,
    *,
    body: int,
    fields: int,
    field_name: int,
    field_value: int,
    title: int,
    total: int | None = None,
) -> list[Card]:
    """One card as one or more cards that each fit the given limits; nothing is lost.

    The body is cut with ``split_text``; a field value longer than ``field_value`` becomes
    several fields, the later ones named "NAME (cont.)"; past ``fields`` fields the rest
    continue on the next card. Continuation cards are titled "TITLE (cont.)" (shortened to
    fit) and carry no url; the footer and buttons stay on the last card. A title longer than
    ``title`` is shortened with "…" and given in full at the start of the body; a field name
    longer than ``field_name`` likewise, at the start of its value.

    ``total``, when given, also caps each card's title + body + field names and values +
    footer (Discord's 6,000 characters per message): pieces then split by size as well as
    count. It must leave room for a title plus the footer or any one (already split) field,
    else ValueError.
    """
    shown, text = _fit_title(card.title, card.body, title)
    cont_title = _continued(card.title, title) if card.title else ""
    title_room = max(len(shown), len(cont_title))
    parts = _split_fields(card.fields, field_name, field_value)
    body_limit = body
    if total is not None:
        widest = max([len(card.footer), 1, *(_field_size(f) for f in parts)])
        if total < title_room + widest:
            raise ValueError(f"a total of {total} leaves no room for a title and the footer or a field ({widest})")
        body_limit = min(body, total - title_room)
    pieces = [Card(title=cont_title, body=chunk) for chunk in split_text(text, body_limit)] or [Card(title=cont_title)]
    pieces[0] = replace(pieces[0], title=shown, url=card.url)
    for part in parts:
        last = pieces[-1]
        if len(last.fields) >= fields or (total is not None and _size(last) + _field_size(part) > total):
            pieces.append(last := Card(title=cont_title))
        last.fields.append(part)
    if total is not None and card.footer and _size(pieces[-1]) + len(card.footer) > total:
        pieces.append(Card(title=cont_title))
    pieces[-1] = replace(pieces[-1], footer=card.footer, buttons=list(card.buttons))
    return pieces


def _fit_title(full: str, body: str, limit: int) -> tuple[str, str]:
    """(title to show, body to show): a title too long to show moves, whole, into the body."""
    if len(full) <= limit:
        return full, body
    return shorten(full, limit), full + ("\n\n" + body if body else "")


def _continued(name: str, limit: int) -> str:
    """``name`` + " (cont.)", shortened so the whole stays within ``limit``."""
    if len(name) + len(CONT) <= limit:
        return (name + CONT).strip()
    return shorten(name, max(1, limit - len(CONT))) + CONT


def _split_fields(fields: list[Field], name_limit: int, value_limit: int) -> list[Field]:
    out: list[Field] = []
    for f in fields:
        name, value = _fit_title(f.name, f.value, name_limit)
        chunks = split_text(value, value_limit) or [""]
        later = _continued(f.name, name_limit)
        out.extend(Field(name if i == 0 else later, chunk, f.inline) for i, chunk in enumerate(chunks))
    return out


def _field_size(f: Field) -> int:
    return len(f.name) + len(f.value)


def _size(card: Card) -> int:
    """Characters that count towards a platform's per-message total."""
    return len(card.title) + len(card.body) + len(card.footer) + sum(_field_size(f) for f in card.fields)
