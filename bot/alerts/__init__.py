"""Alert sources: webhooks that turn vendor payloads into one `Alert` model."""
