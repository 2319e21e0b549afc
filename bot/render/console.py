"""Reply -> terminal text. Colour only when writing to a real terminal."""

from __future__ import annotations

import re
import textwrap

from bot.models import ActionButton, Reply

_STYLES = {"bold": "1", "dim": "2", "red": "31", "yellow": "33", "cyan": "36"}
WIDTH = 88


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_ITALIC = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?!\*)")


def _markdown(text: str, color: bool) -> str:
    """Bodies are written in Markdown; a terminal shows bold as bold (or plain when piped)."""
    text = _BOLD.sub(lambda m: _style(m.group(1), "bold", color), text)
    text = _ITALIC.sub(lambda m: m.group(1), text)
    return _CODE.sub(lambda m: _style(m.group(1), "cyan", color), text)


def _style(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color and text else text


def _wrap(text: str, indent: str = "") -> str:
    out = []
    for line in text.splitlines() or [""]:
        if not line.strip():
            out.append("")
            continue
        lead = line[: len(line) - len(line.lstrip())]
        bullet = "  " if line.lstrip()[:2] in ("- ", "• ", "* ") or line.lstrip()[:3].rstrip(".").isdigit() else ""
        out.append(
            textwrap.fill(
                line.strip(),
                width=WIDTH,
                initial_indent=indent + lead,
                subsequent_indent=indent + lead + bullet,
                break_long_words=True,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)


def render(reply: Reply, color: bool = False, prefix: str = "/") -> str:
    """Action buttons are numbered across the reply, as ``:click N`` counts them."""
    parts: list[str] = []
    pressed = 0
    if reply.text:
        style = {"error": "red", "refusal": "yellow"}.get(reply.kind)
        parts.append(_style(_wrap(reply.text), style, color) if style else _wrap(reply.text))
    for card in reply.cards:
        block: list[str] = []
        if card.title:
            block.append(_style(card.title, "bold", color))
        if card.url:
            block.append(_style(card.url, "cyan", color))
        if card.body:
            block.append(_wrap(_markdown(card.body, color)))
        for f in card.fields:
            block.append(_style(f.name, "bold", color))
            block.append(_wrap(f.value, "  "))
        for b in card.buttons:
            if isinstance(b, ActionButton):
                pressed += 1
                values = " ".join(b.values.values())
                block.append(f"[{pressed}: {b.label} → {prefix}{b.command}{' ' + values if values else ''}]")
            else:
                block.append(f"[{b.label}] {_style(b.url, 'cyan', color)}")
        if card.footer:
            block.append(_style(_wrap(card.footer), "dim", color))
        if block:
            parts.append("\n".join(block))
    return "\n\n".join(parts)
