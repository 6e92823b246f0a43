"""Accounts: tenants, users and API keys."""
