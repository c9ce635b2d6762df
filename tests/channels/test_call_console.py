"""``hotline call``: WAV files played as a caller's turns, the bot's replies written as WAV."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.runtime import Runtime
from channels.call_console import CallerTurn, parse_turns, run_call
from channels.cli import app
from tests.channels.voice_helpers import voice_line
from voice.audio import silence, write_wav
from voice.call import NOT_HEARD
from voice.tts import Synthesizer


def recording(path: Path, text: str | None) -> Path:
    """A caller's WAV as a phone app or a recorder would make it (22 kHz, or silence)."""
    if text is None:
        write_wav(path, silence(1500, 16000), 16000)
    else:
        pcm16, rate = Synthesizer().synthesize(text)
        write_wav(path, silence(300, rate) + pcm16 + silence(300, rate), rate)
    return path


def test_turns_are_files_silence_and_keys_in_order(tmp_path: Path) -> None:
    wav = recording(tmp_path / "a.wav", None)
    assert parse_turns([str(wav), "-", "dtmf:12#"], ["0"]) == [
        CallerTurn(audio=wav),
        CallerTurn(),
        CallerTurn(keys="12#"),
        CallerTurn(keys="0"),
    ]
    for items, keys in ([str(tmp_path / "missing.wav")], []), ([], ["12x"]), (["dtmf:"], []):
        with pytest.raises(typer.BadParameter):
            parse_turns(items, keys)


def test_a_call_from_wav_files(runtime: Runtime, tmp_path: Path) -> None:
    turns = [
        CallerTurn(audio=recording(tmp_path / "1.wav", "report a problem")),
        CallerTurn(audio=recording(tmp_path / "2.wav", None)),
        CallerTurn(keys="0"),
        CallerTurn(keys="1"),
    ]
    printed: list[str] = []
    out = tmp_path / "out"
    played = run_call(voice_line(runtime), turns, out, "+14155550123", printed.append)
    assert "report a problem" in (played[1].heard or "")
    assert "what kind of problem" in played[1].text.lower()
    assert played[2].heard is None and played[2].speech.startswith(NOT_HEARD)
    assert played[3].handoff and played[3].hangup
    assert printed[-1] == "(the call is over; 1 turn(s) not played)"
    assert any(line.startswith("caller> 1.wav: ") for line in printed)
    written = sorted(out.glob("*.wav"))
    assert [p.name for p in written] == ["00-bot.wav", "01-bot.wav", "02-bot.wav", "03-bot.wav"]
    with wave.open(str(written[1])) as reply:
        assert reply.getframerate() == 8000 and reply.getnframes() > 8000


def test_the_command_refuses_what_it_cannot_play(tmp_path: Path) -> None:
    """Before loading anything: a missing file, a file that is not WAV, no turn at all."""
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio")
    for args, message in [
        ([str(tmp_path / "nope.wav")], "no such file"),
        ([str(notes)], "not a PCM WAV file"),
        ([], "give at least one turn"),
    ]:
        result = CliRunner().invoke(app, ["call", *args])
        assert result.exit_code == 2
        assert message in " ".join(result.output.replace("│", " ").split())
