"""vosk recognition on an operator-supplied model folder (no model is fetched at run time)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import vosk

from voice.asr.base import Grammar, Result
from voice.errors import VoiceConfigError

UNKNOWN = "[unk]"  # what a grammar-restricted vosk says for speech outside the grammar

log = logging.getLogger(__name__)


class VoskRecognizer:
    """Recognizer on a vosk (Kaldi) model folder such as ``vosk-model-small-en-us-0.15``.

    ``model`` is the loaded ``vosk.Model``, shared by every stream (it is read-only
    once loaded), so a model of hundreds of MB is loaded once per process. Grammars need
    a model with a dynamic graph (the small ones); big static-graph models ignore them.
    """

    name = "vosk"
    grammars = True

    def __init__(self, model_path: Path) -> None:
        model_path = Path(model_path)
        if not ((model_path / "am").is_dir() and (model_path / "conf").is_dir()):
            raise VoiceConfigError(
                f"HOTLINE_VOSK_MODEL: {model_path} does not contain a vosk model "
                "(expected am/, conf/ ... as in an unpacked vosk-model-* archive)"
            )
        vosk.SetLogLevel(-1)  # Kaldi logs every loaded component to stderr otherwise
        try:
            self.model = vosk.Model(model_path=str(model_path))
        except Exception as error:  # vosk raises a bare Exception with no detail
            raise VoiceConfigError(
                f"HOTLINE_VOSK_MODEL: vosk could not load the model in {model_path}"
            ) from error
        self.sample_rate = _model_sample_rate(model_path)
        self._grammars: dict[Grammar, str] = {}

    def stream(self, grammar: Grammar | None = None, vocabulary: Sequence[str] = ()) -> VoskStream:
        """One utterance, restricted to ``grammar``; ``vocabulary`` is not used."""
        if grammar is None:
            recognizer = vosk.KaldiRecognizer(self.model, self.sample_rate)
        else:
            recognizer = vosk.KaldiRecognizer(self.model, self.sample_rate, self._json(grammar))
        recognizer.SetWords(True)  # per-word confidences, for Result.confidence
        return VoskStream(recognizer)

    def _json(self, grammar: Grammar) -> str:
        """The grammar as vosk takes it, keeping only phrases the model can say.

        vosk drops unknown words one by one, which can turn "report a pothole" into
        "report a"; whole phrases are dropped instead, and reported once. vosk strings
        phrases together as it likes: ``grammar.count`` is not enforced.
        """
        if grammar not in self._grammars:
            phrases = grammar.phrases + grammar.commands
            known = [p for p in phrases if all(self._knows(w) for w in p.split())]
            if not known:
                raise VoiceConfigError(f"no phrase of {phrases} is in the vosk model")
            if len(known) < len(phrases):
                missing = sorted(set(phrases) - set(known))
                log.warning("vosk model cannot say %s; left out of the grammar", missing)
            extra = [UNKNOWN] if self._knows(UNKNOWN) else []
            # ensure_ascii=False: vosk reads \uXXXX escapes literally, not as characters.
            self._grammars[grammar] = json.dumps([*known, *extra], ensure_ascii=False)
        return self._grammars[grammar]

    def _knows(self, word: str) -> bool:
        return self.model.vosk_model_find_word(word) >= 0


class VoskStream:
    """One utterance; vosk may close segments at pauses, which are joined into one text."""

    def __init__(self, recognizer: vosk.KaldiRecognizer) -> None:
        self._recognizer = recognizer
        self._segments: list[dict] = []
        self._text = ""
        self._final: Result | None = None

    def feed(self, pcm16: bytes) -> Result | None:
        if self._final is not None:
            raise RuntimeError("this utterance is finished; start a new stream")
        if not pcm16:
            return None
        if self._recognizer.AcceptWaveform(pcm16):
            self._segments.append(json.loads(self._recognizer.Result()))
            pending = ""
        else:
            pending = json.loads(self._recognizer.PartialResult()).get("partial", "")
        text = " ".join(t for t in (*self._segment_texts(), pending) if t)
        if text == self._text:
            return None
        self._text = text
        return Result(text, final=False)

    def finish(self) -> Result:
        if self._final is None:
            self._segments.append(json.loads(self._recognizer.FinalResult()))
            confidences = [w["conf"] for s in self._segments for w in s.get("result", [])]
            confidence = sum(confidences) / len(confidences) if confidences else None
            self._final = Result(" ".join(self._segment_texts()), True, confidence)
        return self._final

    def _segment_texts(self) -> list[str]:
        return [segment["text"] for segment in self._segments if segment.get("text")]


def _model_sample_rate(model_path: Path) -> int:
    """The rate the model was trained at (conf/mfcc.conf), 16 kHz when unstated."""
    mfcc = model_path / "conf" / "mfcc.conf"
    found = re.search(r"--sample-frequency=(\d+)", mfcc.read_text()) if mfcc.is_file() else None
    return int(found.group(1)) if found else 16000
