"""Rotation: a plan (pure) and a transaction (stage → verify → journal → replace → log)."""
