"""A console on the test's Redis, a small app around its router, and a browser page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from bot.chat.console.adapter import ConsoleChat
from bot.chat.console.routes import build_console_router
from bot.chat.models import Button, ButtonStyle, Fact, Message, Section, Tone
from bot.chat.port import ButtonClick, CommandRequest
from bot.errors import Forbidden
from bot.settings import Settings
from tests.browser import open_page, serve_in_loop

SAMPLE_KINDS = ("datadog", "cloudwatch", "airflow")
TOKEN = "console-test-token"


@dataclass
class Handlers:
    """Stand-ins for the incident flows: they record what the console passed them."""

    chat: ConsoleChat
    clicks: list[ButtonClick] = field(default_factory=list)
    commands: list[CommandRequest] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)

    async def on_click(self, click: ButtonClick) -> Message | None:
        self.clicks.append(click)
        if click.action == "approve":
            raise Forbidden("Only the data-platform team may approve this.")
        if click.action == "ack":
            return Message(text=f"{click.value} acknowledged by {click.user}.", tone=Tone.GOOD)
        return None

    async def on_command(self, request: CommandRequest) -> Message:
        self.commands.append(request)
        return Message(text=f"You asked for '{request.text}'.", header="incident-bot")

    async def send_sample(self, kind: str) -> str:
        self.samples.append(kind)
        number = len(self.samples)
        thread = await self.chat.post_root(channel="data-incidents", message=build_root(number))
        await self.chat.post_reply(thread=thread, message=build_alert_reply(kind))
        return f"Sent a sample {kind} alert."


def build_root(number: int) -> Message:
    return Message(
        text=f"INC-{number} Triggered: orders_daily failed",
        header=f"INC-{number}: orders_daily failed",
        tone=Tone.DANGER,
        facts=[Fact(label="State", value="Triggered"), Fact(label="Severity", value="high")],
        buttons=[
            Button(
                action="ack", label="Acknowledge", value=f"INC-{number}", style=ButtonStyle.PRIMARY
            ),
            Button(action="resolve", label="Resolve", value=f"INC-{number}"),
        ],
        context=["fingerprint fp-orders"],
    )


def build_alert_reply(kind: str) -> Message:
    return Message(
        text=f"Alert firing ({kind}): orders_daily.load failed",
        tone=Tone.WARNING,
        sections=[Section(text="KeyError: 'customer_id'\n  at load()", preformatted=True)],
    )


def build_settings(**overrides) -> Settings:
    return Settings(_env_file=None, **overrides)


def build_app(handlers: Handlers, settings: Settings, **router_options) -> FastAPI:
    app = FastAPI()
    router = build_console_router(
        chat=handlers.chat,
        settings=settings,
        on_click=handlers.on_click,
        on_command=handlers.on_command,
        send_sample=handlers.send_sample,
        sample_kinds=SAMPLE_KINDS,
        **router_options,
    )
    app.include_router(router)
    return app


@pytest.fixture
def chat(redis):
    # Pub/sub channels are shared by every database of a Redis server; a prefix of its own
    # keeps other test runs on the same server out of this test's subscriber counts.
    return ConsoleChat(redis, prefix=f"console-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def handlers(chat):
    return Handlers(chat)


@pytest.fixture
def loopback_settings():
    return build_settings(host="127.0.0.1", console_user="dana")


@pytest.fixture
def exposed_settings():
    return build_settings(host="0.0.0.0", console_token=SecretStr(TOKEN), console_user="dana")


@pytest.fixture
async def console_url(handlers, loopback_settings):
    """A loopback console served on the test's loop; its streams close before shutdown."""
    async with serve_in_loop(build_app(handlers, loopback_settings)) as base_url:
        yield base_url
        handlers.chat.close()


@pytest.fixture
async def exposed_url(handlers, exposed_settings):
    """A console that demands its token, as when bound beyond loopback."""
    async with serve_in_loop(build_app(handlers, exposed_settings)) as base_url:
        yield base_url
        handlers.chat.close()


@pytest.fixture
async def page(tmp_path):
    async with open_page(tmp_path / "chromium-profile") as browser_page:
        yield browser_page
