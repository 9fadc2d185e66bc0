"""Messages in the two formats Jira takes: Atlassian Document Format (Cloud, REST v3) and
wiki markup (Server and Data Center, REST v2); and the plain text of either.

ADF: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.chat.models import Message, Section

Node = dict[str, Any]

_WIKI_SPECIAL = re.compile(r"([\\{}\[\]|!*_])")


def to_adf(messages: Sequence[Message], *, footer: str | None = None) -> Node:
    """One ADF document: the messages separated by rules, then an optional footer line."""
    content: list[Node] = []
    for index, message in enumerate(messages):
        if index:
            content.append({"type": "rule"})
        content.extend(_to_adf_blocks(message))
    if footer:
        content.append(_paragraph(_text(footer, "em")))
    return {"type": "doc", "version": 1, "content": content}


def _to_adf_blocks(message: Message) -> list[Node]:
    blocks: list[Node] = []
    if message.header:
        blocks.append(
            {"type": "heading", "attrs": {"level": 3}, "content": [_text(message.header)]}
        )
    if message.text:
        blocks.append(_paragraph(*_lines(message.text)))
    if message.facts:
        blocks.append(
            _bullet_list([_text(f"{f.label}: ", "strong"), _text(f.value)] for f in message.facts)
        )
    for section in message.sections:
        blocks.extend(_to_adf_section(section))
    if message.links:
        links = [_link(link.title, link.url) for link in message.links]
        blocks.append(_paragraph(*_join(links, _text(" · "))))
    if message.context:
        blocks.append(_paragraph(_text(" · ".join(message.context), "em")))
    return blocks


def _to_adf_section(section: Section) -> list[Node]:
    blocks = [_paragraph(_text(section.title, "strong"))] if section.title else []
    if section.preformatted:
        blocks.append(
            {"type": "codeBlock", "content": [_text(section.text)] if section.text else []}
        )
    elif section.text:
        blocks.append(_paragraph(*_lines(section.text)))
    return blocks


def _bullet_list(items: Iterable[list[Node]]) -> Node:
    entries = [{"type": "listItem", "content": [_paragraph(*item)]} for item in items]
    return {"type": "bulletList", "content": entries}


def _link(title: str, url: str) -> Node:
    return {"type": "text", "text": title, "marks": [{"type": "link", "attrs": {"href": url}}]}


def _join(nodes: list[Node], separator: Node) -> list[Node]:
    joined: list[Node] = []
    for node in nodes:
        joined.extend([separator, node] if joined else [node])
    return joined


def _paragraph(*content: Node) -> Node:
    return {"type": "paragraph", "content": list(content)}


def _text(text: str, mark: str | None = None) -> Node:
    node: Node = {"type": "text", "text": text}
    if mark:
        node["marks"] = [{"type": mark}]
    return node


def _lines(text: str) -> list[Node]:
    # ADF text nodes may not be empty, and line breaks are nodes of their own.
    nodes: list[Node] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            nodes.append({"type": "hardBreak"})
        if line:
            nodes.append(_text(line))
    return nodes


def to_wiki(messages: Sequence[Message], *, footer: str | None = None) -> str:
    """Wiki markup: the messages separated by rules, then an optional footer line."""
    text = "\n\n----\n\n".join("\n\n".join(_to_wiki_blocks(message)) for message in messages)
    return f"{text}\n\n_{_escape(footer)}_" if footer else text


def _to_wiki_blocks(message: Message) -> list[str]:
    blocks: list[str] = []
    if message.header:
        blocks.append(f"h3. {_escape(message.header)}")
    if message.text:
        blocks.append(_escape(message.text))
    if message.facts:
        blocks.append(
            "\n".join(f"* *{_escape(f.label)}:* {_escape(f.value)}" for f in message.facts)
        )
    for section in message.sections:
        blocks.extend(_to_wiki_section(section))
    if message.links:
        blocks.append(" · ".join(f"[{_escape(link.title)}|{link.url}]" for link in message.links))
    if message.context:
        blocks.append(f"_{_escape(' · '.join(message.context))}_")
    return blocks


def _to_wiki_section(section: Section) -> list[str]:
    blocks = [f"*{_escape(section.title)}*"] if section.title else []
    if section.preformatted:
        # {noformat} shows its content verbatim; only its own closing tag cannot appear.
        text = section.text.replace("{noformat}", "{ noformat}")
        blocks.append(f"{{noformat}}\n{text}\n{{noformat}}")
    elif section.text:
        blocks.append(_escape(section.text))
    return blocks


def _escape(text: str) -> str:
    return _WIKI_SPECIAL.sub(r"\\\1", text)


def to_plain_text(body: Any) -> str:
    """The text of a comment or description body, whether ADF (a dict) or a wiki string."""
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return ""
    if body.get("type") == "text":
        return str(body.get("text", ""))
    if body.get("type") == "hardBreak":
        return "\n"
    children = [to_plain_text(child) for child in body.get("content") or []]
    separator = "\n" if body.get("type") in ("doc", "bulletList", "orderedList") else ""
    return separator.join(children)
