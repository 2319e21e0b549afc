"""careerbot: one async command core with thin platform adapters."""

__version__ = "0.1.0"
