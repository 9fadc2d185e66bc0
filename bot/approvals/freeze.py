"""Change-freeze windows: weekly time ranges and absolute date ranges in one time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bot.runbooks.models import Risk

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def to_clock_text(value: object) -> object:
    # YAML 1.1 reads an unquoted 16:00 as the base-60 number 960, which pydantic would
    # then take for 00:16:00; only quoted text is safe.
    if not isinstance(value, str):
        raise ValueError('write the time in quotes, like "16:00"')
    return value


ClockTime = Annotated[time, BeforeValidator(to_clock_text)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ActiveFreeze:
    """The freeze in force at some moment, and when it ends."""

    name: str
    until: datetime


class WeeklyWindow(StrictModel):
    """A range of the day on some weekdays; an `end` not after `start` runs past midnight."""

    name: str = "weekly change freeze"
    days: list[Weekday] = Field(min_length=1)
    start: ClockTime
    end: ClockTime

    def get_active(self, local: datetime) -> ActiveFreeze | None:
        zone = local.tzinfo
        for day in (local.date(), local.date() - timedelta(days=1)):
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            begins = datetime.combine(day, self.start, tzinfo=zone)
            end_day = day if self.end > self.start else day + timedelta(days=1)
            ends = datetime.combine(end_day, self.end, tzinfo=zone)
            if begins <= local < ends:
                return ActiveFreeze(name=self.name, until=ends)
        return None


class DateWindow(StrictModel):
    """Whole days from `start` to `end`, both included."""

    name: str = "change freeze"
    start: date
    end: date

    @model_validator(mode="after")
    def check_order(self) -> DateWindow:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self

    def get_active(self, local: datetime) -> ActiveFreeze | None:
        if not self.start <= local.date() <= self.end:
            return None
        until = datetime.combine(self.end + timedelta(days=1), time(), tzinfo=local.tzinfo)
        return ActiveFreeze(name=self.name, until=until)


class Freeze(StrictModel):
    """When changes are frozen, and who may still approve then.

    During a freeze the roles in `approvers` replace the risk's own roles; an empty list
    means nobody may approve until the freeze ends. Approvals given before it began still
    count.
    """

    timezone: str = "UTC"
    approvers: list[str] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=lambda: list(Risk))
    weekly: list[WeeklyWindow] = Field(default_factory=list)
    dates: list[DateWindow] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def get_active(self, now: datetime, risk: Risk) -> ActiveFreeze | None:
        """The freeze that covers `risk` at `now`, if any; the latest-ending one wins."""
        if risk not in self.risks:
            return None
        local = now.astimezone(ZoneInfo(self.timezone))
        windows: list[WeeklyWindow | DateWindow] = [*self.weekly, *self.dates]
        active = [found for window in windows if (found := window.get_active(local))]
        return max(active, key=lambda found: found.until, default=None)
