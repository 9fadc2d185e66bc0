"""The console page and its script and stylesheet, shipped as package files in static/."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from html import escape
from importlib import resources
from string import Template

from bot.chat.console import messages

_ASSET_TYPES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}

# The page inserts server-made HTML, so scripts may come from this server only.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def build_page(*, base: str, sample_kinds: Sequence[str]) -> str:
    """The page's HTML, with its URLs under `base` and one button per sample alert."""
    buttons = "".join(
        f'<button type="submit" class="btn btn-primary" name="kind" value="{escape(kind)}">'
        f"{escape(messages.to_sample_label(kind))}</button>"
        for kind in sample_kinds
    )
    template = Template(_read("index.html"))
    return template.substitute(base=escape(base), sample_buttons=buttons)


def get_asset(name: str) -> tuple[str, str] | None:
    """The content and media type of one of the page's files, or None for any other name."""
    media_type = _ASSET_TYPES.get(name)
    if media_type is None:
        return None
    return _read(name), media_type


@cache
def _read(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")
