"""Pricing: every pricing model, the oracle-backed property tests, scenarios, closed periods."""
