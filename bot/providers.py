"""The digest provider interface: how features put content into a channel's scheduled digest.

A provider is asked for one channel and one period and answers with a Section (cards plus
the keys of the items it used) or None when it has nothing new. Providers only read; the
digest job records the returned item keys in the same transaction that queues the post, so
"never the same item twice" holds even if the bot crashes between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.models import Card, Place

if TYPE_CHECKING:
    from bot.app import App


@dataclass
class Section:
    title: str
    cards: list[Card] = field(default_factory=list)
    item_keys: list[str] = field(default_factory=list)  # recorded as seen for this channel
    restart_rotation: bool = False  # forget what this channel has seen (a rotation completed)
    note: str = ""


@dataclass(frozen=True)
class Period:
    start: datetime  # exclusive
    end: datetime  # inclusive
    runs: int = 1  # how many scheduled runs this period stands for (more than 1 after downtime)


class Provider(Protocol):
    name: str
    title: str
    help: str

    async def collect(self, app: "App", place: Place, period: Period, settings: dict[str, Any]) -> Section | None:
        ...


class ProviderRegistry:
    def __init__(self) -> None:
        self.providers: dict[str, Provider] = {}
        self.aliases: dict[str, str] = {}

    def add(self, provider: Provider, aliases: tuple[str, ...] = ()) -> None:
        if provider.name in self.providers:
            raise ValueError(f"digest provider {provider.name} is registered twice")
        self.providers[provider.name] = provider
        for alias in aliases:
            self.aliases[alias] = provider.name

    def find(self, name: str) -> Provider | None:
        key = name.strip().lower()
        return self.providers.get(self.aliases.get(key, key))

    def names(self) -> list[str]:
        return list(self.providers)
