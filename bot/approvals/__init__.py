"""Approvals: the policy, server-side approval requests and what clicks on them do."""
