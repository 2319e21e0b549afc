"""Text hygiene shared by every surface.

User- and feed-supplied text must never ping ``@everyone``/``@here``/roles or Slack's
``<!channel>``, and must not smuggle terminal control sequences. Doing it once in the core,
on every outgoing reply, means a new command cannot forget it.
"""

from __future__ import annotations

import re
import unicodedata

ZWSP = "\u200b"

_MASS_MENTION = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
_DISCORD_ROLE = re.compile(r"<@&(\d+)>")
_SLACK_SPECIAL = re.compile(r"<!(channel|here|everyone|subteam\^[A-Z0-9]+)(\|[^>]*)?>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def defuse_mentions(text: str) -> str:
    """Breaks mass and role mentions with a zero-width space, leaving them readable."""
    text = _MASS_MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)
    text = _DISCORD_ROLE.sub(lambda m: "<@" + ZWSP + "&" + m.group(1) + ">", text)
    text = _SLACK_SPECIAL.sub(lambda m: "<" + ZWSP + "!" + m.group(1) + ">", text)
    return text


def strip_control(text: str) -> str:
    """Removes control characters (keeping newlines and tabs) and bidi overrides."""
    text = unicodedata.normalize("NFC", text)
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_input(text: str) -> str:
    return strip_control(text).strip()


def shorten(text: str, limit: int, marker: str = "…") -> str:
    """Cuts at a word boundary when one is near, and says visibly that it cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(marker))]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + marker


def quote_input(text: str, limit: int = 40) -> str:
    """Echoes a piece of user input back safely inside an error message."""
    one_line = " ".join(strip_control(text).split())
    return "'" + defuse_mentions(shorten(one_line, limit)) + "'"
