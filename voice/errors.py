"""Errors the voice package raises for an operator to fix."""


class VoiceConfigError(ValueError):
    """A voice setting (model folder, engine name, voice) is wrong; the message says which."""
