"""Word error rate and speed of each speech engine on real human recordings, by telephone.

Synthetic espeak-ng speech (evaluation/asr_wer.py) says little about real callers; these
are real voices: Debian's ``asterisk-core-sounds-en-wav`` (IVR prompts, digits and letters
read by one professional voice, natively 8 kHz, CC-BY-SA-3.0) with the transcripts of
``asterisk-core-sounds-en``, and the utterances of ``pocketsphinx-testdata`` (BSD-2). Every
recording goes through an 8 kHz mu-law round trip, as a phone line carries it, and each
engine's WER and real-time factor (CPU time over audio time) is printed beside the
synthetic hotline set:

    .venv/bin/python -m evaluation.benchmarks.real_speech [--every 3] [--takes 1] [--vosk-model DIR]

``--every N`` takes every N-th Asterisk recording in transcript order (prompts, digits and
letters alike), so a run stays a few minutes on two cores. Recordings longer than a
caller's turn can be (the endpointer cuts one at 15 s) and the ``silence/`` files
("nine seconds of silence") are left out: neither is an answer a caller gives.
"""

from __future__ import annotations

import argparse
import gzip
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evaluation.benchmarks.asr_wer import Score, Take, score, synthesize_takes
from voice.asr import PocketsphinxRecognizer, Recognizer, VoskRecognizer, WhisperRecognizer
from voice.audio import PHONE_RATE, mulaw_to_pcm16, pcm16_to_mulaw, read_wav, resample
from voice.call import OPEN_QUESTION
from voice.endpoint import EndpointConfig

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
_TRANSCRIPT_LINE = re.compile(r"^(?P<name>[\w/-]+):\s*(?P<text>.+)$")
_SPHINX_LINE = re.compile(r"^<s>(?P<text>.*)</s>\s*\((?P<id>[^)]+)\)$")
MAX_SECONDS = EndpointConfig().max_utterance_ms / 1000


@dataclass(frozen=True)
class Recording:
    """One real recording and what is said in it."""

    path: Path
    text: str
    source: str


def asterisk_recordings(every: int = 1) -> list[Recording]:
    """The Asterisk prompts that have a file and a spoken transcript (not "[beep tone]")."""
    if not ASTERISK_TRANSCRIPTS.is_file():
        raise SystemExit(
            f"{ASTERISK_TRANSCRIPTS} is missing: apt-get install asterisk-core-sounds-en "
            "asterisk-core-sounds-en-wav (make system does)"
        )
    found = []
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8") as lines:
        for line in lines:
            match = _TRANSCRIPT_LINE.match(line.strip())
            if match is None or "[" in match["text"] or match["name"].startswith("silence/"):
                continue
            path = ASTERISK_SOUNDS / f"{match['name']}.wav"
            if path.is_file() and _seconds(path) <= MAX_SECONDS:
                found.append(Recording(path, match["text"], "asterisk"))
    return found[::every]


def pocketsphinx_recordings() -> list[Recording]:
    """pocketsphinx's own test utterances that come with a transcription file."""
    found = []
    for transcription in sorted(POCKETSPHINX_DATA.glob("*/*transcription")):
        for line in transcription.read_text(encoding="utf-8").splitlines():
            match = _SPHINX_LINE.match(line.strip())
            path = transcription.parent / f"{match['id']}.wav" if match else None
            if match and path is not None and path.is_file() and _seconds(path) <= MAX_SECONDS:
                found.append(Recording(path, " ".join(match["text"].split()), "pocketsphinx"))
    return found


def _seconds(path: Path) -> float:
    pcm16, rate = read_wav(path)
    return len(pcm16) / 2 / rate


def by_phone(recording: Recording) -> Take:
    """The recording as a caller's line delivers it: 8 kHz, through mu-law and back."""
    pcm16, rate = read_wav(recording.path)
    narrow = resample(pcm16, rate, PHONE_RATE)
    phone = mulaw_to_pcm16(pcm16_to_mulaw(narrow))
    return Take(recording.text, recording.source, 0, phone, PHONE_RATE)


def engines(vosk_model: Path | None) -> Iterator[tuple[str, Recognizer]]:
    yield "whisper", WhisperRecognizer()
    yield "pocketsphinx", PocketsphinxRecognizer()
    if vosk_model is not None:
        yield "vosk", VoskRecognizer(vosk_model)


def hotline_vocabulary() -> tuple[str, ...]:
    """What the phone line's open question tells Whisper to expect: the demo city's
    places and streets and the catalogue's services (channels/voice_line.ExpectedWords)."""
    from bot.catalogue import Catalogue
    from bot.city import City
    from channels.voice_line import ExpectedWords

    return ExpectedWords.of(City.load(), Catalogue.load())(OPEN_QUESTION)


Row = tuple[str, Score | None, Score]


def run(every: int, takes: int, vosk_model: Path | None) -> Iterator[Row]:
    """(engine, real score, synthetic score) for every engine as it is measured, and for
    Whisper told the hotline's vocabulary (on the synthetic set: the real prompts are not
    ours)."""
    real = [by_phone(r) for r in asterisk_recordings(every) + pocketsphinx_recordings()]
    with tempfile.TemporaryDirectory(prefix="real-speech-") as tmp:
        synthetic = synthesize_takes(takes, Path(tmp))
    for name, recognizer in engines(vosk_model):
        same = lambda _, r=recognizer: r  # noqa: E731 - one recogniser for every take
        yield name, score(name, real, same), score(name, synthetic, same)
        if name == "whisper":
            yield "whisper+vocab", None, score(name, synthetic, same, hotline_vocabulary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=3, help="every N-th Asterisk prompt")
    parser.add_argument("--takes", type=int, default=1, help="synthetic takes per utterance")
    parser.add_argument("--vosk-model", type=Path, default=None, help="an unpacked vosk model")
    args = parser.parse_args()
    real_count = len(asterisk_recordings(args.every)) + len(pocketsphinx_recordings())
    print(f"real: {real_count} recordings by phone (8 kHz mu-law); synthetic: espeak-ng set")
    print(f"{'engine':<14} {'real WER':>9} {'real RTF':>9} {'synth WER':>10} {'synth RTF':>10}")
    for name, real, synthetic in run(args.every, args.takes, args.vosk_model):
        measured = f"{real.wer:>9.1%} {real.rtf:>9.3f}" if real else f"{'-':>9} {'-':>9}"
        print(f"{name:<14} {measured} {synthetic.wer:>10.1%} {synthetic.rtf:>10.3f}", flush=True)
        for reference, hypothesis in real.examples if real else synthetic.examples:
            print(f"  {name}: {reference!r} -> {hypothesis!r}", flush=True)


if __name__ == "__main__":
    main()
