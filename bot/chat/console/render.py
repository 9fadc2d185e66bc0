"""The console's HTML for a Message: escaped fragments the page inserts as they are.

Every piece of text is escaped here, so the page may set these fragments as innerHTML.
The parts come in the order of the Slack blocks: header, mentions and text, facts,
sections, links, buttons, context.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from bot.chat.console import messages
from bot.chat.console.models import MessageKind, StoredMessage, ThreadView
from bot.chat.models import Button, Fact, Link, Message, Section

_SAFE_SCHEMES = frozenset({"http", "https"})


def build_html(message: Message) -> str:
    """One message as an <article>, its tone as a `tone-...` CSS class."""
    parts = [f'<article class="msg tone-{message.tone.value}">']
    if message.header:
        parts.append(f'<h3 class="msg-header">{escape(message.header)}</h3>')
    if message.text or message.mentions:
        parts.append(_build_text(message))
    if message.facts:
        parts.append(_build_facts(message.facts))
    parts.extend(_build_section(section) for section in message.sections)
    if message.links:
        parts.append(_build_links(message.links))
    if message.buttons:
        parts.append(_build_buttons(message.buttons))
    if message.context:
        context = " · ".join(escape(item) for item in message.context)
        parts.append(f'<p class="msg-context">{context}</p>')
    parts.append("</article>")
    return "".join(parts)


def build_thread_html(thread: ThreadView) -> str:
    """The root and every message after it, each under a line naming its author and time."""
    entries = [_build_entry(thread.root)]
    entries.extend(_build_entry(stored) for stored in thread.messages)
    return "".join(entries)


def _build_text(message: Message) -> str:
    mentions = "".join(f"{_build_mention(name)} " for name in message.mentions)
    return f'<p class="msg-text">{mentions}{escape(message.text)}</p>'


def _build_entry(stored: StoredMessage) -> str:
    css = f"entry entry-{stored.kind.value}"
    meta = [
        f'<span class="entry-author">{escape(messages.to_bot_name())}</span>',
        _build_time(stored),
    ]
    if stored.updated_at is not None:
        meta.append(f'<span class="entry-edited">{escape(messages.to_updated_label())}</span>')
    if stored.kind is MessageKind.PRIVATE:
        meta.append(f'<span class="entry-badge">{escape(messages.to_private_label())}</span>')
    return (
        f'<div class="{css}" data-message-id="{escape(stored.id)}">'
        f'<div class="entry-meta">{" ".join(meta)}</div>'
        f"{build_html(stored.message)}</div>"
    )


def _build_time(stored: StoredMessage) -> str:
    moment = stored.created_at
    label = moment.strftime("%H:%M:%S UTC")
    return f'<time datetime="{escape(moment.isoformat())}">{escape(label)}</time>'


def _build_facts(facts: list[Fact]) -> str:
    rows = "".join(
        f"<div><dt>{escape(fact.label)}</dt><dd>{escape(fact.value)}</dd></div>" for fact in facts
    )
    return f'<dl class="msg-facts">{rows}</dl>'


def _build_section(section: Section) -> str:
    title = f"<h4>{escape(section.title)}</h4>" if section.title else ""
    if section.preformatted:
        body = f"<pre>{escape(section.text)}</pre>"
    else:
        body = f"<p>{escape(section.text)}</p>"
    return f'<section class="msg-section">{title}{body}</section>'


def _build_links(links: list[Link]) -> str:
    items = "".join(f"<li>{_build_link(link)}</li>" for link in links)
    return f'<ul class="msg-links">{items}</ul>'


def _build_link(link: Link) -> str:
    # A link whose scheme could run script (javascript:, data:) is shown as plain text.
    if not _is_safe_url(link.url):
        return f'<span class="msg-link-unsafe">{escape(link.title)}</span>'
    return (
        f'<a href="{escape(link.url)}" target="_blank" rel="noopener noreferrer">'
        f"{escape(link.title)}</a>"
    )


def _is_safe_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _SAFE_SCHEMES and bool(parts.netloc)


def _build_buttons(buttons: list[Button]) -> str:
    items = "".join(
        f'<button type="button" class="btn btn-{button.style.value}" '
        f'data-action="{escape(button.action)}" data-value="{escape(button.value)}">'
        f"{escape(button.label)}</button>"
        for button in buttons
    )
    return f'<div class="msg-buttons">{items}</div>'


def _build_mention(name: str) -> str:
    return f'<span class="mention">@{escape(name.removeprefix("@"))}</span>'
