"""Chat: one message model and one port, with an adapter folder per platform."""
