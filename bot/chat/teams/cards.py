"""Render a platform-neutral `Message` as a Microsoft Teams Adaptive Card (version 1.5).

Message text goes into `TextRun`s of `RichTextBlock`s, which Teams never parses as markdown,
so an alert title cannot smuggle in a link; fact values sit in a `FactSet`, whose markdown is
escaped. Buttons are `Action.Execute` with the verb `incident.<action>` and only the opaque
id as data. Teams refuses a message above about 28 KB and shows at most six actions per row
(https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/format-your-bot-messages).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.chat.models import Button, ButtonStyle, Fact, Link, Message, Section, Tone
from bot.chat.teams import messages

Element = dict[str, Any]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
VERB_PREFIX = "incident."

MAX_CARD_BYTES = 24_000
MAX_TEXT = 3000
MAX_FACT_TEXT = 1000
MAX_HEADER = 150
MAX_BUTTON_LABEL = 75
MAX_ACTIONS_PER_ROW = 6

TONE_COLOURS = {
    Tone.NEUTRAL: "Default",
    Tone.GOOD: "Good",
    Tone.WARNING: "Warning",
    Tone.DANGER: "Attention",
}
BUTTON_STYLES = {ButtonStyle.PRIMARY: "positive", ButtonStyle.DANGER: "destructive"}
MARKDOWN = re.compile(r"([\\`*_\[\]()#>~|-])")
AAD_OBJECT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def build_card(message: Message) -> Element:
    """Render `message` as an Adaptive Card that stays within Teams' size limit."""
    head = [*_build_header(message), *_build_text(message)]
    body = [
        *_build_facts(message.facts),
        *(_build_section(section) for section in message.sections),
    ]
    tail = [*_build_action_rows(message.buttons), *_build_context(message.context)]

    card = _build_envelope([*head, *body, *tail], message)
    left_out = 0
    while body and _to_size(card) > MAX_CARD_BYTES:
        body.pop()
        left_out += 1
        marker = [_build_rich_text(messages.to_parts_left_out(left_out), subtle=True)]
        card = _build_envelope([*head, *body, *marker, *tail], message)
    return card


def build_attachment(message: Message) -> Element:
    """The card as a Bot Framework attachment, ready for an activity's `attachments`."""
    return {"contentType": CARD_CONTENT_TYPE, "content": build_card(message)}


def build_summary(message: Message) -> str:
    """Plain text for notifications and for clients that cannot show the card."""
    return _to_within(message.text or message.header or "", MAX_TEXT)


def to_escaped_markdown(text: str) -> str:
    """Backslash-escape the characters Adaptive Card markdown gives a meaning to."""
    return MARKDOWN.sub(r"\\\1", text)


def _build_envelope(body: list[Element], message: Message) -> Element:
    card: Element = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "full"},
    }
    if actions := _build_links(message.links):
        card["actions"] = actions
    if entities := _build_mention_entities(message.mentions):
        card["msteams"]["entities"] = entities
    return card


def _build_header(message: Message) -> list[Element]:
    if not message.header:
        return []
    text = _to_within(message.header, MAX_HEADER)
    colour = TONE_COLOURS[message.tone]
    return [_build_rich_text(text, size="Large", weight="Bolder", color=colour)]


def _build_text(message: Message) -> list[Element]:
    elements: list[Element] = []
    if message.mentions:
        # Mentions resolve only in a TextBlock: Teams matches their `<at>` text there.
        mentions = " ".join(_build_mention(member) for member in message.mentions)
        elements.append({"type": "TextBlock", "text": mentions, "wrap": True})
    if message.text:
        colour = TONE_COLOURS[message.tone] if not message.header else "Default"
        elements.append(_build_rich_text(_to_within(message.text, MAX_TEXT), color=colour))
    return elements


def _build_facts(facts: Sequence[Fact]) -> list[Element]:
    if not facts:
        return []
    items = [
        {
            "title": to_escaped_markdown(fact.label),
            "value": to_escaped_markdown(_to_within(fact.value, MAX_FACT_TEXT)),
        }
        for fact in facts
    ]
    return [{"type": "FactSet", "facts": items}]


def _build_section(section: Section) -> Element:
    items: list[Element] = []
    if section.title:
        items.append(_build_rich_text(section.title, weight="Bolder"))
    if section.preformatted:
        # Logs and tracebacks end with the error, so a long one keeps its tail.
        text = _to_within(section.text, MAX_TEXT, keep_tail=True)
        items.append(_build_rich_text(text, fontType="Monospace"))
    else:
        items.append(_build_rich_text(_to_within(section.text, MAX_TEXT)))
    return {"type": "Container", "separator": True, "items": items}


def _build_links(links: Sequence[Link]) -> list[Element]:
    return [
        {
            "type": "Action.OpenUrl",
            "title": _to_within(link.title, MAX_BUTTON_LABEL),
            "url": link.url,
        }
        for link in links
        if link.url.startswith(("https://", "http://"))
    ]


def _build_action_rows(buttons: Sequence[Button]) -> list[Element]:
    actions = [_build_button(button) for button in buttons]
    return [
        {"type": "ActionSet", "actions": actions[start : start + MAX_ACTIONS_PER_ROW]}
        for start in range(0, len(actions), MAX_ACTIONS_PER_ROW)
    ]


def _build_button(button: Button) -> Element:
    action: Element = {
        "type": "Action.Execute",
        "title": _to_within(button.label, MAX_BUTTON_LABEL),
        "verb": f"{VERB_PREFIX}{button.action}",
        "data": {"value": button.value},
    }
    if style := BUTTON_STYLES.get(button.style):
        action["style"] = style
    return action


def _build_context(context: Sequence[str]) -> list[Element]:
    return [_build_rich_text(_to_within(text, MAX_TEXT), subtle=True) for text in context if text]


def _build_rich_text(text: str, *, subtle: bool = False, **run: str) -> Element:
    text_run: Element = {"type": "TextRun", "text": text, **run}
    if subtle:
        text_run |= {"isSubtle": True, "size": "Small"}
    return {"type": "RichTextBlock", "inlines": [text_run]}


def _build_mention(member: str) -> str:
    if AAD_OBJECT_ID.fullmatch(member):
        return f"<at>{member}</at>"
    return to_escaped_markdown(f"@{member}")


def _build_mention_entities(members: Sequence[str]) -> list[Element]:
    return [
        {
            "type": "mention",
            "text": f"<at>{member}</at>",
            "mentioned": {"id": member, "name": member},
        }
        for member in members
        if AAD_OBJECT_ID.fullmatch(member)
    ]


def _to_within(text: str, limit: int, *, keep_tail: bool = False) -> str:
    """`text` cut, with a marker, to at most `limit` characters."""
    if len(text) <= limit:
        return text
    marker = messages.to_cut_marker()
    room = limit - len(marker) - 1
    if keep_tail:
        return f"{marker}\n{text[-room:]}"
    return f"{text[:room]}\n{marker}"


def _to_size(card: Element) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())
