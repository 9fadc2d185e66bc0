"""Scoring the diagnoser on a labelled set of logs: `incident-bot eval`."""
