"""The per-invocation view a command gets: who, where, and the services it may use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.models import Actor, Place

if TYPE_CHECKING:
    from bot.app import App
    from bot.storage.db import Database


@dataclass
class Context:
    actor: Actor
    place: Place
    app: "App"

    @property
    def db(self) -> "Database":
        return self.app.db

    def now(self) -> datetime:
        return self.app.clock.now()
