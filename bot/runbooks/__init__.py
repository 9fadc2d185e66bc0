"""Runbooks: the playbook catalogue, its loader and `incident-bot runbooks lint`."""
