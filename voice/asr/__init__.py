"""Speech recognition behind one streaming interface; pick an engine with make_recognizer."""

from __future__ import annotations

from pathlib import Path

from voice.asr.base import Grammar, RecognitionStream, Recognizer, Result, transcribe
from voice.asr.pocketsphinx_engine import PocketsphinxRecognizer, build_domain_model
from voice.asr.vosk_engine import VoskRecognizer
from voice.asr.whisper_engine import WhisperRecognizer
from voice.errors import VoiceConfigError

__all__ = [
    "Grammar",
    "PocketsphinxRecognizer",
    "RecognitionStream",
    "Recognizer",
    "Result",
    "VoskRecognizer",
    "WhisperRecognizer",
    "build_domain_model",
    "make_recognizer",
    "transcribe",
]


def make_recognizer(
    engine: str, *, vosk_model: Path | None = None, domain_dir: Path | None = None
) -> Recognizer:
    """The configured recogniser: ``whisper`` (the embedded default), ``pocketsphinx`` or
    ``vosk`` (the operator's model folder)."""
    if engine == "whisper":
        return WhisperRecognizer()
    if engine == "pocketsphinx":
        return PocketsphinxRecognizer(domain_dir)
    if engine == "vosk":
        if vosk_model is None:
            raise VoiceConfigError(
                "HOTLINE_VOSK_MODEL: the vosk engine needs a model folder; none is set"
            )
        return VoskRecognizer(vosk_model)
    raise VoiceConfigError(f"unknown speech engine {engine!r} (whisper, pocketsphinx or vosk)")
