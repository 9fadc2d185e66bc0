"""Diagnosis: evidence, the rule engine, the optional Claude diagnoser."""
