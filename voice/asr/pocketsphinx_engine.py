"""pocketsphinx recognition: the embedded default, with a language model built from our data.

On synthesized calls degraded to telephone quality, pocketsphinx's general English LM
gets about 81% of the words wrong; a small LM built from the hotline's own texts, with
a dictionary restricted to their words and their phone-band pronunciations, about 9%
(evaluation/benchmarks/asr_wer.py). The en-us acoustic model is wideband: on the phone band it
loses the "s" of "six", "seven" and "street", which the phone-band dictionary variants
(voice/asr/lexicon.py) make up for; still prefer grammars, and digit grammars of known
length, where a caller answers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pocketsphinx import Decoder
from pocketsphinx.lm import ArpaBoLM

from voice.asr.base import COMMANDS, DIGIT_WORDS, Grammar, Result
from voice.asr.lexicon import Phones, cmudict, dictionary_entries, pronunciations, words
from voice.errors import VoiceConfigError

LM_FILE = "domain.lm"
DICT_FILE = "domain.dict"
# Words a caller may say at any prompt, whatever the domain texts contain.
ALWAYS_WORDS = (*DIGIT_WORDS, "oh", "yes", "no", *COMMANDS)
# pocketsphinx's noise tracking and cepstral normalisation break down on digital silence
# (runs of exact zeros: synthesized speech, silence-suppressed VoIP, mu-law 0xFF). A
# faint noise floor, like a real line's, took domain-LM word errors on telephone-degraded
# synthetic calls from 45% to 26% (one take of each evaluation/benchmarks/asr_wer.py utterance).
NOISE_FLOOR_DBFS = -50.0
# The share of each n-gram order's probability left for backing off to the next lower
# one. ArpaBoLM's default, 0.5, lets a few dozen sentences' worth of counts say little;
# at 0.1 domain-LM word errors on telephone-degraded synthetic calls went from 25% to
# 17%, with the same errors on utterances the model was not built from (about 70%,
# mostly words it has never seen).
DISCOUNT_MASS = 0.1


@dataclass(frozen=True)
class DomainModel:
    """Where a built domain model lives and which words needed a derived pronunciation."""

    directory: Path
    words: tuple[str, ...]
    derived: dict[str, Phones]

    @property
    def lm_path(self) -> Path:
        return self.directory / LM_FILE

    @property
    def dict_path(self) -> Path:
        return self.directory / DICT_FILE


def build_domain_model(texts: Iterable[str], out_dir: Path) -> DomainModel:
    """Write a trigram LM of ``texts`` and a dictionary of exactly their words to ``out_dir``.

    Restricting the dictionary to the domain's words is what makes the small LM pay off:
    the decoder cannot wander off into the other 130,000 words of cmudict.
    """
    sentences = [" ".join(words(text)) for text in texts]
    sentences = [s for s in sentences if s] + list(ALWAYS_WORDS)
    # add_start: pocketsphinx refuses an LM without </s>.
    lm = ArpaBoLM(text="\n".join(sentences), add_start=True, discount_mass=DISCOUNT_MASS)
    lm.compute()
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / LM_FILE).open("w", encoding="utf-8") as lm_file:
        lm.write(lm_file)
    vocabulary = sorted({word for sentence in sentences for word in sentence.split()})
    known = cmudict()
    derived = {word: pronunciations(word)[0] for word in vocabulary if word not in known}
    with (out_dir / DICT_FILE).open("w", encoding="utf-8") as dict_file:
        for word in vocabulary:
            for index, phones in enumerate(dictionary_entries(word)):
                label = word if index == 0 else f"{word}({index + 1})"
                dict_file.write(f"{label} {' '.join(phones)}\n")
    return DomainModel(out_dir, tuple(vocabulary), derived)


def jsgf(grammar: Grammar) -> str:
    """The JSGF text of a grammar: ``count`` phrases in a row, or one command alone."""
    phrases = " | ".join(" ".join(words(phrase)) for phrase in grammar.phrases)
    sequence = "<phrase>+" if grammar.count is None else " ".join(["<phrase>"] * grammar.count)
    alternatives = [sequence, *(" ".join(words(command)) for command in grammar.commands)]
    return (
        "#JSGF V1.0;\ngrammar hotline;\n"
        f"<phrase> = {phrases};\n"
        f"public <utterance> = {' | '.join(alternatives)};\n"
    )


@dataclass
class _Slot:
    """A decoder and the grammar searches already compiled into it."""

    decoder: Decoder
    searches: set[str] = field(default_factory=set)


class PocketsphinxRecognizer:
    """Recognizer on pocketsphinx's en-us acoustic model, at 16 kHz.

    With ``domain_dir`` (written by :func:`build_domain_model`) it uses that LM and
    dictionary; without, pocketsphinx's general English LM. Decoders are pooled: each
    stream holds one for its utterance, so concurrent calls never share one.
    """

    sample_rate = 16000
    grammars = True

    def __init__(self, domain_dir: Path | None = None) -> None:
        self._config: dict[str, str] = {"loglevel": "FATAL"}
        if domain_dir is not None:
            lm_path, dict_path = domain_dir / LM_FILE, domain_dir / DICT_FILE
            if not (lm_path.is_file() and dict_path.is_file()):
                raise VoiceConfigError(
                    f"{domain_dir} does not contain a domain model (expected {LM_FILE} and "
                    f"{DICT_FILE}; build one with build_domain_model)"
                )
            self._config |= {"lm": str(lm_path), "dict": str(dict_path)}
        self.name = "pocketsphinx-domain" if domain_dir is not None else "pocketsphinx"
        self._lock = threading.Lock()
        self._idle = [self._new_slot()]  # load now: fail at start-up, not mid-call

    def stream(
        self, grammar: Grammar | None = None, vocabulary: Sequence[str] = ()
    ) -> PocketsphinxStream:
        """An utterance on a pooled decoder; ``vocabulary`` is not used (the domain LM is)."""
        with self._lock:
            slot = self._idle.pop() if self._idle else None
        if slot is None:
            slot = self._new_slot()
        if grammar is None:
            slot.decoder.activate_search("_default")
        else:
            self._activate_grammar(slot, grammar)
        return PocketsphinxStream(slot.decoder, lambda: self._release(slot))

    def _new_slot(self) -> _Slot:
        return _Slot(Decoder(**self._config))

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            self._idle.append(slot)

    def _activate_grammar(self, slot: _Slot, grammar: Grammar) -> None:
        text = jsgf(grammar)
        name = "g" + hashlib.sha1(text.encode()).hexdigest()[:16]
        if name not in slot.searches:
            decoder = slot.decoder
            for word in words(" ".join(grammar.words)):
                self._add_phone_band_entries(decoder, word)
            decoder.add_jsgf_string(name, text)
            slot.searches.add(name)
        slot.decoder.activate_search(name)

    @staticmethod
    def _add_phone_band_entries(decoder: Decoder, word: str) -> None:
        """Give a grammar word every entry a domain dictionary would give it.

        The general dictionary lacks the phone-band variants ("six" as IH K), and a
        domain one may lack the word itself.
        """
        listed: list[str] = []
        label = word
        while (phones := decoder.lookup_word(label)) is not None:
            listed.append(phones)
            label = f"{word}({len(listed) + 1})"
        for entry in map(" ".join, dictionary_entries(word)):
            if entry not in listed:
                label = word if not listed else f"{word}({len(listed) + 1})"
                decoder.add_word(label, entry, False)
                listed.append(entry)


class PocketsphinxStream:
    """One utterance on a pooled decoder, handed back when the utterance finishes.

    Partials come from live decoding, whose cepstral mean is only an estimate carried
    over from whatever the decoder heard before (a short first "yes" on a new decoder
    came out empty). The final result decodes the whole utterance again with its own
    mean: the same audio gives the same answer whoever called before.
    """

    def __init__(self, decoder: Decoder, release: Callable[[], None]) -> None:
        self._decoder = decoder
        self._release = release
        self._audio = bytearray()
        self._text = ""
        self._final: Result | None = None
        self._noise = np.random.default_rng(0)  # seeded: the same audio, the same result
        decoder.start_utt()

    def feed(self, pcm16: bytes) -> Result | None:
        if self._final is not None:
            raise RuntimeError("this utterance is finished; start a new stream")
        if not pcm16:
            return None
        audio = self._with_noise_floor(pcm16)
        self._audio += audio
        self._decoder.process_raw(audio, False, False)
        hypothesis = self._decoder.hyp()
        text = hypothesis.hypstr if hypothesis is not None else ""
        if text == self._text:
            return None
        self._text = text
        return Result(text, final=False)

    def finish(self) -> Result:
        if self._final is None:
            decoder = self._decoder
            decoder.end_utt()
            # The live hypothesis stands if the whole-utterance pass finds no complete
            # path (pocketsphinx: "Failed to find DAG node corresponding to </s>").
            text = self._text
            if self._audio:
                decoder.start_utt()
                decoder.process_raw(bytes(self._audio), False, True)  # whole utterance
                decoder.end_utt()
                hypothesis = decoder.hyp()
                if hypothesis is not None:
                    text = hypothesis.hypstr
            # No confidence: pocketsphinx's path posterior was near-uniform over grammar
            # choices whatever was said, so it would mislead more than inform.
            self._final = Result(text, final=True)
            self._release()
        return self._final

    def _with_noise_floor(self, pcm16: bytes) -> bytes:
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
        samples += self._noise.normal(0.0, 32768 * 10 ** (NOISE_FLOOR_DBFS / 20), samples.size)
        return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()
