"""The whole bot with its console as the chat surface, driven in headless Chromium."""

import pytest
from playwright.async_api import expect

from tests.browser import open_page, serve_in_loop
from tests.scenarios.harness import build_settings, start_bot

pytestmark = pytest.mark.browser


@pytest.fixture
async def console_url(redis, redis_url):
    """The app on a loopback port (the console refuses other Host headers), worker running."""
    async with start_bot(build_settings(redis_url)) as bot, serve_in_loop(bot.app) as base_url:
        yield base_url
        bot.runtime.console.close()


@pytest.fixture
async def page(tmp_path):
    async with open_page(tmp_path / "chromium-profile") as browser_page:
        yield browser_page


async def test_sample_alert_opens_a_thread_that_acknowledges_without_a_reload(
    console_url, page, tmp_path
):
    await page.goto(f"{console_url}/console")
    await expect(page.locator("#live")).to_have_text("live")

    await page.get_by_role("button", name="Send a Datadog monitor alert").click()

    await expect(page.locator(".thread-link")).to_have_count(1)
    root = page.locator("#thread .entry-root")
    await expect(root.locator(".msg-header")).to_contain_text("INC-1")
    await expect(root).not_to_contain_text("Acknowledged")
    # Later replies (diagnosis, escalation) may follow; the alert is always the first.
    await expect(page.locator("#thread .entry-reply").first).to_contain_text("Alert firing")

    await root.get_by_role("button", name="Acknowledge").click()

    await expect(root).to_contain_text("Acknowledged by")
    await page.screenshot(path=tmp_path / "console-acknowledged.png", full_page=True)
