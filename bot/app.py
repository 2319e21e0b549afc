"""Assembles the core: database, registry with every feature, clock. Adapters get an App."""

from __future__ import annotations

import os
from typing import Any

from bot.clock import Clock
from bot.context import Context
from bot.models import Actor, Place, Reply
from bot.registry import Registry
from bot.storage.db import Database, open_database


class App:
    def __init__(self, db: Database, registry: Registry, clock: Clock) -> None:
        self.db = db
        self.registry = registry
        self.clock = clock
        # Feature-owned singletons (e.g. the advice search index), keyed by feature name.
        self.state: dict[str, Any] = {}

    @classmethod
    async def create(cls, db_path: str | os.PathLike[str], clock: Clock | None = None) -> "App":
        from commands import FEATURES

        db = await open_database(db_path)
        registry = Registry()
        app = cls(db, registry, clock or Clock())
        try:
            for feature in FEATURES:
                feature.register(registry)
            for feature in FEATURES:
                setup = getattr(feature, "setup", None)
                if setup is not None:
                    await setup(app)
        except BaseException:
            await db.close()
            raise
        return app

    async def handle(self, actor: Actor, place: Place, line: str) -> Reply:
        return await self.registry.dispatch_line(Context(actor, place, self), line)

    async def handle_text(self, line: str) -> Reply:
        """Runs a line as an anonymous member in a default channel (scripts, smoke tests)."""
        return await self.handle(Actor("local:you", "you"), Place("console", "console", "general", "general"), line)

    async def close(self) -> None:
        await self.db.close()
