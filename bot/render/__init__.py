"""Pure functions from a neutral Reply to each surface's output."""
