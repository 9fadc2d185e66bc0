"""The console page in headless Chromium: live threads, buttons and commands."""

import pytest
from playwright.async_api import expect

from bot.chat.models import Button, Message
from bot.chat.port import ThreadRef
from tests.browser import open_page

pytestmark = pytest.mark.browser


async def test_sample_alert_opens_a_thread_that_appears_without_a_reload(
    console_url, page, tmp_path
):
    await page.goto(f"{console_url}/console")
    await expect(page.locator("#live")).to_have_text("live")

    await page.get_by_role("button", name="Send a Datadog monitor alert").click()

    await expect(page.locator("#sample-status")).to_have_text("Sent a sample datadog alert.")
    await expect(page.locator(".thread-link")).to_have_count(1)
    await expect(page.locator("#thread-title")).to_have_text("INC-1: orders_daily failed")
    await expect(page.locator("#thread pre")).to_contain_text("KeyError: 'customer_id'")
    await page.screenshot(path=tmp_path / "console-thread.png", full_page=True)


async def test_button_click_shows_the_private_answer_in_the_thread(
    console_url, page, handlers, tmp_path
):
    await page.goto(f"{console_url}/console")
    await expect(page.locator("#live")).to_have_text("live")
    await page.get_by_role("button", name="Send a CloudWatch alarm").click()

    await page.locator("#thread").get_by_role("button", name="Acknowledge").click()

    private = page.locator(".entry-private")
    await expect(private).to_contain_text("Only visible to you")
    await expect(private).to_contain_text("INC-1 acknowledged by dana.")
    await page.screenshot(path=tmp_path / "console-private.png", full_page=True)
    assert [(click.action, click.value) for click in handlers.clicks] == [("ack", "INC-1")]


async def test_reply_posted_by_a_worker_appears_in_the_open_thread(console_url, page, chat):
    await page.goto(f"{console_url}/console")
    await page.get_by_role("button", name="Send an Airflow task failure").click()
    await expect(page.locator("#thread-title")).to_have_text("INC-1: orders_daily failed")
    [summary] = await chat.store.list_threads()

    thread = await chat.post_root(channel="other", message=Message(text="second incident"))
    await chat.post_reply(thread=thread, message=Message(text="unrelated"))
    await chat.update_root(
        thread=_to_ref(summary), message=Message(text="INC-1 Resolved", header="INC-1 resolved")
    )

    await expect(page.locator(".thread-link")).to_have_count(2)
    await expect(page.locator("#thread .msg-header").first).to_have_text("INC-1 resolved")


async def test_command_box_shows_the_command_answer(console_url, page, handlers):
    await page.goto(f"{console_url}/console")

    await page.locator("#command-input").fill("/incident list")
    await page.locator("#command-input").press("Enter")

    await expect(page.locator("#command-output")).to_contain_text("You asked for 'list'.")
    assert [command.text for command in handlers.commands] == ["list"]


async def test_refused_click_shows_the_reason(console_url, chat, tmp_path):
    approve = Button(action="approve", label="Approve", value="A-1")
    await chat.post_root(channel="incidents", message=Message(text="Plan", buttons=[approve]))

    async with open_page(tmp_path / "profile", expected_errors=["status of 403"]) as page:
        await page.goto(f"{console_url}/console")
        await page.locator("#thread").get_by_role("button", name="Approve").click()

        await expect(page.locator("#notice")).to_have_text(
            "Only the data-platform team may approve this."
        )


def _to_ref(summary):
    return ThreadRef(platform="console", channel=summary.root.channel, root_id=summary.root.id)
