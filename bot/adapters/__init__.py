"""Platform adapters: the only modules allowed to import discord or slack libraries."""
