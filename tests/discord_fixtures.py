"""The local Discord fake as a fixture, for the adapter tests (a plugin of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from tests.fakes.fake_discord import FakeDiscord, token_for


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A running fake; afterwards discord.py's class-level URLs (which the adapter points at it) are put back."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    server = FakeDiscord(token=token_for())
    await server.start()
    yield server
    await server.stop()
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
