"""Speech recognition behind one streaming interface; pick an engine with make_recognizer."""

from __future__ import annotations

from pathlib import Path

from voice.asr.base import Grammar, RecognitionStream, Recognizer, Result, transcribe
from voice.asr.pocketsphinx_engine import PocketsphinxRecognizer, build_domain_model
from voice.asr.vosk_engine import VoskRecognizer
from voice.errors import VoiceConfigError

__all__ = [
    "Grammar",
    "PocketsphinxRecognizer",
    "RecognitionStream",
    "Recognizer",
    "Result",
    "VoskRecognizer",
    "build_domain_model",
    "make_recognizer",
    "transcribe",
]


def make_recognizer(
    engine: str, *, vosk_model: Path | None = None, domain_dir: Path | None = None
) -> Recognizer:
    """The configured recogniser: ``pocketsphinx`` (the embedded default) or ``vosk``."""
    if engine == "pocketsphinx":
        return PocketsphinxRecognizer(domain_dir)
    if engine == "vosk":
        if vosk_model is None:
            raise VoiceConfigError(
                "HOTLINE_VOSK_MODEL: the vosk engine needs a model folder; none is set"
            )
        return VoskRecognizer(vosk_model)
    raise VoiceConfigError(f"unknown speech engine {engine!r} (pocketsphinx or vosk)")
