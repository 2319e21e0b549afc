"""Action buttons to platform ids and back.

Discord's ``custom_id`` holds at most 100 characters and Slack's ``action_id`` 255, so a
button is encoded as ``cb1:`` + the command path with dots for spaces + ``?`` + its values
URL-encoded, and refused at construction when that would not fit. Nothing is stored: the
id alone says what to run, so a click after a restart still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode

if TYPE_CHECKING:
    from bot.models import ActionButton

PREFIX = "cb1:"
MAX_ID = 100  # Discord custom_id; Slack allows more


class ButtonError(ValueError):
    """A clicked id we did not make (or made by an older, incompatible version)."""


def encode(button: "ActionButton") -> str:
    path = ".".join(button.command.strip().lstrip("/").split())
    encoded = PREFIX + quote(path, safe=".-_") + ("?" + urlencode(button.values) if button.values else "")
    if len(encoded) > MAX_ID:
        raise ValueError(f"button {button.label!r} encodes to {len(encoded)} characters; platforms take {MAX_ID}")
    return encoded


def decode(custom_id: str) -> tuple[str, dict[str, str]]:
    """(command path, values) from an id made by ``encode``."""
    if not custom_id.startswith(PREFIX) or len(custom_id) > MAX_ID:
        raise ButtonError("that button is not one of careerbot's (or is from an older version)")
    body = custom_id[len(PREFIX):]
    path, _, query = body.partition("?")
    words = [w for w in path.split(".") if w]
    if not words:
        raise ButtonError("that button names no command")
    return " ".join(words), dict(parse_qsl(query, keep_blank_values=True))
