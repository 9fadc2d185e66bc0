"""incident-bot: a ChatOps incident bot for data pipelines."""

__version__ = "0.1.0"
