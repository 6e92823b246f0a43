"""Vigil: a self-hosted, multi-tenant user activity and audit trail service."""

__version__ = "0.1.0"
