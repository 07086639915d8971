"""Audit: rules over the repository model, returning findings as data."""
