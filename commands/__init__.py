"""Feature modules. Each exposes ``register(registry)`` and optionally ``async setup(app)``.

Adding a feature means adding it to FEATURES; every adapter then offers its commands. The
core (``bot/``) never imports this package: entry points hand FEATURES to ``App.create``.
"""

from __future__ import annotations

import os
from typing import Any

from commands import advice, config, digest, help, me, papers, postings, studygroups

FEATURES = [help, config, me, advice, digest, papers, postings, studygroups]


async def create_app(db_path: str | os.PathLike[str], **kwargs: Any):  # noqa: ANN201 - App, imported lazily
    """The App with every feature: what the CLI, tests and benchmarks run."""
    from bot.app import App

    return await App.create(db_path, FEATURES, **kwargs)
