"""The diagnosis message posted in an incident's thread."""

from __future__ import annotations

import pytest

from bot.chat.models import Tone
from bot.diagnosis.messages import build_diagnosis_message
from bot.diagnosis.models import Alternative, Diagnosis, EvidenceLine
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue

KEY_ERROR = "KeyError: \"['amount'] not in index\""


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(builtin_runbooks_dir())


def build_diagnosis(**fields: object) -> Diagnosis:
    values: dict[str, object] = {
        "failure_class": "schema-drift",
        "playbook_id": "schema-drift-airflow",
        "confidence": 0.82,
        "summary": "The input of transform lost its amount column.",
        "evidence_lines": [EvidenceLine(source="airflow", line_number=14, text=KEY_ERROR)],
        "alternatives": [Alternative(failure_class="code-bug", score=0.21)],
        "notes": ["The Spark History Server did not answer in time; its evidence is missing."],
        "values": {"dag_id": "daily_revenue", "task_id": "transform"},
    }
    return Diagnosis(**(values | fields))  # type: ignore[arg-type]


def test_diagnosis_shows_class_confidence_evidence_steps_and_alternatives(catalogue):
    playbook = catalogue.get("schema-drift-airflow")

    message = build_diagnosis_message(build_diagnosis(), playbook)

    assert message.header == "Diagnosis: schema-drift" and message.tone is Tone.DANGER
    facts = {fact.label: fact.value for fact in message.facts}
    assert facts["Confidence"] == "82%" and facts["Diagnosed by"] == "rule engine"
    assert facts["Playbook"].endswith("(schema-drift-airflow)")
    sections = {section.title: section for section in message.sections}
    assert sections["Evidence"].preformatted
    assert sections["Evidence"].text == f"airflow:14  {KEY_ERROR}"
    steps = sections["Proposed steps (not run yet)"].text.splitlines()
    assert len(steps) == len(playbook.remediation) and steps[0].startswith("1. ")
    assert all("(risk " in step for step in steps)
    assert "<dag_id>" not in "".join(section.text for section in message.sections)
    assert sections["Ruled out"].text == "code-bug (0.21)"
    assert message.context[-1].startswith("The Spark History Server did not answer")


def test_unknown_diagnosis_escalates_without_steps():
    diagnosis = build_diagnosis(failure_class="unknown", playbook_id=None, notes=[])

    message = build_diagnosis_message(diagnosis, None)

    assert message.header == "Diagnosis: unknown cause, escalating"
    assert message.tone is Tone.WARNING
    assert not any(section.title == "Proposed steps (not run yet)" for section in message.sections)
    assert message.context == ["No playbook fits well enough: a person needs to look."]


def test_claude_diagnosis_names_its_engine(catalogue):
    message = build_diagnosis_message(
        build_diagnosis(engine="claude"), catalogue.get("schema-drift-airflow")
    )

    facts = {fact.label: fact.value for fact in message.facts}
    assert facts["Diagnosed by"] == "Claude (checked against the evidence)"
