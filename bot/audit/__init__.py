"""The append-only, hash-chained audit log: `incident-bot audit verify|export`."""
