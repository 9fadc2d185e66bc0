"""What the drill runner tells whoever watches it, scenario by scenario."""

from __future__ import annotations

from typing import Protocol

from bot.chaos.models import Scenario, ScenarioScore


class DrillProgress(Protocol):
    """Called by `run_drills` as it goes; the CLI shows it live, tests record it."""

    def on_sandbox(self, text: str) -> None:
        """The sandbox or the bot is being installed, started or stopped."""

    def on_started(self, scenario: Scenario, index: int, total: int) -> None:
        """Scenario `index` (1-based) of `total` begins."""

    def on_step(self, scenario: Scenario, text: str) -> None:
        """A step inside the running scenario (fault set, incident opened, approved...)."""

    def on_finished(self, score: ScenarioScore) -> None:
        """The scenario is scored (passed, failed or skipped)."""
