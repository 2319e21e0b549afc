"""What a command may ask of the surface it runs on: names of commands, and who or what a reference means.

Each front end (console, Discord, Slack) gives the core one ``Frontend``. Commands never see
platform syntax: an ``Arg`` of kind ``channel`` receives a ``ChannelRef`` whatever the person
typed — ``#news`` on the console, ``<#123>`` from Discord, ``<#C123|news>`` from Slack — and
stores its id, because names change and ids do not. Text that names a command comes from
``cmd()``, so a reply says ``/careerbot advice`` on Slack and ``/advice`` elsewhere.

The base class is the console's front end: there a channel's id is its name. Platform front
ends override the ``find_*`` look-ups (a cache of the guild's channels, a Slack API call).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.models import ChannelRef, Place, Ref, RoleRef, UserRef
from bot.text import quote_input

# <#123> (Discord), <#C123|name> / <#C123> (Slack)
_CHANNEL_MENTION = re.compile(r"^<#([A-Za-z0-9]+)(?:\|([^>]*))?>$")
# <@123>, <@!123> (Discord nicknames), <@U123|name> / <@U123> (Slack)
_USER_MENTION = re.compile(r"^<@!?([A-Za-z0-9]+)(?:\|([^>]*))?>$")
# <@&123> (Discord roles), <!subteam^S123|@name> / <!subteam^S123> (Slack user groups)
_ROLE_MENTION = re.compile(r"^(?:<@&(\d+)>|<!subteam\^([A-Za-z0-9]+)(?:\|@?([^>]*))?>)$")
_NAME = re.compile(r"^[\w.\-]{1,80}$")
# Mention markup inside free text, shown as the readable name a person would see.
_INLINE = re.compile(r"<(#|@!?|@&|!subteam\^)([A-Za-z0-9]+)(?:\|@?([^>]*))?>")


R = TypeVar("R", bound=Ref)


class RefError(ValueError):
    """Text that does not name a channel, user or role we can find; the message says what to type."""


def looks_like_channel(token: str) -> bool:
    token = token.strip()
    return bool(_CHANNEL_MENTION.match(token)) or (token.startswith("#") and bool(_NAME.match(token[1:])))


def looks_like_user(token: str) -> bool:
    token = token.strip()
    return bool(_USER_MENTION.match(token)) or (token.startswith("@") and bool(_NAME.match(token[1:])))


def looks_like_role(token: str) -> bool:
    token = token.strip()
    return bool(_ROLE_MENTION.match(token)) or (token.startswith("@") and bool(_NAME.match(token[1:])))


class Frontend:
    """The console's front end, and the base every platform's front end refines."""

    platform = "console"
    # Text front ends accept a group's default subcommand without its name (``/advice QUESTION``);
    # Discord's command tree cannot, so there every command is named in full.
    short_forms = True

    def __init__(self, prefix: str = "/") -> None:
        self.prefix = prefix

    # -- command names -------------------------------------------------------------------------
    def cmd(self, path: str) -> str:
        """How a person types a command here: ``advice topics`` → ``/advice topics``."""
        return f"{self.prefix}{path.strip().lstrip('/')}"

    # -- references ------------------------------------------------------------------------------
    async def channel(self, place: Place, text: str) -> ChannelRef:
        m = _CHANNEL_MENTION.match(text.strip())
        if m:
            return ChannelRef(m.group(1), m.group(2) or await self.channel_name(place, m.group(1)))
        return await self._by_name(place, text, "#", "channel", "#news", self.find_channel)

    async def user(self, place: Place, text: str) -> UserRef:
        m = _USER_MENTION.match(text.strip())
        if m:
            return UserRef(m.group(1), m.group(2) or "")
        return await self._by_name(place, text, "@", "user", "@ada", self.find_user)

    async def role(self, place: Place, text: str) -> RoleRef:
        m = _ROLE_MENTION.match(text.strip())
        if m:
            return RoleRef(m.group(1) or m.group(2), m.group(3) or "")
        return await self._by_name(place, text, "@", "role", "@mentors", self.find_role)

    @staticmethod
    async def _by_name(
        place: Place, text: str, sigil: str, what: str, example: str, find: Callable[[Place, str], Awaitable[R | None]]
    ) -> R:
        token = text.strip()
        name = token[1:] if token.startswith(sigil) else token
        if not _NAME.match(name):
            raise RefError(f"{quote_input(text, 40)} is not a {what}; mention it like {example}")
        found = await find(place, name)
        if found is None:
            raise RefError(f"I can't find a {what} called {sigil}{name} here")
        return found

    # -- what a platform front end overrides --------------------------------------------------------
    async def find_channel(self, place: Place, name: str) -> ChannelRef | None:
        """A channel by the name a person typed. On the console, a channel's name is its id."""
        return ChannelRef(name, name)

    async def find_user(self, place: Place, name: str) -> UserRef | None:
        return UserRef(name, name)

    async def find_role(self, place: Place, name: str) -> RoleRef | None:
        return RoleRef(name, name)

    async def channel_name(self, place: Place, channel_id: str) -> str:
        """The display name for a channel id, if known without waiting on the network."""
        return channel_id if self.platform == "console" else ""

    async def can_post(self, place: Place, channel_id: str) -> bool | None:
        """Whether the bot may post in a channel: True, False, or None when it cannot tell."""
        return True

    def readable(self, text: str) -> str:
        """Free text with mention markup shown as names (``<@U1|ilya>`` → ``@ilya``)."""

        def show(m: re.Match[str]) -> str:
            sigil = "#" if m.group(1) == "#" else "@"
            return f"{sigil}{m.group(3) or m.group(2)}"

        return _INLINE.sub(show, text)
