"""The rule engine: the catalogue's patterns scored over normalised log lines.

Scoring, per playbook: each of its patterns counts once, with the weight of its best line
(a WARNING line counts `WARNING_FACTOR` of it), and the weights combine as a noisy-or,
`1 - prod(1 - w)`, so independent signs add up but never pass 1. A class scores its best
eligible playbook. Root cause beats consequence: a class whose only evidence is consequence
patterns (a SIGTERM, a lost heartbeat, a task timeout) is multiplied by
`CONSEQUENCE_FACTOR` when another class has causal evidence, and two classes within
`TIE_MARGIN` are ordered by their first causal line, the earlier one being the cause.

Confidence is `top - RUNNER_UP_PENALTY * runner_up`: the best score less 0.6 of the next,
because two strong rival explanations mean the evidence is ambiguous; two near-certain
rivals fall below the default threshold. Below the
threshold the answer is `unknown` when the log shows a failure, `none` when it does not.
A log whose last failure line is followed by a terminal success (a retry that worked) is
`none` whatever matched before it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.diagnosis import messages
from bot.diagnosis.models import (
    NOT_AN_INCIDENT,
    UNKNOWN,
    Alternative,
    Diagnosis,
    Evidence,
    EvidenceLine,
)
from bot.diagnosis.normalise import LogLine, ParsedLog, to_parsed_log
from bot.diagnosis.prefilter import is_possible, to_candidate_lines, to_literals
from bot.runbooks.catalogue import Catalogue, to_platform_rank
from bot.runbooks.models import Playbook, to_filled_template

DEFAULT_THRESHOLD = 0.5
WARNING_FACTOR = 0.85
CONSEQUENCE_FACTOR = 0.4
# Causal evidence must be at least this strong before it discounts consequence-only classes.
CAUSE_MIN = 0.5
TIE_MARGIN = 0.05
RUNNER_UP_PENALTY = 0.6
MAX_EVIDENCE_LINES = 6
MAX_ALTERNATIVES = 4
MAX_QUOTE_CHARS = 400
LEVEL_FACTORS = {"warning": WARNING_FACTOR, "debug": WARNING_FACTOR}

# Markers of the software that wrote the log, to choose the playbook's platform variant.
PLATFORM_MARKERS = (
    (
        "spark",
        re.compile(
            r"org\.apache\.spark|pyspark|SparkContext|SparkSession|spark-submit|DAGScheduler"
            r"|TaskSetManager|\bExecutor\b.*\b(?:lost|exited)\b|ExecutorLostFailure|\bYARN\b"
            r"|AWS ?Glue|GlueContext|Databricks|\bEMR\b|py4j",
            re.IGNORECASE,
        ),
    ),
    ("dbt", re.compile(r"\bdbt\b|Running with dbt=|Database Error in model|Done\. PASS=")),
    (
        "airflow",
        re.compile(
            r"\bairflow\b|taskinstance\.py|Marking task as|\bdag_id\b|DagBag|Broken DAG"
            r"|final_state=|local_task_job",
            re.IGNORECASE,
        ),
    ),
    ("python", re.compile(r"Traceback \(most recent call last\)")),
)


# Airflow 2 names the task instance in its "Marking task as ..." line; used when the alert
# did not say which task failed.
AIRFLOW_TASK = re.compile(
    r"\bdag_id=(?P<dag_id>[\w.-]+), task_id=(?P<task_id>[\w.-]+)"
    r"(?:, run_id=(?P<dag_run_id>[^,\s]+))?"
)


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    regex: re.Pattern[str]
    weight: float
    consequence: bool
    literals: tuple[tuple[str, ...], ...] | None


@dataclass(frozen=True, slots=True)
class CompiledPlaybook:
    playbook: Playbook
    patterns: tuple[CompiledPattern, ...]
    required: tuple[CompiledPattern, ...]
    excluding: tuple[CompiledPattern, ...]
    extract: tuple[re.Pattern[str], ...]


@dataclass(slots=True)
class Score:
    """What one playbook, then one class, found in the evidence."""

    playbook: Playbook
    score: float = 0.0
    causal: bool = False
    first_line: int = 1 << 30
    lines: list[tuple[LogLine, re.Match[str]]] = field(default_factory=list)


class RuleEngine:
    """Diagnoses evidence with the catalogue's patterns; pure, synchronous, no I/O."""

    def __init__(self, catalogue: Catalogue, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.catalogue = catalogue
        self.threshold = threshold
        self._playbooks = {playbook.id: to_compiled(playbook) for playbook in catalogue.playbooks}

    def diagnose(
        self, evidence: Sequence[Evidence], *, context: Mapping[str, str] | None = None
    ) -> Diagnosis:
        """The failure class, playbook and confidence the evidence supports.

        `context` holds what the alert already knows (dag_id, task_id, platform...): it
        fills placeholders, and `platform` chooses between a class's playbook variants.
        """
        context = dict(context or {})
        notes = [item.note for item in evidence if item.note]
        log = to_parsed_log(evidence)
        platform = context.get("platform") or to_platform(log.text, context)
        by_class = self._score_playbooks(log)
        ranked = to_ranked(
            [max(scores, key=lambda item: item.score) for scores in by_class.values()]
        )
        confidence = to_confidence(ranked)

        if is_recovered(log):
            return to_benign(ranked, notes, platform, summary=messages.to_recovered())
        if not ranked or confidence < self.threshold:
            if not log.has_failure:
                return to_benign(ranked, notes, platform, summary=messages.to_no_failure())
            return to_unknown(ranked, notes, platform, confidence)
        if not is_failure_shown(ranked[0], log):
            return to_benign(ranked, notes, platform, summary=messages.to_no_failure())

        chosen = to_chosen(by_class[ranked[0].playbook.failure_class], platform)
        compiled = self._playbooks[chosen.playbook.id]
        values = to_values(chosen, compiled, context=context, platform=platform, log_text=log.text)
        return Diagnosis(
            failure_class=chosen.playbook.failure_class,
            playbook_id=chosen.playbook.id,
            confidence=confidence,
            summary=to_filled_template(chosen.playbook.diagnosis, values),
            evidence_lines=to_evidence_lines(chosen),
            alternatives=to_alternatives(ranked[1:]),
            notes=notes,
            values=values,
            platform=platform,
        )

    def _score_playbooks(self, log: ParsedLog) -> dict[str, list[Score]]:
        """Every playbook that matched, by class, with consequence-only classes discounted."""
        by_class: dict[str, list[Score]] = {}
        for compiled in self._playbooks.values():
            score = to_playbook_score(compiled, log)
            if score is not None:
                by_class.setdefault(compiled.playbook.failure_class, []).append(score)
        has_cause = any(
            score.causal and score.score >= CAUSE_MIN
            for scores in by_class.values()
            for score in scores
        )
        if has_cause:
            for scores in by_class.values():
                if not any(score.causal for score in scores):
                    for score in scores:
                        score.score *= CONSEQUENCE_FACTOR
        return by_class


def to_confidence(ranked: list[Score]) -> float:
    if not ranked:
        return 0.0
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    return round(max(0.0, ranked[0].score - RUNNER_UP_PENALTY * runner_up), 3)


def to_chosen(scores: list[Score], platform: str | None) -> Score:
    """The class's matched playbook written for the platform, else its best-scoring one."""
    return min(scores, key=lambda item: (to_platform_rank(item.playbook, platform), -item.score))


def to_compiled(playbook: Playbook) -> CompiledPlaybook:
    recognition = playbook.recognition
    return CompiledPlaybook(
        playbook=playbook,
        patterns=tuple(
            CompiledPattern(
                to_regex(item.regex), item.weight, item.consequence, to_literals(item.regex)
            )
            for item in recognition.patterns
        ),
        required=tuple(to_condition(item) for item in recognition.required),
        excluding=tuple(to_condition(item) for item in recognition.excluding),
        extract=tuple(to_regex(item) for item in recognition.extract),
    )


def to_condition(regex: str) -> CompiledPattern:
    """A required or excluding regex, matched like a pattern but never scored."""
    return CompiledPattern(to_regex(regex), 1.0, False, to_literals(regex))


def to_regex(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE | re.MULTILINE)


def to_playbook_score(compiled: CompiledPlaybook, log: ParsedLog) -> Score | None:
    """The playbook's score, or None when it does not apply or nothing matched."""
    if any(to_best_hit(condition, log) for condition in compiled.excluding):
        return None
    if not all(to_best_hit(condition, log) for condition in compiled.required):
        return None
    result = Score(compiled.playbook)
    miss = 1.0
    for pattern in compiled.patterns:
        hit = to_best_hit(pattern, log)
        if hit is None:
            continue
        weight, line, match = hit
        miss *= 1.0 - weight
        result.lines.append((line, match))
        if not pattern.consequence:
            result.causal = True
            result.first_line = min(result.first_line, line.position)
    if not result.lines:
        return None
    result.score = 1.0 - miss
    if not result.causal:
        result.first_line = min(line.position for line, _ in result.lines)
    return result


def to_best_hit(
    pattern: CompiledPattern, log: ParsedLog
) -> tuple[float, LogLine, re.Match[str]] | None:
    """The earliest line with the highest weight the pattern reaches.

    Only lines holding the pattern's literal words are tried: most patterns match nothing
    in a given log, and a substring search rules them out far faster than the regex.
    """
    best: tuple[float, LogLine, re.Match[str]] | None = None
    for index in to_candidate_lines(pattern.literals, log.lowered, log.starts, log.found):
        line = log.lines[index]
        if not is_possible(pattern.literals, line.lowered):
            continue
        match = pattern.regex.search(line.normal)
        if match is None:
            continue
        weight = pattern.weight * LEVEL_FACTORS.get(line.level or "", 1.0)
        if best is None or weight > best[0]:
            best = (weight, line, match)
            if weight == pattern.weight:
                break
    return best


def to_ranked(scores: list[Score]) -> list[Score]:
    """Classes best first; within TIE_MARGIN of each other the earlier cause goes first."""
    ranked = sorted(scores, key=lambda item: -item.score)
    for index in range(1, len(ranked)):
        position = index
        while position > 0 and is_earlier_cause(ranked[position], ranked[position - 1]):
            ranked[position - 1], ranked[position] = ranked[position], ranked[position - 1]
            position -= 1
    return ranked


def is_earlier_cause(candidate: Score, ahead: Score) -> bool:
    close = ahead.score - candidate.score <= TIE_MARGIN
    return close and candidate.causal >= ahead.causal and candidate.first_line < ahead.first_line


def is_recovered(log: ParsedLog) -> bool:
    """A terminal success after the last failure line: the retry worked."""
    last_failure = max((line.position for line in log.lines if line.is_failure), default=-1)
    last_success = max((line.position for line in log.lines if line.is_success), default=-1)
    return last_failure >= 0 and last_success > last_failure


def is_failure_shown(top: Score, log: ParsedLog) -> bool:
    """Whether the log shows a failure at all, or the class's own lines are errors.

    A pattern that matched only warnings in a log with no failure line is a retry or a
    notice, not an incident.
    """
    if log.has_failure:
        return True
    return any(line.level not in ("warning", "info", "debug") for line, _ in top.lines)


def to_platform(text: str, context: Mapping[str, str]) -> str | None:
    """The platform whose playbook variant fits; Spark and dbt before the Airflow running them."""
    for platform, marker in PLATFORM_MARKERS:
        if platform == "airflow" and context.get("dag_id"):
            return platform
        if marker.search(text):
            return platform
    return None


def to_values(
    top: Score,
    compiled: CompiledPlaybook,
    *,
    context: Mapping[str, str],
    platform: str | None,
    log_text: str,
) -> dict[str, str]:
    """Placeholder values: the context, the first matched line, the task, named groups.

    The context wins over what the log says, and an earlier line over a later one.
    """
    values: dict[str, str] = {}
    if platform:
        values["platform"] = platform
    values.update({key: value for key, value in context.items() if value})
    matched = sorted(top.lines, key=lambda item: item[0].position)
    first = matched[0][0]
    # The summary quotes the line between backticks; one inside would end the quote early.
    quote = first.text.strip()[:MAX_QUOTE_CHARS].replace("`", "'")
    values.update(matched_line=quote, source=first.source, line_number=str(first.line_number))
    if task := AIRFLOW_TASK.search(log_text):
        values = {key: value for key, value in task.groupdict().items() if value} | values
    groups: dict[str, str] = {}
    for line, match in matched:
        groups = to_groups(match.re, line, match) | groups
        for regex in compiled.extract:
            if found := regex.search(line.text):
                groups = to_groups(regex, line, found) | groups
    # A value the matched lines do not name (the connection id, say) may sit on a line of
    # its own elsewhere in the log: its first mention counts.
    mentions = (regex.search(log_text) for regex in compiled.extract)
    for found in sorted(filter(None, mentions), key=lambda found: found.start()):
        groups = {key: value for key, value in found.groupdict().items() if value} | groups
    return groups | values


def to_groups(regex: re.Pattern[str], line: LogLine, match: re.Match[str]) -> dict[str, str]:
    """Named groups, read from the original line when it matches too (it keeps the digits)."""
    original = regex.search(line.text) or match
    return {key: value for key, value in original.groupdict().items() if value}


def to_evidence_lines(score: Score) -> list[EvidenceLine]:
    matched = sorted(
        {line.position: line for line, _ in score.lines}.values(), key=lambda x: x.position
    )
    return [
        EvidenceLine(
            source=line.source,
            line_number=line.line_number,
            text=line.text.strip()[:MAX_QUOTE_CHARS],
        )
        for line in matched[:MAX_EVIDENCE_LINES]
    ]


def to_alternatives(scores: list[Score]) -> list[Alternative]:
    return [
        Alternative(failure_class=score.playbook.failure_class, score=round(score.score, 3))
        for score in scores[:MAX_ALTERNATIVES]
    ]


def to_unknown(
    ranked: list[Score], notes: list[str], platform: str | None, confidence: float
) -> Diagnosis:
    return Diagnosis(
        failure_class=UNKNOWN,
        playbook_id=None,
        confidence=confidence,
        summary=messages.to_no_confident_class([score.playbook.failure_class for score in ranked]),
        evidence_lines=to_evidence_lines(ranked[0]) if ranked else [],
        alternatives=to_alternatives(ranked),
        notes=notes,
        platform=platform,
    )


def to_benign(
    ranked: list[Score], notes: list[str], platform: str | None, *, summary: str
) -> Diagnosis:
    return Diagnosis(
        failure_class=NOT_AN_INCIDENT,
        playbook_id=None,
        confidence=0.0,
        summary=summary,
        alternatives=to_alternatives(ranked),
        notes=notes,
        platform=platform,
    )
