"""The local console: a chat surface kept in Redis and shown as a web page at /console."""
