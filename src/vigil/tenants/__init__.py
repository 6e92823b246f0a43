"""Tenants and their settings: retention, IP allowlist, required 2FA, working hours."""
