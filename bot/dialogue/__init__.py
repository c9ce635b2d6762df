"""Dialogue: the per-conversation state and how a turn moves it."""
