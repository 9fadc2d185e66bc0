"""Stand-ins for the bot's SaaS dependencies that speak the vendors' wire formats.

Local HTTP servers for Slack's Web API, Jira's REST API and Anthropic's Messages API. They
record what they were asked and can be told to fail the way the real services fail. The
chaos drills run the whole bot against them; the tests use them too.

    with serve_slack() as slack, serve_jira() as jira:
        ...
"""
