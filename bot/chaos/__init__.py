"""Chaos drills: a real Airflow 3 sandbox, a pipeline with switchable faults, scenarios."""
