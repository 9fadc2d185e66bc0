import pytest

from bot.chat.models import Fact, Link, Message, Section
from bot.tickets.jira_format import to_adf, to_plain_text, to_wiki

MESSAGE = Message(
    text="Alert firing\nsecond line",
    header="INC-1: orders_daily failed",
    facts=[Fact(label="Severity", value="high")],
    sections=[
        Section(title="Log", text="Traceback {noformat}\nKeyError", preformatted=True),
        Section(text="See [docs] | *now*"),
    ],
    links=[Link(title="Thread", url="http://bot.test/console")],
    context=["by datadog"],
)


def test_adf_document_has_heading_list_code_link_and_line_breaks():
    document = to_adf([MESSAGE])

    types = [block["type"] for block in document["content"]]
    assert (document["type"], document["version"]) == ("doc", 1)
    assert types == [
        "heading",  # header
        "paragraph",  # text
        "bulletList",  # facts
        "paragraph",  # section title
        "codeBlock",  # preformatted section
        "paragraph",  # plain section
        "paragraph",  # links
        "paragraph",  # context
    ]
    assert {"type": "hardBreak"} in document["content"][1]["content"]
    link = document["content"][6]["content"][0]
    assert link["marks"] == [{"type": "link", "attrs": {"href": "http://bot.test/console"}}]


def test_adf_never_contains_empty_text_nodes():
    document = to_adf([Message(text="a\n\nb"), Message(text="", sections=[Section(text="")])])

    texts = [node for block in document["content"] for node in block.get("content", [])]
    assert all(node.get("text") != "" for node in texts)


def test_adf_separates_messages_with_rules_and_ends_with_the_footer():
    document = to_adf([Message(text="one"), Message(text="two")], footer="marker line")

    types = [block["type"] for block in document["content"]]
    assert types == ["paragraph", "rule", "paragraph", "paragraph"]
    assert to_plain_text(document).splitlines()[-1] == "marker line"


def test_wiki_markup_escapes_text_and_keeps_preformatted_text_verbatim():
    wiki = to_wiki([MESSAGE])

    assert wiki.startswith("h3. INC-1: orders\\_daily failed")
    assert "* *Severity:* high" in wiki
    assert "{noformat}\nTraceback { noformat}\nKeyError\n{noformat}" in wiki
    assert "See \\[docs\\] \\| \\*now\\*" in wiki
    assert "[Thread|http://bot.test/console]" in wiki


def test_wiki_markup_separates_messages_with_rules_and_ends_with_the_footer():
    wiki = to_wiki([Message(text="one"), Message(text="two")], footer="marker line")

    assert wiki == "one\n\n----\n\ntwo\n\n_marker line_"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("plain *wiki*", "plain *wiki*"),
        (None, ""),
        (
            {
                "type": "doc",
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Can we "}]},
                    {
                        "type": "paragraph",
                        "content": [
                            {"type": "text", "text": "rerun"},
                            {"type": "hardBreak"},
                            {"type": "text", "text": "it?"},
                        ],
                    },
                ],
            },
            "Can we \nrerun\nit?",
        ),
    ],
)
def test_plain_text_reads_adf_and_wiki_bodies(body, text):
    assert to_plain_text(body) == text
