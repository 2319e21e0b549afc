"""The terminal adapter: talk to the bot with no tokens, as any user, in any channel.

Lines starting with ``/`` go to the core exactly as a platform message would; lines
starting with ``:`` control the session (who you are, where you are, what time it is),
like errbot's text backend. Every output is an event dict, so ``--json`` and the test
harness read the same thing a person sees rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.app import App
from bot.clock import parse_duration
from bot.models import Actor, Place, Reply, Role
from bot.text import clean_input, defuse_mentions, quote_input

Event = dict[str, Any]

META_HELP = """Console controls:
  :as member|mod|admin|owner   act with that role
  :user NAME                   act as another user
  :in #channel                 move to a channel
  :dm                          talk in a direct message
  :tick DURATION               move the bot's clock forward (e.g. 2d, 1h30m)
  :whoami                      show who and where you are
  :quit                        leave the console"""


class ConsoleSession:
    def __init__(
        self,
        app: App,
        user: str = "you",
        role: Role = Role.MEMBER,
        channel: str = "general",
        workspace: str = "console",
        sink: Callable[[Event, Reply], None] | None = None,
    ) -> None:
        self.app = app
        self.actor = Actor(id=f"console:{user}", name=user, role=role)
        self.place = Place(platform="console", workspace_id=workspace, channel_id=channel, channel_name=channel)
        self.sink = sink
        self.closed = False

    async def feed(self, line: str) -> list[Event]:
        """Handles one typed line and returns (and emits) what the console shows for it."""
        text = clean_input(line)
        if not text:
            return []
        if text.startswith(":"):
            kind, reply = "meta", await self._meta(text)
        else:
            kind, reply = "reply", await self.app.handle(self.actor, self.place, text)
        event = self._event(kind, reply, text)
        if self.sink:
            self.sink(event, reply)
        return [event]

    def _event(self, kind: str, reply: Reply, line: str) -> Event:
        return {
            "type": kind,
            "input": defuse_mentions(line),
            "user": self.actor.name,
            "role": self.actor.role.label,
            "place": self.place.label,
            "reply": reply.to_dict(),
        }

    async def _meta(self, text: str) -> Reply:
        word, _, arg = text[1:].partition(" ")
        try:
            return await self._meta_reply(word.lower(), arg.strip())
        except ValueError as exc:
            return Reply.error(str(exc))

    async def _meta_reply(self, word: str, arg: str) -> Reply:
        if word == "as":
            role = Role.parse(arg)
            self.actor = replace(self.actor, role=role)
            return Reply(text=f"You are now {self.actor.name} ({role.label}).")
        if word == "user":
            name = arg.lstrip("@")
            if not name or len(name) > 40 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
                raise ValueError("usage: :user NAME (letters, digits, - _ . up to 40 characters)")
            self.actor = Actor(id=f"console:{name}", name=name, role=self.actor.role)
            return Reply(text=f"You are now {name} ({self.actor.role.label}).")
        if word == "in":
            channel = arg.lstrip("#")
            if not channel or len(channel) > 80 or any(ch.isspace() for ch in channel):
                raise ValueError("usage: :in #channel-name")
            self.place = replace(self.place, channel_id=channel, channel_name=channel, is_dm=False)
            return Reply(text=f"You are now in #{channel}.")
        if word == "dm":
            self.place = replace(self.place, channel_id=f"dm:{self.actor.name}", channel_name="", is_dm=True)
            return Reply(text="You are now in a direct message with the bot.")
        if word == "tick":
            delta = parse_duration(arg)
            now = await self.app.clock.advance(delta)
            return Reply(text=f"Clock moved forward {arg.strip()}; it is now {now:%Y-%m-%d %H:%M} UTC.")
        if word == "whoami":
            return Reply(text=f"{self.actor.name} ({self.actor.role.label}) in {self.place.label}, at {self.app.clock.now():%Y-%m-%d %H:%M} UTC.")
        if word in ("help", "?"):
            return Reply(text=META_HELP)
        if word in ("quit", "exit", "q"):
            self.closed = True
            return Reply(text="Bye.")
        raise ValueError(f"unknown console control :{quote_input(word, 20)[1:-1]}. " + "Type :help for the list.")
