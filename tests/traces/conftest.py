"""The traces CLI tests share the audit tests' way of reaching the test Redis."""

from tests.audit.conftest import redis_env

__all__ = ["redis_env"]
