"""Telling people about alerts: email, Slack and in-app, delivered through an outbox."""
