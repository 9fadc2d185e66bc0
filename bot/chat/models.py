"""The platform-neutral message model.

Slack Block Kit, the console's HTML and Teams Adaptive Cards are all rendered from a
`Message`, so every platform shows the same words and buttons.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Tone(StrEnum):
    """The colour a platform may give a message; meaning, not a hex code."""

    NEUTRAL = "neutral"
    GOOD = "good"
    WARNING = "warning"
    DANGER = "danger"


class ButtonStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


class Fact(BaseModel):
    """A short label and value shown side by side (state, severity, service...)."""

    model_config = ConfigDict(frozen=True)

    label: str
    value: str


class Section(BaseModel):
    """A block of text; `preformatted` text is shown verbatim in a monospace block."""

    model_config = ConfigDict(frozen=True)

    text: str
    title: str | None = None
    preformatted: bool = False


class Button(BaseModel):
    """A button; `value` is an opaque id the server looks up, never the action's data."""

    model_config = ConfigDict(frozen=True)

    action: str
    label: str
    value: str
    style: ButtonStyle = ButtonStyle.DEFAULT


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    url: str


class Message(BaseModel):
    """One chat message: a header, fields, sections, buttons and a context line."""

    model_config = ConfigDict(frozen=True)

    text: str
    header: str | None = None
    tone: Tone = Tone.NEUTRAL
    facts: list[Fact] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    buttons: list[Button] = Field(default_factory=list)
    context: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)
