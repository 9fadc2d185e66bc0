"""Slack: Block Kit rendering, the Web API adapter and the Bolt app."""
