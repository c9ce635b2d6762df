"""``hotline call``: try the phone line with WAV files instead of a telephone.

Each WAV file is one turn of a caller. It goes through what a phone call does: down to
8 kHz mu-law and back (what Twilio delivers), the endpointer's speech check (a file with
no speech is a silent turn), recognition with the turn's grammar, the same
:class:`~voice.call.CallSession` as a real call. Each turn prints what was heard and
what the bot answered, and the bot's spoken reply is written as a WAV file (8 kHz, as the
caller would hear it), numbered from the greeting (``00-bot.wav``).
"""

from __future__ import annotations

import re
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from channels.cli_help import storage_note

if TYPE_CHECKING:  # the speech stack loads only when a call is played: `hotline` starts fast
    from channels.voice_line import VoiceLine
    from voice.call import CallSession, CallTurn, Listen

SILENCE = "-"
KEYS_PREFIX = "dtmf:"
_KEYS = re.compile(r"^[0-9*#]{1,32}$")
Recognize = Callable[[bytes, int, "Listen"], str]


@dataclass(frozen=True)
class CallerTurn:
    """One turn of the caller: a recording, key presses, or silence."""

    audio: Path | None = None
    keys: str | None = None

    @property
    def label(self) -> str:
        if self.audio is not None:
            return self.audio.name
        return f"keys {self.keys}" if self.keys else "(silence)"


def parse_turns(items: list[str], dtmf: list[str]) -> list[CallerTurn]:
    """Positional items (WAV path, ``-``, ``dtmf:KEYS``), then each ``--dtmf`` entry."""
    turns = []
    for item in items:
        if item == SILENCE:
            turns.append(CallerTurn())
        elif item.startswith(KEYS_PREFIX):
            turns.append(CallerTurn(keys=_checked_keys(item.removeprefix(KEYS_PREFIX))))
        else:
            turns.append(CallerTurn(audio=_checked_wav(Path(item))))
    return turns + [CallerTurn(keys=_checked_keys(keys)) for keys in dtmf]


def _checked_wav(path: Path) -> Path:
    """Refuse a missing or non-WAV file now, not after the models have loaded."""
    if not path.is_file():
        raise typer.BadParameter(f"{path}: no such file (a WAV file, '-' or dtmf:KEYS)")
    try:
        with wave.open(str(path)):
            pass
    except (wave.Error, EOFError) as exc:
        raise typer.BadParameter(f"{path}: not a PCM WAV file ({exc})") from exc
    return path


def _checked_keys(keys: str) -> str:
    if not _KEYS.match(keys):
        raise typer.BadParameter(f"{keys!r}: keys are digits, * and # (at most 32)")
    return keys


def phone_audio(path: Path) -> bytes:
    """A recording as it reaches us over the phone: 8 kHz, through mu-law and back."""
    from voice.audio import PHONE_RATE, mulaw_to_pcm16, pcm16_to_mulaw, read_wav, resample

    try:
        pcm16, rate = read_wav(path)
    except (wave.Error, EOFError) as exc:
        raise typer.BadParameter(f"{path}: not a PCM WAV file ({exc})") from exc
    return mulaw_to_pcm16(pcm16_to_mulaw(resample(pcm16, rate, PHONE_RATE)))


def play(session: CallSession, turn: CallerTurn, recognize: Recognize) -> CallTurn:
    """One caller turn through the session; ``recognize(pcm16, rate, listen) -> text``."""
    from voice.audio import PHONE_RATE
    from voice.endpoint import has_speech

    if turn.keys:
        return session.press(turn.keys)
    if turn.audio is None:
        return session.silence()
    audio = phone_audio(turn.audio)
    if not has_speech(audio, PHONE_RATE):
        return session.silence()
    return session.hear(recognize(audio, PHONE_RATE, session.listen))


def run_call(
    line: VoiceLine,
    planned: list[CallerTurn],
    out: Path,
    caller: str,
    echo: Callable[[str], None] = typer.echo,
) -> list[CallTurn]:
    """Play the caller's turns through one call; print them and write the bot's WAVs."""
    from channels.voice_line import caller_id
    from voice.audio import PHONE_RATE, mulaw_to_pcm16, write_wav

    call_id = f"console-{uuid.uuid4().hex[:12]}"
    session = line.session(caller_id(caller, call_id), call_id, can_record=False)
    out.mkdir(parents=True, exist_ok=True)
    turns: list[CallTurn] = []

    def answer(turn: CallTurn) -> None:
        target = out / f"{len(turns):02d}-bot.wav"
        write_wav(target, mulaw_to_pcm16(line.speak_phone(turn.speech, turn.rate)), PHONE_RATE)
        turns.append(turn)
        echo("bot>    " + turn.text.replace("\n", "\n        "))
        flags = [
            label
            for label, on in (
                (f"filed {turn.filed_reference}", bool(turn.filed_reference)),
                ("reference queued by SMS", turn.sms_sent),
                ("handed to a person", turn.handoff),
                ("hung up", turn.hangup),
            )
            if on
        ]
        echo(f"        [{target}{'; ' + '; '.join(flags) if flags else ''}]")

    answer(session.start())
    for index, planned_turn in enumerate(planned, 1):
        turn = play(session, planned_turn, line.recognize)
        echo(f"caller> {planned_turn.label}: {turn.heard or '(nothing heard)'}")
        answer(turn)
        if turn.hangup or turn.handoff:
            if left := len(planned) - index:
                echo(f"(the call is over; {left} turn(s) not played)")
            break
    return turns


def register(app: typer.Typer, panel: str) -> None:
    """Add ``hotline call`` to ``app``, in the help's ``panel``."""

    @app.command("call", rich_help_panel=panel)
    def call(
        turns: Annotated[
            list[str] | None,
            typer.Argument(help="The caller's turns: WAV files, '-' for silence, dtmf:KEYS."),
        ] = None,
        dtmf: Annotated[
            list[str] | None,
            typer.Option(metavar="KEYS", help="Key presses, one turn each, after the other turns."),
        ] = None,
        out: Annotated[Path, typer.Option(help="Where the bot's replies go as WAV.")] = Path(
            "call-out"
        ),
        caller: Annotated[
            str, typer.Option(help="The caller's number (an SMS offer needs a real one).")
        ] = "+15550100",
    ) -> None:
        """Play WAV files as a caller's turns through the phone line's call logic."""
        from bot.runtime import build_runtime
        from bot.settings import Settings
        from channels.voice_line import build_line

        planned = parse_turns(turns or [], dtmf or [])
        if not planned:
            raise typer.BadParameter("give at least one turn: a WAV file, '-' or --dtmf KEYS")
        settings = storage_note(Settings())
        typer.echo("Loading the assistant and the speech models...")
        run_call(build_line(build_runtime(settings)), planned, out, caller)
