"""Incidents: the state model, the Redis store and the flows that drive a thread."""
