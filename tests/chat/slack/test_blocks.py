import pytest

from bot.chat.models import Button, ButtonStyle, Fact, Link, Message, Section, Tone
from bot.chat.slack import messages
from bot.chat.slack.blocks import (
    MAX_BLOCKS,
    MAX_TEXT,
    build_blocks,
    build_fallback_text,
    to_mention,
)


def blocks_of_type(blocks, kind):
    return [block for block in blocks if block["type"] == kind]


def all_mrkdwn_texts(blocks):
    texts = []
    for block in blocks:
        if "text" in block and block["text"]["type"] == "mrkdwn":
            texts.append(block["text"]["text"])
        texts.extend(field["text"] for field in block.get("fields", []))
        texts.extend(
            element["text"]
            for element in block.get("elements", [])
            if "text" in element and isinstance(element["text"], str)
        )
    return texts


def test_header_is_plain_text_led_by_the_tone_emoji():
    blocks = build_blocks(Message(text="summary", header="INC-1: orders failed", tone=Tone.DANGER))

    header, text = blocks
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":red_circle: INC-1: orders failed", "emoji": True},
    }
    assert text["text"] == {"type": "mrkdwn", "text": "summary"}


@pytest.mark.parametrize(
    ("tone", "expected"),
    [
        (Tone.NEUTRAL, "ack by someone"),
        (Tone.GOOD, ":large_green_circle: ack by someone"),
        (Tone.WARNING, ":large_orange_circle: ack by someone"),
        (Tone.DANGER, ":red_circle: ack by someone"),
    ],
)
def test_message_without_header_shows_the_tone_before_its_text(tone, expected):
    [block] = build_blocks(Message(text="ack by someone", tone=tone))

    assert block == {"type": "section", "text": {"type": "mrkdwn", "text": expected}}


@pytest.mark.parametrize(
    ("count", "sections"), [(1, [1]), (10, [10]), (11, [10, 1]), (25, [10, 10, 5])]
)
def test_facts_are_chunked_into_sections_of_at_most_ten_fields(count, sections):
    facts = [Fact(label=f"L{n}", value=f"v{n}") for n in range(count)]

    blocks = build_blocks(Message(text="", facts=facts))

    assert [len(block["fields"]) for block in blocks] == sections
    assert blocks[0]["fields"][0] == {"type": "mrkdwn", "text": "*L0*\nv0"}


def test_section_shows_its_title_in_bold_above_the_text():
    [_, block] = build_blocks(Message(text="t", sections=[Section(title="Evidence", text="line")]))

    assert block["text"]["text"] == "*Evidence*\nline"


def test_preformatted_section_is_fenced_as_code():
    [_, block] = build_blocks(
        Message(text="t", sections=[Section(text="x = 1", preformatted=True)])
    )

    assert block["text"]["text"] == "```x = 1```"


@pytest.mark.parametrize("preformatted", [False, True])
def test_long_section_is_cut_to_slacks_limit_with_a_marker(preformatted):
    text = "".join(f"line {n}\n" for n in range(1000))

    [_, block] = build_blocks(
        Message(text="t", sections=[Section(title="Log", text=text, preformatted=preformatted)])
    )

    shown = block["text"]["text"]
    assert len(shown) <= MAX_TEXT
    assert messages.to_cut_marker() in shown


def test_long_preformatted_section_keeps_its_tail_where_the_error_is():
    text = "".join(f"frame {n}\n" for n in range(1000)) + "KeyError: 'amount'"

    [_, block] = build_blocks(Message(text="t", sections=[Section(text=text, preformatted=True)]))

    shown = block["text"]["text"]
    assert shown.startswith("```" + messages.to_cut_marker())
    assert shown.endswith("KeyError: 'amount'```")


def test_long_plain_section_keeps_its_head():
    text = "first words " + "x" * 5000

    [_, block] = build_blocks(Message(text="t", sections=[Section(text=text)]))

    assert block["text"]["text"].startswith("first words ")
    assert block["text"]["text"].endswith(messages.to_cut_marker())


def test_cutting_escaped_text_never_splits_an_entity():
    [_, block] = build_blocks(Message(text="t", sections=[Section(text="&" * 2000)]))

    body = block["text"]["text"].removesuffix("\n" + messages.to_cut_marker())
    assert len(block["text"]["text"]) <= MAX_TEXT
    assert body == "&amp;" * (len(body) // len("&amp;"))


def test_user_text_is_escaped_everywhere_it_appears():
    hostile = "<!channel> & <https://evil.test|click>"
    message = Message(
        text=hostile,
        header="h",
        facts=[Fact(label=hostile, value=hostile)],
        sections=[Section(title=hostile, text=hostile), Section(text=hostile, preformatted=True)],
        context=[hostile],
    )

    texts = all_mrkdwn_texts(build_blocks(message))

    assert len(texts) == 5
    for text in texts:
        assert "<" not in text and ">" not in text
        assert "&lt;!channel&gt; &amp; &lt;https://evil.test|click&gt;" in text


def test_fallback_text_is_escaped_and_starts_with_the_mentions():
    message = Message(text="a < b & c", mentions=["U123", "S456"])

    assert build_fallback_text(message) == "<@U123> <!subteam^S456> a &lt; b &amp; c"


def test_fallback_text_falls_back_to_the_header():
    assert build_fallback_text(Message(text="", header="INC-1: down")) == "INC-1: down"


@pytest.mark.parametrize(
    ("member", "rendered"),
    [
        ("U0123ABC", "<@U0123ABC>"),
        ("W0123ABC", "<@W0123ABC>"),
        ("S0123ABC", "<!subteam^S0123ABC>"),
        ("oncall", "@oncall"),
        ("U1>|<!channel", "@U1&gt;|&lt;!channel"),
    ],
)
def test_mention_depends_on_the_id_prefix(member, rendered):
    assert to_mention(member) == rendered


def test_mentions_lead_the_text_section():
    blocks = build_blocks(Message(text="please look", header="h", mentions=["U1AA", "S2BB"]))

    assert blocks[1]["text"]["text"] == "<@U1AA> <!subteam^S2BB> please look"


def test_links_are_one_section_of_escaped_slack_links():
    links = [
        Link(title="Airflow log", url="https://airflow.test/log?dag=a&task=b"),
        Link(title="Runbook <v2>", url="https://wiki.test/x|y"),
    ]

    [_, block] = build_blocks(Message(text="t", links=links))

    assert block["text"]["text"] == (
        "<https://airflow.test/log?dag=a&amp;task=b|Airflow log>  ·  "
        "<https://wiki.test/x%7Cy|Runbook &lt;v2&gt;>"
    )


def test_buttons_carry_prefixed_action_id_opaque_value_and_style():
    buttons = [
        Button(action="ack", label="Acknowledge", value="INC-1", style=ButtonStyle.PRIMARY),
        Button(action="reject", label="Reject", value="p-9", style=ButtonStyle.DANGER),
        Button(action="resolve", label="Resolve", value="INC-1"),
    ]

    [_, actions] = build_blocks(Message(text="t", buttons=buttons))

    assert actions["type"] == "actions"
    assert [(e["action_id"], e["value"], e.get("style")) for e in actions["elements"]] == [
        ("incident.ack", "INC-1", "primary"),
        ("incident.reject", "p-9", "danger"),
        ("incident.resolve", "INC-1", None),
    ]
    assert actions["elements"][0]["text"] == {
        "type": "plain_text",
        "text": "Acknowledge",
        "emoji": True,
    }


def test_repeated_action_starts_a_new_row_so_action_ids_stay_unique_per_block():
    buttons = [
        Button(action="approve", label="Approve A", value="p-1"),
        Button(action="approve", label="Approve B", value="p-2"),
        Button(action="reject", label="Reject", value="p-1"),
    ]

    rows = blocks_of_type(build_blocks(Message(text="t", buttons=buttons)), "actions")

    assert [[e["value"] for e in row["elements"]] for row in rows] == [["p-1", "p-1"], ["p-2"]]


@pytest.mark.parametrize(("count", "sizes"), [(3, [3]), (10, [10]), (12, [10, 2])])
def test_context_is_chunked_into_blocks_of_at_most_ten_elements(count, sizes):
    context = [f"c{n}" for n in range(count)]

    blocks = blocks_of_type(build_blocks(Message(text="t", context=context)), "context")

    assert [len(block["elements"]) for block in blocks] == sizes
    assert blocks[0]["elements"][0] == {"type": "mrkdwn", "text": "c0"}


def test_message_with_too_many_sections_stays_within_fifty_blocks_and_keeps_buttons():
    message = Message(
        text="t",
        header="h",
        sections=[Section(text=f"s{n}") for n in range(80)],
        buttons=[Button(action="ack", label="Ack", value="INC-1")],
        context=["fingerprint fp"],
    )

    blocks = build_blocks(message)

    assert len(blocks) == MAX_BLOCKS
    assert [block["type"] for block in blocks[-2:]] == ["actions", "context"]
    notice = blocks[-3]["elements"][0]["text"]
    assert notice == messages.to_blocks_left_out(80 - (MAX_BLOCKS - 5))


def test_long_header_and_button_label_are_cut_to_slacks_limits():
    message = Message(
        text="t",
        header="h" * 400,
        buttons=[Button(action="ack", label="a" * 200, value="INC-1")],
    )

    header, _, actions = build_blocks(message)

    assert len(header["text"]["text"]) == 150
    assert len(actions["elements"][0]["text"]["text"]) == 75


def test_empty_message_parts_render_no_blocks():
    assert build_blocks(Message(text="")) == []
