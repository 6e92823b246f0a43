"""Telling people about alerts: email and Slack through an outbox, in-app at once."""
