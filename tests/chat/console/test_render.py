from datetime import UTC, datetime

import pytest

from bot.chat.console.models import MessageKind, StoredMessage, ThreadView
from bot.chat.console.render import build_html, build_thread_html
from bot.chat.models import Button, ButtonStyle, Fact, Link, Message, Section, Tone

ATTACK = "<img src=x onerror=alert(1)>\"'&"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;&amp;"


@pytest.mark.parametrize(
    "message",
    [
        Message(text=ATTACK),
        Message(text="t", header=ATTACK),
        Message(text="t", facts=[Fact(label=ATTACK, value="v")]),
        Message(text="t", facts=[Fact(label="l", value=ATTACK)]),
        Message(text="t", sections=[Section(text=ATTACK)]),
        Message(text="t", sections=[Section(text=ATTACK, preformatted=True)]),
        Message(text="t", sections=[Section(text="s", title=ATTACK)]),
        Message(text="t", links=[Link(title=ATTACK, url="https://example.com/")]),
        Message(text="t", links=[Link(title="log", url=f"https://example.com/{ATTACK}")]),
        Message(text="t", buttons=[Button(action="ack", label=ATTACK, value="INC-1")]),
        Message(text="t", buttons=[Button(action=ATTACK, label="Ack", value="INC-1")]),
        Message(text="t", buttons=[Button(action="ack", label="Ack", value=ATTACK)]),
        Message(text="t", context=[ATTACK]),
        Message(text="t", mentions=[ATTACK]),
    ],
    ids=[
        "text",
        "header",
        "fact-label",
        "fact-value",
        "section",
        "preformatted",
        "section-title",
        "link-title",
        "link-url",
        "button-label",
        "button-action",
        "button-value",
        "context",
        "mention",
    ],
)
def test_every_field_is_escaped(message):
    html = build_html(message)

    assert "<img" not in html
    assert ESCAPED in html


def test_tone_becomes_a_css_class():
    html = build_html(Message(text="down", tone=Tone.DANGER))

    assert html.startswith('<article class="msg tone-danger">')


def test_header_and_text_are_both_shown_when_they_differ():
    html = build_html(Message(text="INC-1 Triggered: load failed", header="INC-1: load failed"))

    assert '<h3 class="msg-header">INC-1: load failed</h3>' in html
    assert '<p class="msg-text">INC-1 Triggered: load failed</p>' in html


def test_facts_become_a_definition_list():
    message = Message(text="t", facts=[Fact(label="State", value="Triggered")])

    assert '<dl class="msg-facts"><div><dt>State</dt><dd>Triggered</dd></div></dl>' in (
        build_html(message)
    )


def test_preformatted_section_keeps_its_lines_in_pre():
    log = "Traceback:\n  File 'x.py'\nKeyError: 'id'"
    html = build_html(Message(text="t", sections=[Section(text=log, preformatted=True)]))

    assert "<pre>Traceback:\n  File &#x27;x.py&#x27;\nKeyError: &#x27;id&#x27;</pre>" in html


def test_plain_section_is_a_paragraph_under_its_title():
    html = build_html(Message(text="t", sections=[Section(text="body", title="Why")]))

    assert '<section class="msg-section"><h4>Why</h4><p>body</p></section>' in html


def test_button_carries_action_value_and_style():
    button = Button(action="ack", label="Acknowledge", value="INC-7", style=ButtonStyle.PRIMARY)

    html = build_html(Message(text="t", buttons=[button]))

    assert (
        '<button type="button" class="btn btn-primary" data-action="ack" data-value="INC-7">'
        "Acknowledge</button>"
    ) in html


def test_link_opens_in_a_new_tab_without_referrer():
    html = build_html(Message(text="t", links=[Link(title="Log", url="https://airflow/log")]))

    assert (
        '<a href="https://airflow/log" target="_blank" rel="noopener noreferrer">Log</a>'
    ) in html


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "/relative", ""],
)
def test_link_that_is_not_http_is_shown_without_href(url):
    html = build_html(Message(text="t", links=[Link(title="Log", url=url)]))

    assert "href" not in html
    assert "Log" in html


def test_context_items_share_one_line():
    html = build_html(Message(text="t", context=["by dana", "INC-1"]))

    assert '<p class="msg-context">by dana · INC-1</p>' in html


def test_mentions_lead_the_text_line_with_an_at_sign():
    html = build_html(Message(text="please look", mentions=["@lee", "kim"]))

    assert (
        '<p class="msg-text"><span class="mention">@lee</span> '
        '<span class="mention">@kim</span> please look</p>'
    ) in html


def test_parts_come_in_the_order_of_the_slack_blocks():
    message = Message(
        text="TEXT",
        header="HEADER",
        facts=[Fact(label="FACT", value="v")],
        sections=[Section(text="SECTION")],
        links=[Link(title="LINK", url="https://example.com")],
        buttons=[Button(action="a", label="BUTTON", value="v")],
        context=["CONTEXT"],
    )

    html = build_html(message)

    order = ["HEADER", "TEXT", "FACT", "SECTION", "LINK", "BUTTON", "CONTEXT"]
    assert [html.index(word) for word in order] == sorted(html.index(word) for word in order)


def stored(message_id, kind, text, *, user=None, updated=False):
    moment = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    return StoredMessage(
        id=message_id,
        kind=kind,
        channel="incidents",
        root_id="1",
        message=Message(text=text),
        created_at=moment,
        updated_at=moment if updated else None,
        user=user,
    )


def test_thread_shows_root_replies_and_marks_private_and_edited_messages():
    thread = ThreadView(
        root=stored("1", MessageKind.ROOT, "root", updated=True),
        messages=[
            stored("2", MessageKind.REPLY, "reply"),
            stored("3", MessageKind.PRIVATE, "only you", user="dana"),
        ],
    )

    html = build_thread_html(thread)

    assert html.index("root") < html.index("reply") < html.index("only you")
    assert html.count("Only visible to you") == 1
    assert html.count(">edited<") == 1
    assert '<time datetime="2025-03-04T05:06:07+00:00">05:06:07 UTC</time>' in html
    assert 'class="entry entry-private" data-message-id="3"' in html
