"""An inbound event (a Slack retry, a Discord interaction) is handled by one process only."""

from __future__ import annotations

import asyncio

import pytest

from bot.storage import inbound_repo
from bot.storage.db import open_database

pytestmark = pytest.mark.both_engines

NOW = "2026-11-22T10:00:00.000000+00:00"


async def test_the_first_sighting_wins_and_retries_are_refused(db_path: str) -> None:
    db = await open_database(db_path)
    try:
        assert await inbound_repo.first_sight(db, "slack", "Ev123", NOW, "p1") is True
        assert await inbound_repo.first_sight(db, "slack", "Ev123", NOW, "p2") is False
        # The same id from another platform is another event.
        assert await inbound_repo.first_sight(db, "discord", "Ev123", NOW, "p1") is True
    finally:
        await db.close()


async def test_racing_processes_handle_an_event_exactly_once(db_path: str) -> None:
    """Three 'processes' (own databases/pools) see the same three retries at once."""
    dbs = [await open_database(db_path) for _ in range(3)]
    try:
        results = await asyncio.gather(*(
            inbound_repo.first_sight(db, "slack", f"Ev{n}", NOW, f"p{i}") for n in range(20) for i, db in enumerate(dbs)
        ))
        assert sum(results) == 20
    finally:
        for db in dbs:
            await db.close()


async def test_old_ids_are_pruned_by_retention(db_path: str) -> None:
    db = await open_database(db_path)
    try:
        await inbound_repo.first_sight(db, "slack", "old", "2026-11-20T10:00:00.000000+00:00")
        await inbound_repo.first_sight(db, "slack", "new", NOW)
        async with db.transaction() as conn:
            assert await inbound_repo.prune(conn, "2026-11-21T10:00:00.000000+00:00") == 1
        assert await inbound_repo.first_sight(db, "slack", "old", NOW) is True
        assert await inbound_repo.first_sight(db, "slack", "new", NOW) is False
    finally:
        await db.close()
