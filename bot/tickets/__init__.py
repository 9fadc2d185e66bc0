"""Tickets: one Jira issue per incident, kept in step from the incident's timeline, and back."""
