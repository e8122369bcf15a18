"""Entitlements: whether a customer is within each usage limit (docs/entitlements.md)."""
