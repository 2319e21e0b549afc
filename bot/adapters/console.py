"""The terminal adapter: talk to the bot with no tokens, as any user, in any channel.

Lines starting with ``/`` go to the core exactly as a platform message would; lines
starting with ``:`` control the session (who you are, where you are, what time it is),
like errbot's text backend. Every output is an event dict, so ``--json`` and the test
harness read the same thing a person sees rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.app import App
from bot.buttons import encode
from bot.clock import parse_duration
from bot.delivery import Limits, PostKey, Sent, Target
from bot.models import ActionButton, Actor, Place, Reply, Role
from bot.text import clean_input, defuse_mentions, quote_input

Event = dict[str, Any]

META_HELP = """Console controls:
  :as member|mod|admin|owner   act with that role
  :user NAME                   act as another user
  :in #channel                 move to a channel
  :dm                          talk in a direct message
  :tick DURATION               move the bot's clock forward (e.g. 2d, 1h30m);
                               scheduled posts due meanwhile are shown
  :click N                     press button N of the last reply
  :whoami                      show who and where you are
  # text                       a comment (for scenario files piped into the console)
  :quit                        leave the console"""


PostListener = Callable[[Target, Reply, str], None]


class ConsoleTransport:
    """The console's "platform": a post is shown to every open console session.

    It never fails and has no rate limit, so the whole scheduled path (job → queue →
    delivery log) can be tried with no tokens.
    """

    platform = "console"
    limits = Limits(max_chars=4000, max_cards=10)

    def __init__(self) -> None:
        self.listeners: list[PostListener] = []
        self.edit_listeners: list[Callable[[str, str, Reply], None]] = []
        self.sent = 0

    async def send(self, target: Target, reply: Reply, key: str) -> Sent:
        self.sent += 1
        for listener in list(self.listeners):
            listener(target, reply, key)
        return Sent(f"console-{self.sent}", f"dm:{target.channel}" if target.is_user else target.channel)

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        """A sent post changed (e.g. a posting closed): shown as an edit of that message."""
        for listener in list(self.edit_listeners):
            listener(channel, message_id, reply)


def console_transport(app: App) -> ConsoleTransport:
    transport = app.state.get("console.transport")
    if transport is None:
        transport = ConsoleTransport()
        app.outbox.add_transport(transport, concurrency=1)
        app.state["console.transport"] = transport
    return transport


class ConsoleSession:
    def __init__(
        self,
        app: App,
        user: str = "you",
        role: Role = Role.MEMBER,
        channel: str = "general",
        workspace: str = "console",
        sink: Callable[[Event, Reply], None] | None = None,
        files_dir: Path | None = None,
    ) -> None:
        self.app = app
        self.actor = Actor(id=f"console:{user}", name=user, role=role)
        self.place = Place(platform="console", workspace_id=workspace, channel_id=channel, channel_name=channel)
        self.sink = sink
        self.files_dir = files_dir  # where attachments (charts, exports) are written; None: not saved
        self.closed = False
        self._posts: list[Event] = []
        self._buttons: list[ActionButton] = []  # of the last reply, numbered from 1 as shown
        console_transport(app).listeners.append(self._on_post)
        console_transport(app).edit_listeners.append(self._on_edit)

    def _on_post(self, target: Target, reply: Reply, key: str) -> None:
        parsed = PostKey.parse(key)
        event: Event = {
            "type": "post",
            "target": {"platform": target.platform, "workspace": target.workspace, "channel": target.channel}
            | ({"user": target.channel} if target.is_user else {}),
            "kind": parsed.kind,
            "period": parsed.period,
            "part": parsed.part,
            "key": key,
            "reply": reply.to_dict(),
        }
        self._save(event, reply)
        self._posts.append(event)
        if self.sink:
            self.sink(event, reply)

    def _on_edit(self, channel: str, message_id: str, reply: Reply) -> None:
        event: Event = {"type": "edit", "channel": channel, "message_id": message_id, "reply": reply.to_dict()}
        self._posts.append(event)
        if self.sink:
            self.sink(event, reply)

    def take_posts(self) -> list[Event]:
        """Posts delivered since the last call (also between lines, from the background loops)."""
        posts, self._posts = self._posts, []
        return posts

    async def feed(self, line: str) -> list[Event]:
        """Handles one typed line and returns (and emits) what the console shows for it."""
        text = clean_input(line)
        if not text or text.startswith("# "):
            return []  # blank lines and "# comments" (scenario files replayed with --now) show nothing
        if text.startswith(":click"):
            kind, reply = "reply", await self._click(text[6:].strip())
        elif text.startswith(":"):
            kind, reply = "meta", await self._meta(text)
        else:
            kind, reply = "reply", await self.app.handle(self.actor, self.place, text)
        if kind == "reply":
            self._buttons = [b for card in reply.cards for b in card.buttons if isinstance(b, ActionButton)]
        events = [self._event(kind, reply, text)]
        # Moderator notices are private messages of their own, never part of the reply.
        events += [self._event("notice", notice, text) for notice in reply.notices]
        self._save(events[0], reply)
        for event, shown in zip(events, reply.messages()):
            if self.sink:
                self.sink(event, shown)
        return [*self.take_posts(), *events]

    def _save(self, event: Event, reply: Reply) -> None:
        """Writes a reply's files where a person can open them; the event lists the paths.

        The console has no picture viewer: a file in a folder, with its path printed, is what
        lets someone look at a chart the way Discord or Slack would show it.
        """
        if not reply.attachments:
            return
        event["reply"] = {**event["reply"], "attachments": [
            {"name": a.name, "content_type": a.content_type, "bytes": len(a.data)} for a in reply.attachments
        ]}
        if self.files_dir is None:
            return
        self.files_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for a in reply.attachments:
            path = self.files_dir / a.name
            stem, n = path.stem, 1
            while path.exists():
                n += 1
                path = self.files_dir / f"{stem}-{n}{path.suffix}"
            path.write_bytes(a.data)
            paths.append(str(path))
        event["files"] = paths

    async def _click(self, arg: str) -> Reply:
        if not self._buttons:
            return Reply.error("The last reply has no buttons to press.")
        if not arg.isdigit() or not 1 <= int(arg) <= len(self._buttons):
            return Reply.error(f"usage: :click N, with N from 1 to {len(self._buttons)}")
        button = self._buttons[int(arg) - 1]
        return await self.app.click(self.actor, self.place, encode(button))

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
