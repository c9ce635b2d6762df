"""Rasa 3.6 side by side with our understanding engine (run.py; needs its own venv)."""
