import json

import pytest
from microsoft_teams.cards import AdaptiveCard

from bot.chat.models import Button, ButtonStyle, Fact, Link, Message, Section, Tone
from bot.chat.teams.cards import (
    MAX_CARD_BYTES,
    build_attachment,
    build_card,
    build_summary,
    to_escaped_markdown,
)

AAD_USER = "5d1c3f1e-0000-4000-8000-00000000aaaa"


def texts(card):
    """Every TextRun and TextBlock text in the card body, in order."""
    found = []
    for element in _walk(card["body"]):
        if element.get("type") == "TextRun" or element.get("type") == "TextBlock":
            found.append(element["text"])
    return found


def _walk(elements):
    for element in elements:
        yield element
        yield from _walk(element.get("items", []))
        yield from _walk(element.get("inlines", []))


FULL = Message(
    text="Rows loaded dropped to zero",
    header="INC-7 · orders_daily failed",
    tone=Tone.DANGER,
    facts=[Fact(label="State", value="triggered"), Fact(label="Severity", value="high")],
    sections=[
        Section(title="Diagnosis", text="schema-drift"),
        Section(title="Log", text="KeyError: 'order_id'", preformatted=True),
    ],
    links=[Link(title="Runbook", url="https://runbooks.example/schema-drift")],
    buttons=[
        Button(action="approve", label="Approve", value="prop-1", style=ButtonStyle.PRIMARY),
        Button(action="reject", label="Reject", value="prop-1", style=ButtonStyle.DANGER),
        Button(action="escalate", label="Escalate", value="prop-1"),
    ],
    context=["Opened by datadog"],
    mentions=[AAD_USER],
)


def test_card_validates_against_sdk_model():
    card = build_card(FULL)

    parsed = AdaptiveCard.model_validate(card)

    assert parsed.model_dump(by_alias=True, exclude_none=True) == card
    assert card["version"] == "1.5"


def test_header_carries_tone_colour():
    [header_run] = build_card(FULL)["body"][0]["inlines"]

    assert header_run["text"] == "INC-7 · orders_daily failed"
    assert header_run["color"] == "Attention"
    assert header_run["weight"] == "Bolder"


def test_facts_become_a_factset():
    [fact_set] = [e for e in build_card(FULL)["body"] if e["type"] == "FactSet"]

    assert fact_set["facts"] == [
        {"title": "State", "value": "triggered"},
        {"title": "Severity", "value": "high"},
    ]


def test_preformatted_section_is_monospace():
    runs = [e for e in _walk(build_card(FULL)["body"]) if e.get("fontType") == "Monospace"]

    assert [run["text"] for run in runs] == ["KeyError: 'order_id'"]


def test_buttons_are_action_execute_with_verb_and_opaque_value_only():
    [action_set] = [e for e in build_card(FULL)["body"] if e["type"] == "ActionSet"]

    assert action_set["actions"] == [
        {
            "type": "Action.Execute",
            "title": "Approve",
            "verb": "incident.approve",
            "data": {"value": "prop-1"},
            "style": "positive",
        },
        {
            "type": "Action.Execute",
            "title": "Reject",
            "verb": "incident.reject",
            "data": {"value": "prop-1"},
            "style": "destructive",
        },
        {
            "type": "Action.Execute",
            "title": "Escalate",
            "verb": "incident.escalate",
            "data": {"value": "prop-1"},
        },
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [("https://runbooks.example/x", True), ("javascript:alert(1)", False)],
)
def test_links_are_open_url_actions_for_web_urls_only(url, shown):
    card = build_card(Message(text="t", links=[Link(title="Runbook", url=url)]))

    expected = [{"type": "Action.OpenUrl", "title": "Runbook", "url": url}] if shown else []
    assert card.get("actions", []) == expected


def test_mention_of_aad_user_has_entity():
    card = build_card(FULL)

    assert f"<at>{AAD_USER}</at>" in texts(card)
    [entity] = card["msteams"]["entities"]
    assert entity["mentioned"]["id"] == AAD_USER


def test_mention_of_plain_name_is_text_only():
    card = build_card(Message(text="t", mentions=["data-oncall"]))

    assert "@data\\-oncall" in texts(card)
    assert "entities" not in card["msteams"]


def test_alert_text_is_never_markdown():
    title = "[click](https://evil.example) **now**"
    card = build_card(Message(text=title, header=title))

    runs = [e for e in _walk(card["body"]) if e.get("type") == "TextRun"]
    assert {run["text"] for run in runs} == {title}
    assert not [e for e in card["body"] if e["type"] == "TextBlock"]


def test_fact_values_have_markdown_escaped():
    card = build_card(Message(text="t", facts=[Fact(label="Host", value="[x](https://e.example)")]))

    [fact_set] = card["body"][1:]
    assert fact_set["facts"][0]["value"] == "\\[x\\]\\(https://e.example\\)"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("a*b_c", "a\\*b\\_c"), ("[x](y)", "\\[x\\]\\(y\\)"), ("plain", "plain"), ("# h", "\\# h")],
)
def test_to_escaped_markdown(text, escaped):
    assert to_escaped_markdown(text) == escaped


def test_long_text_is_cut_with_marker():
    card = build_card(Message(text="x" * 5000))

    [text] = texts(card)
    assert len(text) == 3000
    assert text.endswith("(cut to fit Teams' limit)")


def test_long_preformatted_section_keeps_its_tail():
    log = "start\n" + "line\n" * 2000 + "Error: the end"
    card = build_card(Message(text="t", sections=[Section(text=log, preformatted=True)]))

    [run] = [e for e in _walk(card["body"]) if e.get("fontType") == "Monospace"]
    assert run["text"].endswith("Error: the end")
    assert run["text"].startswith("… (cut")


def test_oversized_card_leaves_out_trailing_sections_and_keeps_buttons():
    sections = [Section(text=f"{n} " + "y" * 2900) for n in range(20)]
    button = Button(action="ack", label="Ack", value="INC-1")
    card = build_card(Message(text="t", sections=sections, buttons=[button]))

    assert len(json.dumps(card, ensure_ascii=False).encode()) <= MAX_CARD_BYTES
    assert any("more part(s) of this message are not shown" in text for text in texts(card))
    assert card["body"][-1]["type"] == "ActionSet"


def test_many_buttons_wrap_into_rows_of_six():
    buttons = [Button(action="ack", label=f"B{n}", value=str(n)) for n in range(8)]

    rows = [
        e
        for e in build_card(Message(text="t", buttons=buttons))["body"]
        if e["type"] == "ActionSet"
    ]

    assert [len(row["actions"]) for row in rows] == [6, 2]


def test_attachment_wraps_card_with_content_type():
    attachment = build_attachment(FULL)

    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"] == build_card(FULL)


@pytest.mark.parametrize(
    ("message", "summary"),
    [
        (Message(text="body", header="head"), "body"),
        (Message(text="", header="head"), "head"),
    ],
)
def test_summary_prefers_text_over_header(message, summary):
    assert build_summary(message) == summary
