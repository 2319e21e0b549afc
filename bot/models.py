"""Platform-neutral values that flow between adapters, the core and commands.

Adapters translate platform facts into these types and back; nothing here knows about
Discord or Slack, so a command written against them works on every surface at once.
"""

from __future__ import annotations

import base64
import re
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum
from typing import Any, ClassVar


class Role(IntEnum):
    """Ordered privilege levels: a command's ``min_role`` is compared with ``>=``."""

    MEMBER = 0
    MODERATOR = 1
    ADMIN = 2
    OWNER = 3

    @classmethod
    def parse(cls, text: str) -> "Role":
        """Accepts the names people actually type (``mod`` as well as ``moderator``)."""
        key = text.strip().lower()
        aliases = {"mod": "moderator", "mods": "moderator", "user": "member"}
        key = aliases.get(key, key)
        for role in cls:
            if role.name.lower() == key:
                return role
        raise ValueError(f"unknown role {text!r}; expected member, mod, admin or owner")

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Actor:
    """Who issued a command. ``id`` is platform-scoped (e.g. ``discord:1234``)."""

    id: str
    name: str
    role: Role = Role.MEMBER
    # Platform role ids/names the adapter saw on the member; matched against ``mod_roles``.
    role_ids: tuple[str, ...] = ()

    @property
    def local_id(self) -> str:
        """The id without its platform prefix, as moderators type it in ``mod_users``."""
        return self.id.split(":", 1)[-1]


@dataclass(frozen=True)
class Place:
    """Where a command was issued: a channel in a workspace/guild, or a DM."""

    platform: str
    workspace_id: str | None
    channel_id: str
    channel_name: str = ""
    is_dm: bool = False

    @property
    def label(self) -> str:
        if self.is_dm:
            return "a direct message"
        return f"#{self.channel_name or self.channel_id}"

    @property
    def workspace_key(self) -> str:
        """Settings and digests are scoped per platform workspace; ids alone could collide."""
        return f"{self.platform}:{self.workspace_id or 'dm'}"


@dataclass
class Field:
    name: str
    value: str
    inline: bool = False


@dataclass
class LinkButton:
    label: str
    url: str


BUTTON_STYLES = ("primary", "secondary", "danger")


@dataclass
class ActionButton:
    """A button that runs a command when clicked, as the person who clicks it.

    It carries a command path and text values, not a callback, so a click arriving hours
    later (or after a restart) goes through ``App.invoke`` like typed input: converted,
    role-checked and gated again. ``bot.buttons`` turns it into a platform id and back.
    """

    label: str
    command: str  # a command path, e.g. "digest preview"
    values: dict[str, str] = field(default_factory=dict)
    style: str = "secondary"

    def __post_init__(self) -> None:
        from bot.buttons import encode  # the id must fit every platform; fail at the command, not the render

        if self.style not in BUTTON_STYLES:
            raise ValueError(f"button style must be one of {BUTTON_STYLES}, not {self.style!r}")
        self.values = {str(k): str(v) for k, v in self.values.items()}
        encode(self)


Button = LinkButton | ActionButton


@dataclass(frozen=True)
class Ref:
    """Something on a platform that commands store by id (names change) and show by name."""

    id: str
    name: str = ""
    sigil: ClassVar[str] = "#"

    @property
    def label(self) -> str:
        return f"{self.sigil}{self.name or self.id}"


class ChannelRef(Ref):
    sigil = "#"


class UserRef(Ref):
    sigil = "@"


class RoleRef(Ref):
    sigil = "@"


@dataclass
class Card:
    """One rich block of a reply; each renderer maps it to an embed, a Block Kit section, or text."""

    title: str = ""
    body: str = ""
    url: str | None = None
    fields: list[Field] = field(default_factory=list)
    footer: str = ""
    buttons: list[Button] = field(default_factory=list)


MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024  # under Discord's smallest upload limit (10 MiB) and Slack's


@dataclass
class Attachment:
    """A file that goes with a reply (a chart): the console saves it, platforms upload it.

    Bytes, not a path: a reply may be stored in the outbox and sent hours later, and a
    renderer must not depend on a file still being there.
    """

    name: str  # a file name with its extension, e.g. "streak-ada.png"
    data: bytes
    content_type: str = "application/octet-stream"
    description: str = ""  # alt text where the platform shows one

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[\w.\-]{1,80}", self.name) or self.name.startswith("."):
            raise ValueError(f"attachment name {self.name!r} must be a plain file name")
        if len(self.data) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"attachment {self.name} is {len(self.data)} bytes; at most {MAX_ATTACHMENT_BYTES}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "content_type": self.content_type, "description": self.description,
                "data": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Attachment":
        return cls(data["name"], base64.b64decode(data["data"]), data.get("content_type", "application/octet-stream"), data.get("description", ""))


@dataclass
class Reply:
    """What a command returns. ``kind`` lets renderers style errors without parsing text.

    ``ephemeral`` asks platforms that support it (Discord, Slack) to show the reply only
    to the person who asked — used for errors and refusals so channels stay clean.

    ``attachments`` are files sent with the reply's first message (see Attachment).

    ``notices`` are private messages for the person who asked (moderator notices): adapters
    send each as its own ephemeral message after the reply, and renderers never put them
    into the reply itself, so a public answer cannot carry them.
    """

    text: str = ""
    cards: list[Card] = field(default_factory=list)
    kind: str = "info"  # info | error | refusal | nomatch | notice
    ephemeral: bool = False
    notices: list["Reply"] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    @classmethod
    def error(cls, text: str) -> "Reply":
        return cls(text=text, kind="error", ephemeral=True)

    @classmethod
    def refusal(cls, text: str) -> "Reply":
        return cls(text=text, kind="refusal", ephemeral=True)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, notices=[], attachments=[]))
        del data["notices"]
        data["attachments"] = [a.to_dict() for a in self.attachments]
        return data

    def messages(self) -> list["Reply"]:
        """The reply, then each notice: what an adapter sends, in order."""
        return [self, *self.notices]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Reply":
        """Rebuilds a stored reply (the outbound queue keeps replies as JSON)."""
        cards = [
            Card(
                title=c.get("title", ""),
                body=c.get("body", ""),
                url=c.get("url"),
                fields=[Field(f["name"], f["value"], f.get("inline", False)) for f in c.get("fields", [])],
                footer=c.get("footer", ""),
                buttons=[
                    ActionButton(b["label"], b["command"], b.get("values", {}), b.get("style", "secondary"))
                    if "command" in b
                    else LinkButton(b["label"], b["url"])
                    for b in c.get("buttons", [])
                ],
            )
            for c in data.get("cards", [])
        ]
        return cls(
            text=data.get("text", ""), cards=cards, kind=data.get("kind", "info"), ephemeral=data.get("ephemeral", False),
            attachments=[Attachment.from_dict(a) for a in data.get("attachments", [])],
        )

    def plain_text(self) -> str:
        """All visible text, in order: used for search-in-output and platform fallbacks."""
        parts = [self.text] if self.text else []
        for card in self.cards:
            parts.extend(p for p in (card.title, card.body) if p)
            parts.extend(f"{f.name}: {f.value}" for f in card.fields)
            if card.footer:
                parts.append(card.footer)
        return "\n".join(parts)
