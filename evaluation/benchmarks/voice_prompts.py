"""How long a caller listens: the phone line's prompts, spoken by espeak-ng as on a call.

A caller has to hold a prompt in their head to answer it, so the line's targets are in
seconds of speech: the greeting under 6 s, the report's read-back under 10 s. This plays
a pothole report on the demo assistant through the call logic (as a ``hotline call``
would), synthesizes every prompt the caller hears at the line's rate, and prints each
one's length with its limit where it has one:

    .venv/bin/python -m evaluation.benchmarks.voice_prompts [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bot.runtime import build_runtime
from bot.settings import Settings
from channels.voice_line import VoiceLine, build_line
from voice.call import CallTurn

LIMITS = {"greeting": 6.0, "read-back": 10.0}
# The caller's side of the report, and what each of our prompts is called in the table.
CALL = (
    ("report a problem", "what kind of problem"),
    ("pothole", "where is it"),
    ("14 Castle Street", "street confirmed by name"),
    ("yes", "describe it"),
    ("a deep hole in the road", "how to hear back"),
    ("no updates", "read-back"),
    ("yes", "filed, reference twice"),
)


QUIET = 300  # PCM16 level under which the synthesizer's lead-in and tail are silence


def seconds(line: VoiceLine, turn: CallTurn) -> float:
    """Seconds of speech, from the first sound to the last (not espeak's silent edges)."""
    pcm16, rate = line.synthesizer.synthesize(turn.speech, turn.rate)
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm16, dtype="<i2")) > QUIET)
    return float(loud[-1] - loud[0]) / rate if loud.size else 0.0


def run(data_dir: Path) -> list[tuple[str, float, str]]:
    """(prompt, seconds of speech, what it says) for each prompt of the call."""
    runtime = build_runtime(Settings(_env_file=None, data_dir=data_dir))
    line = build_line(runtime)
    session = line.session("+12065550100", "CAvoiceprompts")
    turn = session.start()
    rows = [("greeting", seconds(line, turn), turn.speech)]
    for said, name in CALL:
        turn = session.hear(said)
        rows.append((name, seconds(line, turn), turn.speech))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voice-prompts-") as tmp:
        rows = run(args.data_dir or Path(tmp))
    print(f"{'prompt':<26} {'seconds':>7} {'limit':>6}  speech")
    for name, length, speech in rows:
        limit = LIMITS.get(name)
        mark = "" if limit is None else f"{limit:>5.0f}{'!' if length > limit else ' '}"
        print(f"{name:<26} {length:>7.1f} {mark:>6}  {speech}")


if __name__ == "__main__":
    main()
