"""Render a platform-neutral `Message` as Slack Block Kit.

Every piece of text from the message is escaped (`&`, `<`, `>`), so an alert title cannot
smuggle in a link or an `@channel`; the only markup Slack parses is what this module writes.
The limits are Slack's, from https://docs.slack.dev/reference/block-kit/blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.chat.models import Button, ButtonStyle, Fact, Link, Message, Section, Tone
from bot.chat.slack import messages

Block = dict[str, Any]

ACTION_PREFIX = "incident."

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTONS = 25
MAX_HEADER = 150
MAX_BUTTON_LABEL = 75

# The tone shows as an emoji before the first line: colour bars exist only on legacy
# attachments, which Slack folds away behind "Show more".
TONE_EMOJI = {
    Tone.NEUTRAL: "",
    Tone.GOOD: ":large_green_circle:",
    Tone.WARNING: ":large_orange_circle:",
    Tone.DANGER: ":red_circle:",
}

ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
USER_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")


def build_blocks(message: Message) -> list[Block]:
    """Render `message` as Block Kit blocks that stay within Slack's limits."""
    head = [*_build_header(message), *_build_text(message)]
    body = [
        *_build_fact_sections(message.facts),
        *(_build_section(section) for section in message.sections),
        *_build_links(message.links),
    ]
    tail = [*_build_actions(message.buttons), *_build_context(message.context)]

    room = MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        left_out = len(body) - room + 1
        body = [*body[: room - 1], _build_context_block([messages.to_blocks_left_out(left_out)])]
    return [*head, *body, *tail]


def build_fallback_text(message: Message) -> str:
    """The plain text Slack shows in notifications and where blocks cannot be shown."""
    mentions = _to_mentions(message.mentions)
    text = message.text or message.header or ""
    return _to_escaped_within(text, MAX_TEXT - len(mentions), prefix=mentions)


def to_escaped(text: str) -> str:
    """Escape the three characters Slack treats as markup in message text."""
    return "".join(ESCAPES.get(char, char) for char in text)


def to_mention(member: str) -> str:
    """`<@U123>` for a user, `<!subteam^S123>` for a user group, plain text for anything else."""
    if USER_ID.fullmatch(member):
        return f"<@{member}>"
    if USER_GROUP_ID.fullmatch(member):
        return f"<!subteam^{member}>"
    return to_escaped(f"@{member}")


def _build_header(message: Message) -> list[Block]:
    if not message.header:
        return []
    text = _to_prefixed(TONE_EMOJI[message.tone], message.header)
    if len(text) > MAX_HEADER:
        text = text[: MAX_HEADER - 1] + "…"
    return [{"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}]


def _build_text(message: Message) -> list[Block]:
    emoji = "" if message.header else TONE_EMOJI[message.tone]
    prefix = _to_prefixed(emoji, _to_mentions(message.mentions))
    if not (prefix or message.text):
        return []
    return [_build_mrkdwn_section(_to_escaped_within(message.text, MAX_TEXT, prefix=prefix))]


def _build_fact_sections(facts: Sequence[Fact]) -> list[Block]:
    fields = [_build_field(fact) for fact in facts]
    return [
        {"type": "section", "fields": fields[start : start + MAX_FIELDS]}
        for start in range(0, len(fields), MAX_FIELDS)
    ]


def _build_field(fact: Fact) -> Block:
    text = _to_escaped_within(fact.value, MAX_FIELD_TEXT, prefix=_to_title(fact.label))
    return {"type": "mrkdwn", "text": text}


def _build_section(section: Section) -> Block:
    title = _to_title(section.title) if section.title else ""
    if not section.preformatted:
        return _build_mrkdwn_section(_to_escaped_within(section.text, MAX_TEXT, prefix=title))
    # Logs and tracebacks end with the error, so a long one keeps its tail.
    fence = "```"
    room = MAX_TEXT - len(title) - 2 * len(fence)
    body = _to_escaped_within(section.text, room, keep_tail=True)
    return _build_mrkdwn_section(f"{title}{fence}{body}{fence}")


def _build_links(links: Sequence[Link]) -> list[Block]:
    separator = "  ·  "
    text = ""
    for link in links:
        url = to_escaped(link.url).replace("|", "%7C")
        piece = f"<{url}|{to_escaped(link.title)}>"
        candidate = f"{text}{separator}{piece}" if text else piece
        if len(candidate) > MAX_TEXT:
            break
        text = candidate
    return [_build_mrkdwn_section(text)] if text else []


def _build_actions(buttons: Sequence[Button]) -> list[Block]:
    # Slack refuses a block holding two elements with one action_id, so a repeated action
    # (two "approve" buttons for two proposals) starts a new row instead.
    rows: list[list[Block]] = []
    for button in buttons:
        element = _build_button(button)
        row = next((row for row in rows if _has_room_for(row, element)), None)
        if row is None:
            row = []
            rows.append(row)
        row.append(element)
    return [{"type": "actions", "elements": row} for row in rows]


def _has_room_for(row: Sequence[Block], element: Block) -> bool:
    taken = {other["action_id"] for other in row}
    return len(row) < MAX_BUTTONS and element["action_id"] not in taken


def _build_button(button: Button) -> Block:
    label = button.label
    if len(label) > MAX_BUTTON_LABEL:
        label = label[: MAX_BUTTON_LABEL - 1] + "…"
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": f"{ACTION_PREFIX}{button.action}",
        "value": button.value,
    }
    if button.style is not ButtonStyle.DEFAULT:
        element["style"] = button.style.value
    return element


def _build_context(context: Sequence[str]) -> list[Block]:
    elements = [_to_escaped_within(text, MAX_TEXT) for text in context if text]
    return [
        _build_context_block(elements[start : start + MAX_CONTEXT_ELEMENTS])
        for start in range(0, len(elements), MAX_CONTEXT_ELEMENTS)
    ]


def _build_context_block(texts: Iterable[str]) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in texts]}


def _build_mrkdwn_section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _to_title(title: str) -> str:
    return f"*{to_escaped(title)}*\n"


def _to_mentions(members: Sequence[str]) -> str:
    return "".join(f"{to_mention(member)} " for member in members)


def _to_prefixed(emoji: str, text: str) -> str:
    return f"{emoji} {text}" if emoji else text


def _to_escaped_within(text: str, limit: int, *, prefix: str = "", keep_tail: bool = False) -> str:
    """Escape `text` and cut it, with a marker, so that `prefix` plus text fit in `limit`."""
    escaped = to_escaped(text)
    room = limit - len(prefix)
    if len(escaped) <= room:
        return prefix + escaped
    marker = messages.to_cut_marker()
    kept = _to_escaped_pieces(reversed(text) if keep_tail else text, room - len(marker) - 1)
    if keep_tail:
        return f"{prefix}{marker}\n{''.join(reversed(kept))}"
    return f"{prefix}{''.join(kept)}\n{marker}"


def _to_escaped_pieces(chars: Iterable[str], room: int) -> list[str]:
    # Cutting the raw text, not the escaped one, never leaves half an `&amp;` behind.
    pieces: list[str] = []
    used = 0
    for char in chars:
        piece = ESCAPES.get(char, char)
        if used + len(piece) > room:
            break
        pieces.append(piece)
        used += len(piece)
    return pieces
