"""The per-invocation view a command gets: who, where, and the services it may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.frontend import Frontend
from bot.models import Actor, Place

if TYPE_CHECKING:
    from bot.app import App
    from bot.storage.db import Database


@dataclass
class Context:
    actor: Actor
    place: Place
    app: "App"
    frontend: Frontend = field(default_factory=Frontend)
    command: str = ""  # the command path being run, once the registry has resolved it (metrics, logs)

    @property
    def db(self) -> "Database":
        return self.app.db

    def now(self) -> datetime:
        return self.app.clock.now()

    def cmd(self, path: str) -> str:
        """A command as people type it on this front end, for text that tells them what to run.

        Where a group's default subcommand cannot be left out (Discord), its name is put in:
        ``advice do I need a PhD`` reads ``/advice ask do I need a PhD`` there.
        """
        if not self.frontend.short_forms and self.app is not None:
            path = self.app.registry.explicit(path)
        return self.frontend.cmd(path)
