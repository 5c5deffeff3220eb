"""Shared test helpers: small factories, not fixture files."""
