import pytest

from bot.chat.port import ThreadRef
from bot.tickets import messages
from tests.tickets.conftest import make_incident


@pytest.mark.parametrize(
    ("thread", "url"),
    [
        (None, None),
        (
            ThreadRef(platform="console", channel="incidents", root_id="7"),
            "http://bot.test/console",
        ),
        (
            ThreadRef(platform="slack", channel="C0001", root_id="1700000000.000100"),
            "https://slack.com/archives/C0001/p1700000000000100",
        ),
        (ThreadRef(platform="teams", channel="19:abc", root_id="1"), None),
    ],
)
def test_thread_url_is_built_where_the_platform_ids_allow(thread, url):
    assert messages.to_thread_url(thread, base_url="http://bot.test") == url


def test_summary_is_one_line_within_jiras_limit():
    summary = messages.to_summary(make_incident(title="line one\nline two " + "x" * 300))

    assert "\n" not in summary
    assert len(summary) == messages.SUMMARY_LIMIT
    assert summary.startswith("INC-1: line one line two")


@pytest.mark.parametrize(("first", "last"), [(1, 1), (3, 9)])
def test_comment_marker_is_recognised_as_the_bots(first, last):
    marker = messages.to_comment_marker("INC-12", first, last)

    assert messages.is_bot_comment(f"Alert firing\n\n_{marker}_")
    assert not messages.is_bot_comment("incident-bot is great")
