"""Peer config: the intent model, its templates, render, lint, diff and sync."""
