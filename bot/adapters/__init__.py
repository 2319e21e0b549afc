"""Platform adapters: the only modules allowed to import discord or slack libraries.

Each turns one platform's events into core calls and core replies into its messages.
"""


class AdapterError(Exception):
    """A platform refused to start (bad token, unreachable API), worded for whoever runs the bot."""
