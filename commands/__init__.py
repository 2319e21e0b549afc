"""Feature modules. Each exposes ``register(registry)`` and optionally ``async setup(app)``.

Adding a feature means adding it to FEATURES; every adapter then offers its commands.
"""

from commands import advice, config, digest, help, papers

FEATURES = [help, config, advice, digest, papers]
