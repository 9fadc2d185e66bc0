"""The approval policy: who may approve which risk, how many must, and when nobody may.

The policy is read from a YAML file once at start-up (see docs/approvals.md) and checked
at click time, never when the buttons were posted. Without a file the bot observes only:
nobody may approve and it merely recommends.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bot.approvals import messages
from bot.approvals.freeze import Freeze
from bot.approvals.models import (
    ApprovalRequest,
    ClickAction,
    Refusal,
    RefusalReason,
    RequestStatus,
    Verdict,
)
from bot.chat.port import ButtonClick
from bot.errors import ConfigError
from bot.runbooks.models import Risk
from bot.settings import Settings

# Slack users (U…, or W… on Enterprise Grid), Slack user groups (S…), console users and
# Teams AAD object ids.
MEMBER = re.compile(
    r"^(?:[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|console:[A-Za-z0-9._@-]+"
    r"|teams:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
MEMBER_FORMATS = "U…/W… (Slack user), S… (Slack user group), console:<name>, teams:<object id>"
# How a platform's user names appear in the policy file; Slack ids are used as they are.
IDENTITY_PREFIXES = {"console": "console:", "teams": "teams:"}
DEFAULT_APPROVERS_NEEDED = {Risk.LOW: 1, Risk.MEDIUM: 1, Risk.HIGH: 2}
DEFAULT_OPEN_MINUTES = 60

RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]


class Mode(StrEnum):
    ACT = "act"
    OBSERVE = "observe"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(StrictModel):
    members: list[str] = Field(min_length=1)
    description: str = ""

    @field_validator("members")
    @classmethod
    def check_members(cls, members: list[str]) -> list[str]:
        for member in members:
            if not MEMBER.fullmatch(member):
                raise ValueError(f"{member!r} is none of {MEMBER_FORMATS}")
        return members


class RiskRule(StrictModel):
    """Who may approve one risk level, how many distinct people must, and for how long."""

    roles: list[str] = Field(default_factory=list)
    approvers_needed: int | None = Field(None, ge=1)
    requester_may_approve: bool = False
    # A fraction of a minute is allowed, for drills and tests of the expiry timer.
    open_minutes: float = Field(DEFAULT_OPEN_MINUTES, gt=0)


class Policy(StrictModel):
    """The approval policy file's contents; `check` decides one click."""

    mode: Mode = Mode.ACT
    roles: dict[RoleName, Role] = Field(default_factory=dict)
    approvals: dict[Risk, RiskRule] = Field(default_factory=dict)
    freeze: Freeze = Freeze()

    _source: Path | None = PrivateAttr(None)
    _forced_observe: bool = PrivateAttr(False)

    @property
    def source(self) -> Path | None:
        """The file the policy came from; None for the built-in observe-only default."""
        return self._source

    @property
    def is_observing(self) -> bool:
        return self.mode is Mode.OBSERVE

    @property
    def is_forced_observe(self) -> bool:
        """Observing because the OBSERVE_ONLY setting says so, whatever the file says."""
        return self._forced_observe

    def get_roles(self, risk: Risk) -> tuple[str, ...]:
        rule = self.approvals.get(risk)
        return tuple(rule.roles) if rule else ()

    def get_needed(self, risk: Risk) -> int:
        rule = self.approvals.get(risk)
        needed = rule.approvers_needed if rule else None
        return needed or DEFAULT_APPROVERS_NEEDED[risk]

    def get_open_minutes(self, risk: Risk) -> float:
        rule = self.approvals.get(risk)
        return rule.open_minutes if rule else DEFAULT_OPEN_MINUTES

    def is_member(self, click: ButtonClick, roles: tuple[str, ...]) -> bool:
        """Whether the clicker, or one of their Slack user groups, is in one of `roles`."""
        identities = {to_identity(click), *click.user_groups}
        return any(
            member in identities
            for role in roles
            if role in self.roles
            for member in self.roles[role].members
        )

    def check(self, request: ApprovalRequest, click: ButtonClick, *, now: datetime) -> Verdict:
        """Decide a click on `request` at `now`; a pure function of its arguments."""
        needed = self.get_needed(request.risk)
        refusal = self._get_state_refusal(request, click, now=now)
        if refusal is None and click.action == ClickAction.APPROVE:
            refusal = self._get_approve_refusal(request, click, now=now, needed=needed)
        elif refusal is None and click.action == ClickAction.REJECT:
            refusal = self._get_reject_refusal(request, click, now=now)
        elif refusal is None and click.action == ClickAction.ESCALATE and request.escalations:
            refusal = Refusal(RefusalReason.ALREADY_ESCALATED, click.action)
        return Verdict(refusal=refusal, needed=needed)

    def _get_state_refusal(
        self, request: ApprovalRequest, click: ButtonClick, *, now: datetime
    ) -> Refusal | None:
        if click.action not in set(ClickAction):
            return Refusal(RefusalReason.UNKNOWN_ACTION, click.action)
        if request.status is RequestStatus.SUPERSEDED:
            return Refusal(RefusalReason.SUPERSEDED, click.action)
        if request.status is RequestStatus.CANCELLED:
            return Refusal(RefusalReason.RESOLVED, click.action)
        if request.status is RequestStatus.EXPIRED or (
            request.is_open and now >= request.expires_at
        ):
            return Refusal(RefusalReason.EXPIRED, click.action)
        if not request.is_open:
            return Refusal(RefusalReason.CLOSED, click.action)
        return None

    def _get_approve_refusal(
        self, request: ApprovalRequest, click: ButtonClick, *, now: datetime, needed: int
    ) -> Refusal | None:
        action = click.action
        identity = to_identity(click)
        if self.is_observing:
            return Refusal(RefusalReason.OBSERVE_ONLY, action)
        if identity in request.approvers:
            waiting_for = max(needed - len(request.approvals), 0)
            return Refusal(RefusalReason.ALREADY_APPROVED, action, waiting_for=waiting_for)

        roles = self.get_roles(request.risk)
        if not roles:
            return Refusal(RefusalReason.NOBODY_MAY, action)
        rule = self.approvals[request.risk]
        if identity == request.requester and (
            request.risk is Risk.HIGH or not rule.requester_may_approve
        ):
            return Refusal(RefusalReason.REQUESTER, action, roles=roles)

        freeze = self.freeze.get_active(now, request.risk)
        if freeze is not None:
            roles = tuple(self.freeze.approvers)
            if not roles:
                return Refusal(RefusalReason.FROZEN, action, freeze=freeze)
        if not self.is_member(click, roles):
            return Refusal(RefusalReason.NOT_ALLOWED, action, roles=roles, freeze=freeze)
        return None

    def _get_reject_refusal(
        self, request: ApprovalRequest, click: ButtonClick, *, now: datetime
    ) -> Refusal | None:
        # Rejecting only stops something from running, so the freeze does not narrow it:
        # the risk's roles, the freeze's roles and the requester may all reject.
        roles = (*self.get_roles(request.risk), *self.freeze.approvers)
        if to_identity(click) == request.requester or self.is_member(click, roles):
            return None
        return Refusal(RefusalReason.NOT_ALLOWED, click.action, roles=tuple(dict.fromkeys(roles)))


def to_identity(click: ButtonClick) -> str:
    """The clicker as the policy file names them: `U123`, `console:alice`, `teams:<id>`."""
    prefix = IDENTITY_PREFIXES.get(click.platform)
    if prefix is None or click.user.startswith(prefix):
        return click.user
    return prefix + click.user


def get_policy(settings: Settings) -> Policy:
    """The policy the settings name, or the observe-only default when they name none."""
    return load_policy(settings.approval_policy_file, observe_only=settings.observe_only)


def load_policy(path: Path | None, *, observe_only: bool = False) -> Policy:
    """Read and validate a policy file; `observe_only` forces observe mode whatever it says.

    Raises ConfigError with one `file: field: problem` line per problem.
    """
    if path is None:
        policy = Policy(mode=Mode.OBSERVE)
    else:
        policy = to_policy(path, _read_yaml(path))
    if observe_only and not policy.is_observing:
        policy = policy.model_copy(update={"mode": Mode.OBSERVE})
        policy._forced_observe = True
    return policy


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(messages.to_unreadable_policy(path, exc)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(messages.to_policy_yaml_problem(path, line, exc)) from exc


def to_policy(path: Path, data: object) -> Policy:
    """Validate parsed YAML as a policy; raises ConfigError naming the file and fields."""
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]) or "(top level)", error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise ConfigError(messages.to_policy_problems(path, problems)) from exc
    if problems := to_reference_problems(policy):
        raise ConfigError(messages.to_policy_problems(path, problems))
    policy._source = path
    return policy


def to_reference_problems(policy: Policy) -> list[tuple[str, str]]:
    """Problems across fields: unknown role names, and high-risk rules weaker than required."""
    problems = []
    for risk, rule in policy.approvals.items():
        for role in rule.roles:
            if role not in policy.roles:
                problems.append((f"approvals.{risk}.roles", f"unknown role {role!r}"))
    for role in policy.freeze.approvers:
        if role not in policy.roles:
            problems.append(("freeze.approvers", f"unknown role {role!r}"))
    high = policy.approvals.get(Risk.HIGH)
    if high is not None and high.requester_may_approve:
        problems.append(
            ("approvals.high.requester_may_approve", "the requester never approves high risk")
        )
    if high is not None and high.approvers_needed is not None and high.approvers_needed < 2:
        problems.append(("approvals.high.approvers_needed", "high risk needs at least 2"))
    return problems
