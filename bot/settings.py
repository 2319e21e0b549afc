"""Moderator settings: registered keys with defaults and validation, resolved channel → workspace → default.

Keys are declared in code (like Red-DiscordBot's registered defaults) so a value is checked
once, on the way in, with a message saying what is accepted; nothing downstream has to
cope with a malformed timezone. Values live in relational rows (one per scope and key, one
per list item) and every change writes an audit row, so ``/config undo`` and
``/config history`` are queries rather than guesses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.models import Actor, Place, Role
from bot.storage import settings_repo
from bot.storage.db import Database
from bot.storage.settings_repo import AuditRow, Change
from bot.text import quote_input

Value = Any  # str | bool | list[str], always in canonical form
ChangeListener = Callable[[str, str, str], Awaitable[None]]  # (workspace, channel, key)


class SettingError(ValueError):
    """A value, key or scope a moderator typed that we will not store; the text says what is accepted."""


# -- value types ---------------------------------------------------------------------------
class SettingType:
    """Parses moderator text into a canonical value and back; ``parse(format(v)) == v``."""

    accepted = "text"

    def parse(self, text: str) -> Value:
        raise NotImplementedError

    def format(self, value: Value) -> str:
        return str(value)

    def from_document(self, value: Any) -> Value:
        """What ``/config import`` accepts for this type (JSON values, not only text)."""
        if isinstance(value, (dict, list)) or value is None:
            raise SettingError(f"expected {self.accepted}")
        if isinstance(value, bool):
            value = "on" if value else "off"
        return self.parse(str(value))

    def to_document(self, value: Value) -> Any:
        return self.format(value)


@dataclass(frozen=True)
class Text(SettingType):
    max_len: int = 200
    accepted: str = "text up to 200 characters"

    def parse(self, text: str) -> str:
        text = " ".join(text.split())
        if not text:
            raise SettingError(f"expected {self.accepted}; reset the setting to clear it")
        if len(text) > self.max_len:
            raise SettingError(f"that is {len(text)} characters; at most {self.max_len} are allowed")
        return text


@dataclass(frozen=True)
class Choice(SettingType):
    options: tuple[str, ...] = ()

    @property
    def accepted(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.options)

    def parse(self, text: str) -> str:
        word = text.strip().lower()
        if word not in self.options:
            raise SettingError(f"{quote_input(text)} is not accepted; expected {self.accepted}")
        return word


@dataclass(frozen=True)
class Bool(SettingType):
    accepted: str = "on or off"

    def parse(self, text: str) -> bool:
        word = text.strip().lower()
        if word in ("on", "yes", "true", "1", "enabled"):
            return True
        if word in ("off", "no", "false", "0", "disabled"):
            return False
        raise SettingError(f"{quote_input(text)} is not accepted; expected on or off")

    def format(self, value: Value) -> str:
        return "on" if value else "off"

    def to_document(self, value: Value) -> Any:
        return bool(value)


_ZONE_ALIASES = {"utc": "UTC", "gmt": "UTC", "z": "UTC"}


@dataclass(frozen=True)
class Timezone(SettingType):
    accepted: str = "an IANA timezone name such as UTC, Europe/Berlin or America/New_York"

    def parse(self, text: str) -> str:
        name = text.strip()
        name = _ZONE_ALIASES.get(name.lower(), name)
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", name) or ".." in name or name.startswith("/"):
            raise SettingError(f"{quote_input(text)} is not a timezone; expected {self.accepted}")
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            canonical = {z.lower(): z for z in _zones()}
            if name.lower() in canonical:
                return canonical[name.lower()]
            raise SettingError(f"{quote_input(text)} is not a timezone; expected {self.accepted}") from None
        return name


def _zones() -> set[str]:
    try:
        return available_timezones()
    except Exception:  # pragma: no cover - no tz database at all
        return {"UTC"}


_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


def parse_time_of_day(text: str) -> time:
    """``09:00``, ``9:30``, ``9am``, ``5:15pm``; raises SettingError naming the accepted forms."""
    m = _TIME.match(text.strip())
    bad = SettingError(f"{quote_input(text, 20)} is not a time of day; use 24-hour HH:MM such as 09:00 or 17:30, or 9am")
    if not m:
        raise bad
    hour, minute, half = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower()
    if not half and m.group(2) is None:
        raise bad  # a bare number like "9" is ambiguous enough to ask
    if half:
        if not 1 <= hour <= 12:
            raise bad
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise bad
    return time(hour, minute)


@dataclass(frozen=True)
class TimeOfDay(SettingType):
    accepted: str = "a time of day as HH:MM (24-hour), e.g. 09:00"

    def parse(self, text: str) -> str:
        return parse_time_of_day(text).strftime("%H:%M")


_CHANNEL_REF = re.compile(r"^(?:<#([A-Z0-9]+)(?:\|[^>]*)?>|#?([\w\-]{1,80}))$", re.IGNORECASE)


def parse_channel_ref(text: str) -> str:
    """A channel id from ``<#123>``, ``<#C123|name>`` or an id typed as ``#id``.

    Names are resolved to ids by the front end before a value gets here (``/config set``);
    this accepts what is left: mention markup and ids, as exports and imports carry them.
    """
    m = _CHANNEL_REF.match(text.strip())
    if not m:
        raise SettingError(f"{quote_input(text)} is not a channel; mention it like #mod-log")
    return m.group(1) or m.group(2)


@dataclass(frozen=True)
class ChannelSetting(SettingType):
    """A channel, stored by id."""

    accepted: str = "a channel such as #mod-log"
    ref: str = "channel"

    def parse(self, text: str) -> str:
        return parse_channel_ref(text)

    def format(self, value: Value) -> str:
        return f"#{value}"


_ITEM = re.compile(r"^[\w.\-]{1,64}$")
# <@123>, <@!123>, <@&123> (Discord), <@U123|name> and <!subteam^S123|@name> (Slack): the id.
_MENTION = re.compile(r"^(?:<@[!&]?(\w+)(?:\|[^>]*)?>|<!subteam\^(\w+)(?:\|[^>]*)?>)$")


@dataclass(frozen=True)
class ItemList(SettingType):
    """A list of short tokens (ids, names). ``none`` is the empty list."""

    item_help: str = "names"
    max_items: int = 50
    choices: Callable[[], Sequence[str]] | None = None
    allow_all: bool = False
    ref: str | None = None  # "user" or "role": items are ids the front end resolves from mentions

    @property
    def accepted(self) -> str:  # type: ignore[override]
        if self.choices:
            options = ", ".join(self.choices())
            extra = "all, " if self.allow_all else ""
            return f"{extra}none, or a comma-separated list of: {options}"
        return f"none, or a comma-separated list of {self.item_help}"

    def parse(self, text: str) -> list[str]:
        return self._items([t for t in re.split(r"[,\s]+", text.strip()) if t])

    def _items(self, tokens: Sequence[str]) -> list[str]:
        lowered = [t.lower() for t in tokens]
        if lowered == ["none"]:
            return []
        if self.allow_all and lowered == ["all"]:
            return ["all"]
        if not tokens:
            raise SettingError(f"expected {self.accepted}")
        if len(tokens) > self.max_items:
            raise SettingError(f"at most {self.max_items} items are allowed, not {len(tokens)}")
        out: list[str] = []
        for token in tokens:
            m = _MENTION.match(token)
            item = (m.group(1) or m.group(2)) if m else token.lstrip("@")
            if not _ITEM.match(item):
                raise SettingError(f"{quote_input(token)} is not accepted; expected {self.accepted}")
            if self.choices:
                options = {c.lower(): c for c in self.choices()}
                if item.lower() not in options:
                    raise SettingError(f"{quote_input(token)} is not accepted; expected {self.accepted}")
                item = options[item.lower()]
            if item not in out:
                out.append(item)
        return out

    def format(self, value: Value) -> str:
        return ", ".join(value) if value else "none"

    def from_document(self, value: Any) -> Value:
        if isinstance(value, list):
            if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
                raise SettingError(f"expected a list of {self.item_help}")
            return self._items([str(v) for v in value]) if value else []
        return super().from_document(value)

    def to_document(self, value: Value) -> Any:
        return list(value)


# -- keys ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    name: str
    help: str
    type: SettingType
    default: Value
    channel_ok: bool = True  # False: workspace-wide only
    write_role: Role = Role.MODERATOR

    def show(self, value: Value) -> str:
        if value == "" or value is None:
            return "(not set)"
        return self.type.format(value)


@dataclass
class Effective:
    key: Key
    value: Value
    origin: str  # "channel", "server" or "default"


FORMAT_DATE = {"iso": "%Y-%m-%d", "dmy": "%d %b %Y", "mdy": "%b %d, %Y"}


def format_when(moment: datetime, date_style: str = "iso", clock: str = "24h", with_date: bool = True) -> str:
    """Locale-neutral date/time text in the style a community chose (no locale database needed)."""
    t = moment.strftime("%H:%M") if clock == "24h" else moment.strftime("%I:%M %p").lstrip("0")
    if not with_date:
        return t
    return f"{moment.strftime(FORMAT_DATE.get(date_style, FORMAT_DATE['iso']))} {t}"


@dataclass
class SettingsService:
    """The one place settings are read and written; commands and features go through it."""

    db: Database
    keys: dict[str, Key] = field(default_factory=dict)
    always_on: set[str] = field(default_factory=lambda: {"help", "config"})
    feature_names: list[str] = field(default_factory=list)
    listeners: list[ChangeListener] = field(default_factory=list)
    # The user scope: keys a person sets for themselves (/me set). Where the same name is a
    # community key (timezone, date_format), the person's value wins and the community's is
    # the fallback: user → channel → server → default.
    user_keys: dict[str, Key] = field(default_factory=dict)
    user_listeners: list[Callable[[str, str], Awaitable[None]]] = field(default_factory=list)  # (user id, key)
    _cache: dict[str, dict[tuple[str, str], Value]] = field(default_factory=dict, repr=False)

    def define(self, key: Key) -> None:
        if key.name in self.keys:
            raise ValueError(f"setting {key.name} is defined twice")
        self.keys[key.name] = key

    def define_user(self, key: Key) -> None:
        if key.name in self.user_keys:
            raise ValueError(f"personal setting {key.name} is defined twice")
        self.user_keys[key.name] = key

    def user_key(self, name: str) -> Key:
        found = self.user_keys.get(name.strip().lower().replace("-", "_"))
        if found is None:
            raise SettingError(f"there is no personal setting {quote_input(name, 30)}. Personal settings: {', '.join(self.user_keys)}")
        return found

    # -- the user scope ----------------------------------------------------------------------
    async def personal(self, user_id: str) -> dict[str, Value]:
        """A person's own values (only what they set), decoded."""
        from bot.storage import studygroups_repo

        stored = await studygroups_repo.user_settings(self.db, user_id)
        return {k: self.user_keys[k].type.parse(v) for k, v in stored.items() if k in self.user_keys}

    async def for_user(self, user_id: str, place: Place | None, name: str) -> Value:
        """user → channel → server → default, for keys both scopes have; user → default otherwise."""
        mine = await self.personal(user_id)
        if name in mine:
            return mine[name]
        if name in self.keys and place is not None:
            return await self.get(place, name)
        return self.user_keys[name].default

    async def user_zone(self, user_id: str, place: Place | None) -> ZoneInfo:
        return ZoneInfo(await self.for_user(user_id, place, "timezone"))

    async def set_user(self, user_id: str, name: str, text: str | None, now: datetime) -> tuple[Key, Value | None]:
        """Stores (or, with ``text=None``, clears) a personal value; returns the key and the new value."""
        from bot.storage import studygroups_repo

        key = self.user_key(name)
        value = None
        if text is not None:
            try:
                value = key.type.parse(text)
            except SettingError as exc:
                raise SettingError(f"{key.name}: {exc}") from None
        async with self.db.transaction() as conn:
            encoded = None if value is None else key.type.format(value)
            await studygroups_repo.set_user_setting(conn, user_id, key.name, encoded, now.isoformat())
        for listener in self.user_listeners:
            await listener(user_id, key.name)
        return key, value

    def on_change(self, listener: ChangeListener) -> None:
        self.listeners.append(listener)

    def key(self, name: str) -> Key:
        found = self.keys.get(name.strip().lower().replace("-", "_"))
        if found is None:
            import difflib

            guess = difflib.get_close_matches(name.lower(), list(self.keys), n=1)
            hint = f" Did you mean {guess[0]}?" if guess else ""
            raise SettingError(f"there is no setting {quote_input(name, 30)}.{hint} Settings: {', '.join(self.keys)}")
        return found

    # -- reading ---------------------------------------------------------------------------
    async def _values(self, workspace: str) -> dict[tuple[str, str], Value]:
        """Every stored value of a workspace, decoded: read once, then served from memory.

        Every command reads settings (elevation, the feature gate, timezones), so this is
        the difference between no round trip and several. ``_write`` is the only writer and
        drops the workspace's entry; a second process writing the same database would need
        its own invalidation (see the scale-out issue).
        """
        cached = self._cache.get(workspace)
        if cached is None:
            rows = await settings_repo.workspace_values(self.db, workspace)
            cached = {k: self._decode(self.keys[k[1]], v) for k, v in rows.items() if k[1] in self.keys}
            self._cache[workspace] = cached
        return cached

    async def get(self, place: Place, name: str) -> Value:
        key = self.keys[name]
        values = await self._values(place.workspace_key)
        channel = "" if (place.is_dm or not key.channel_ok) else place.channel_id
        for scope in (channel, ""):
            if (scope, key.name) in values:
                value = values[(scope, key.name)]
                return list(value) if isinstance(value, list) else value
        return list(key.default) if isinstance(key.default, list) else key.default

    async def workspace_uses(self, workspace: str, name: str) -> bool:
        """Whether any scope of the workspace has a non-empty value for a key."""
        return any(k == name and v for (_, k), v in (await self._values(workspace)).items())

    async def zone(self, place: Place) -> ZoneInfo:
        return ZoneInfo(await self.get(place, "timezone"))

    async def effective(self, workspace: str, channel: str) -> list[Effective]:
        values = await self._values(workspace)
        out = []
        for key in self.keys.values():
            if channel and key.channel_ok and (channel, key.name) in values:
                out.append(Effective(key, values[(channel, key.name)], "channel"))
            elif ("", key.name) in values:
                out.append(Effective(key, values[("", key.name)], "server"))
            else:
                out.append(Effective(key, key.default, "default"))
        return out

    async def history(self, workspace: str, key: str | None = None, limit: int = 15) -> list[AuditRow]:
        if key is not None:
            key = self.key(key).name
        return await settings_repo.history(self.db, workspace, key, limit)

    # -- writing ---------------------------------------------------------------------------
    def _scope(self, key: Key, actor: Actor, channel: str) -> str:
        if actor.role < key.write_role:
            raise SettingError(f"{key.name} can only be changed by {key.write_role.label}s and above")
        if channel and not key.channel_ok:
            raise SettingError(f"{key.name} is a server-wide setting; set it without a channel")
        return channel

    async def set(self, actor: Actor, workspace: str, channel: str, name: str, text: str, now: datetime) -> Change:
        key = self.key(name)
        channel = self._scope(key, actor, channel)
        try:
            value = key.type.parse(text)
        except SettingError as exc:
            raise SettingError(f"{key.name}: {exc}") from None
        change = await self._write(actor, workspace, [(channel, key, value)], "set", now)
        return change[0] if change else Change(workspace, channel, key.name, None, None, unchanged=True)

    async def reset(self, actor: Actor, workspace: str, channel: str, name: str, now: datetime) -> Change:
        key = self.key(name)
        channel = self._scope(key, actor, channel)
        change = await self._write(actor, workspace, [(channel, key, None)], "reset", now)
        return change[0] if change else Change(workspace, channel, key.name, None, None, unchanged=True)

    async def undo(self, actor: Actor, workspace: str, now: datetime) -> list[Change]:
        """Reverts the newest change (a whole batch, e.g. an import) that is not itself an undo."""
        batch = await settings_repo.last_undoable_batch(self.db, workspace)
        if not batch:
            return []
        for row in batch:
            if row.key in self.keys:
                self._scope(self.keys[row.key], actor, row.channel)
        writes = []
        for row in batch:
            key = self.keys.get(row.key)
            if key is None:
                continue  # a key a removed feature used to define: nothing to restore
            old = None if row.old_value is None else key.type.parse(row.old_value)
            writes.append((row.channel, key, old))
        changes = await self._write(actor, workspace, writes, "undo", now, undoes=batch[0].batch, force=True)
        return changes

    async def export(self, workspace: str) -> dict[str, Any]:
        rows = await settings_repo.workspace_values(self.db, workspace)
        doc: dict[str, Any] = {"careerbot_settings": 1, "server": {}, "channels": {}}
        for (channel, name), stored in sorted(rows.items()):
            key = self.keys.get(name)
            if key is None:
                continue
            value = key.type.to_document(self._decode(key, stored))
            if channel:
                doc["channels"].setdefault(channel, {})[name] = value
            else:
                doc["server"][name] = value
        return doc

    async def import_document(self, actor: Actor, workspace: str, text: str, now: datetime) -> list[Change]:
        """Makes the server's settings equal the document, or changes nothing and lists every problem."""
        doc = _load_document(text)
        wanted: dict[tuple[str, str], Value] = {}
        problems: list[str] = []

        def take(channel: str, entries: Any, where: str) -> None:
            if not isinstance(entries, dict):
                problems.append(f"{where} must be an object of key: value")
                return
            for name, raw in entries.items():
                try:
                    key = self.key(str(name))
                    self._scope(key, actor, channel)
                    wanted[(channel, key.name)] = key.type.from_document(raw)
                except SettingError as exc:
                    problems.append(f"{where}.{str(name)[:30]}: {exc}")

        take("", doc.get("server", {}), "server")
        channels = doc.get("channels", {})
        if not isinstance(channels, dict):
            problems.append("channels must be an object of channel: {key: value}")
            channels = {}
        for raw_channel, entries in channels.items():
            try:
                channel = parse_channel_ref(str(raw_channel))
            except SettingError as exc:
                problems.append(f"channels: {exc}")
                continue
            take(channel, entries, f"channels.{channel}")
        unknown = set(doc) - {"careerbot_settings", "server", "channels"}
        if unknown:
            problems.append("unknown top-level field(s): " + ", ".join(sorted(unknown)[:5]))
        current = await settings_repo.workspace_values(self.db, workspace)
        writes = [(ch, self.keys[name], value) for (ch, name), value in wanted.items()]
        for (ch, name) in current:
            if name in self.keys and (ch, name) not in wanted:
                try:
                    self._scope(self.keys[name], actor, ch)
                except SettingError as exc:
                    problems.append(f"the document leaves out {name}, which would reset it, but {exc}")
                writes.append((ch, self.keys[name], None))
        if problems:
            raise SettingError("nothing was changed. " + "; ".join(problems[:8]) + ("; …" if len(problems) > 8 else ""))
        return await self._write(actor, workspace, writes, "import", now)

    async def _write(
        self,
        actor: Actor,
        workspace: str,
        writes: list[tuple[str, Key, Value | None]],
        action: str,
        now: datetime,
        undoes: int | None = None,
        force: bool = False,
    ) -> list[Change]:
        planned: list[Change] = []
        for channel, key, value in writes:
            stored = await settings_repo.lookup(self.db, workspace, channel, key.name)
            old = None if stored is None else key.type.format(self._decode(key, stored))
            new = None if value is None else key.type.format(value)
            if old == new and not force:
                continue
            planned.append(Change(workspace, channel, key.name, old, new, encoded=None if value is None else self._encode(key, value)))
        if not planned:
            return []
        try:
            await settings_repo.apply(self.db, planned, action, actor.id, actor.name, now.isoformat(), undoes)
        finally:
            self._cache.pop(workspace, None)
        for change in planned:
            for listener in self.listeners:
                await listener(workspace, change.channel, change.key)
        return planned

    # -- storage encoding ------------------------------------------------------------------
    @staticmethod
    def _encode(key: Key, value: Value) -> str | list[str]:
        return list(value) if isinstance(key.type, ItemList) else key.type.format(value)

    @staticmethod
    def _decode(key: Key, stored: str | list[str]) -> Value:
        if isinstance(key.type, ItemList):
            return list(stored)
        return key.type.parse(str(stored))


def _load_document(text: str) -> dict[str, Any]:
    body = text.strip()
    fence = re.match(r"^```(?:json)?\s*(.*?)\s*```$", body, re.DOTALL)
    if fence:
        body = fence.group(1)
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        raise SettingError(
            f"that is not a JSON settings document (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Paste what the config export command printed."
        ) from None
    if not isinstance(doc, dict) or doc.get("careerbot_settings") != 1:
        raise SettingError('that is not a careerbot settings document: it needs "careerbot_settings": 1, as the config export command prints')
    return doc


def user_keys() -> list[Key]:
    """What a person may set for themselves with /me set; features add their own."""
    return [
        Key("timezone", "your local time: your day for streaks and reminders (not set: the server's)", Timezone(), "UTC"),
        Key("date_format", "how dates are written to you: iso, dmy or mdy (not set: the server's)",
            Choice(options=("iso", "dmy", "mdy")), "iso"),
        Key("time_format", "24h or 12h (not set: the server's)", Choice(options=("24h", "12h")), "24h"),
        Key("dm", "whether I may send you reminders by direct message", Bool(), False),
    ]


def core_keys(service: SettingsService) -> list[Key]:
    """The settings every installation has; features define their own in ``setup``."""
    return [
        Key("timezone", "the community's local time, for schedules and dates", Timezone(), "UTC"),
        Key("date_format", "how dates are written: iso (2026-01-05), dmy (05 Jan 2026), mdy (Jan 05, 2026)",
            Choice(options=("iso", "dmy", "mdy")), "iso"),
        Key("time_format", "24h (17:30) or 12h (5:30 PM)", Choice(options=("24h", "12h")), "24h"),
        Key("features", "which features answer in a channel: all, none, or a list",
            ItemList(item_help="features", choices=lambda: service.feature_names, allow_all=True), ["all"]),
        Key("mod_roles", "platform roles whose members count as moderators",
            ItemList(item_help="role mentions or ids", ref="role"), [], channel_ok=False, write_role=Role.ADMIN),
        Key("mod_users", "users who count as moderators",
            ItemList(item_help="user ids or @mentions", ref="user"), [], channel_ok=False, write_role=Role.ADMIN),
        Key("mod_channel", "where the bot tells moderators about problems (e.g. a channel it cannot post to)",
            ChannelSetting(), "", channel_ok=False),
        Key("digest_time", "the time a digest posts when it is added with no time", TimeOfDay(), "09:00"),
        Key("digest_quiet_line", "posted when a digest has nothing new; not set means post nothing",
            Text(max_len=200), ""),
    ]
