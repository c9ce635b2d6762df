"""The phone line's parts over the runtime: recogniser, synthesizer, domain model, assistant.

Both Twilio transports (<Gather> webhooks and Media Streams) and the ``hotline call``
console build their calls here, so a call behaves the same whichever way it arrives:

- :func:`check_settings` fails at start-up, with a message an operator can act on, when
  the speech settings are wrong (an unknown engine, a vosk folder without a model);
- :func:`prepare_domain_model` builds pocketsphinx's language model and dictionary from
  what callers say to this hotline (our NLU examples, knowledge-base questions, street and
  place names, service names, choice titles, digits), cached on disk by content;
- :class:`VoiceLine` makes :class:`voice.call.CallSession` objects whose assistant is
  ``Assistant.handle`` on the ``voice`` channel and whose SMS offer writes a ``Notice``
  that the notice loop sends through the SMS channel's sender.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers

from bot import replies, service_requests
from bot.assistant import MENU
from bot.catalogue import Catalogue
from bot.city import City
from bot.contract import InboundMessage, Reply
from bot.dialogue.report import CHANGEABLE
from bot.nlu.training_data import load_training_data
from bot.runtime import Runtime, training_files
from bot.settings import Settings
from bot.storage.models import Notice
from voice.asr import Recognizer, make_recognizer
from voice.asr.base import DIGIT_WORDS
from voice.asr.lexicon import cmudict, split_compound, words
from voice.asr.pocketsphinx_engine import build_domain_model
from voice.asr.whisper_engine import model_dir, verify
from voice.call import BotMessage, BotReply, CallSession, Listen, SmsSender
from voice.errors import VoiceConfigError
from voice.live import recognize
from voice.tts import Synthesizer

log = logging.getLogger(__name__)

CHANNEL = "voice"
DOMAIN_DIR = "asr-domain"  # under the model dir; the Telegram channel's voice notes use it too
FINGERPRINT = "texts.sha256"
# Under 6 s of speech (evaluation/benchmarks/voice_prompts.py): one thing to do, and the way out.
GREETING = f"{replies.CITY} city helpline. How can I help? For a person, press 0."
# The keypad menu of the greeting: 0 already reaches a person, so only the first two.
CALL_MENU = [(choice.title, choice.payload) for choice in MENU[:2]]
SMS_TEXT = (
    f"{replies.CITY} city helpline: your report reference number is {{reference}}. "
    "Keep it to check progress."
)
ENGINES = ("whisper", "pocketsphinx", "vosk")
REPORT_TEMPLATES = (
    "there is a {thing} on {street}",
    "i want to report a {thing} on {street}",
    "the {thing} on {street}",
    "a {thing} on {street}",
    "{thing} on {street}",
)
# Words every call may need that the data might not contain.
CALL_PHRASES = (
    "yes",
    "no",
    "yes please",
    "no thank you",
    "operator",
    "repeat",
    "slower",
    "repeat that please",
    "speak slower please",
    "more details",
    "skip",
    "goodbye",
    "my reference number is",
    "my phone number is",
)


# -- settings --------------------------------------------------------------------------------
def check_settings(settings: Settings, *, phone: bool = True) -> Recognizer | None:
    """Refuse bad speech settings at start-up; returns the vosk recogniser if one was loaded.

    Whisper's model is only checked against its pinned hash here (loading it waits for
    the first call that needs it).

    Loading vosk's model is the only way to know its folder holds one, and it is loaded
    once per process anyway, so the loaded recogniser is kept for the calls. The voice
    and rate are checked only for a server with a phone line (``phone``).
    """
    if settings.asr_engine not in ENGINES:
        raise VoiceConfigError(
            f"HOTLINE_ASR_ENGINE: unknown speech engine {settings.asr_engine!r} "
            f"(one of {', '.join(ENGINES)})"
        )
    if settings.voice_mode not in ("gather", "stream"):
        raise VoiceConfigError(f"HOTLINE_VOICE_MODE: {settings.voice_mode!r} (gather or stream)")
    if phone:
        Synthesizer(settings.tts_voice, settings.tts_rate)  # an unknown voice or rate raises
    if settings.asr_engine == "vosk":
        return make_recognizer("vosk", vosk_model=settings.vosk_model)
    if settings.asr_engine == "whisper":
        verify(model_dir())  # a missing or different model stops the start, with the reason
    return None


# -- the domain language model ---------------------------------------------------------------
def domain_texts(runtime: Runtime) -> list[str]:
    """What callers of this hotline say, as sentences for pocketsphinx's language model.

    NLU examples carry deliberate typos ("grafitti") for the text channels; a recogniser
    cannot hear a typo, so examples with words no dictionary or compound split knows are
    left out. Names (streets, places, services) are kept whatever their spelling: they get
    a derived pronunciation.
    """
    known = cmudict()

    def pronounceable(text: str) -> bool:
        return all(w in known or split_compound(w) for w in words(text))

    examples = load_training_data(*training_files(runtime.settings)).examples
    texts = [e.text for e in examples if pronounceable(e.text)]
    for article in runtime.knowledge.published():
        texts += [article.title, *article.questions]
    streets = [street.name for street in runtime.city.streets]
    for street in runtime.city.streets:
        for name in street.names:
            texts += [name, f"on {name}", f"it is on {name}"]
    things = [w.lower() for s in runtime.catalogue.services for w in (s.name, *s.keywords)]
    texts += report_sentences(things, streets)
    for place in runtime.city.places:
        texts += [*place.names, *(f"at the {name}" for name in place.names)]
    for service in runtime.catalogue.services:
        texts += [service.name, *service.keywords]
        for spec in service.fields:
            texts += spec.choices
    texts += [c.title for c in MENU] + list(replies.contact_choices(CHANNEL).values())
    texts += list(CHANGEABLE.values()) + list(CALL_PHRASES)
    return sorted({" ".join(text.split()) for text in texts if text.strip()})


_BUILD_LOCK = threading.Lock()


def report_sentences(things: list[str], streets: list[str]) -> list[str]:
    """ "There is a pothole on Elm Street" for every problem, streets taken in turn.

    Reports are what callers say most, and the NLU examples name only a few streets: these
    sentences teach the model that any problem can be on any street (word errors on
    synthetic phone calls went from 43% to 33% with them).
    """
    rotation = itertools.cycle(streets)
    return [
        template.format(thing=thing, street=next(rotation))
        for thing in things
        for template in REPORT_TEMPLATES
    ]


def prepare_domain_model(runtime: Runtime, texts: Iterable[str] | None = None) -> Path:
    """The domain model's folder, rebuilt only when the texts changed (content fingerprint).

    Built beside the live folder and swapped in, so a recogniser loading meanwhile never
    sees half a model.
    """
    texts = list(texts if texts is not None else domain_texts(runtime))
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    target = runtime.settings.model_dir / DOMAIN_DIR
    stamp = target / FINGERPRINT
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return target
    with _BUILD_LOCK:
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return target
        suffix = f"{os.getpid()}-{threading.get_ident()}"
        fresh = target.with_name(f"{DOMAIN_DIR}.new-{suffix}")
        model = build_domain_model(texts, fresh)
        (fresh / FINGERPRINT).write_text(digest)
        if target.exists():
            old = target.with_name(f"{DOMAIN_DIR}.old-{suffix}")
            target.rename(old)
            fresh.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            fresh.rename(target)
        log.info(
            "built the speech domain model: %d words from %d texts", len(model.words), len(texts)
        )
    return target


# -- what a prompt expects -------------------------------------------------------------------
_WHERE = ("where", "street", "district", "place")
_WHAT = ("what kind of problem", "describe", "what the problem")
_OPEN = ("how i can help", "how can i help", "anything else")  # a report may name both
_NUMBER = ("number", "reference")


@dataclass(frozen=True)
class ExpectedWords:
    """The words an answer to a prompt may hold, by what the prompt asks.

    "Where is the pothole?" expects the city's streets, places and districts; "what kind
    of problem" the service names; a number or reference the digits. A recogniser that
    takes a vocabulary prompt hears these names far better (Whisper: "adult read it" for
    "Castle Street" without them), and Twilio's <Gather> takes them as hints.
    """

    places: tuple[str, ...]
    services: tuple[str, ...]

    @classmethod
    def of(cls, city: City, catalogue: Catalogue) -> ExpectedWords:
        # Streets last: a long prompt is cut at its start, and streets are said most.
        places = [d.name for d in city.districts] + [p.name for p in city.places]
        places += [s.name for s in city.streets]
        services = [s.name for s in catalogue.services]
        return cls(tuple(dict.fromkeys(places)), tuple(dict.fromkeys(services)))

    def __call__(self, prompt: str) -> tuple[str, ...]:
        asked = prompt.lower()
        words: list[str] = []
        if any(cue in asked for cue in _WHERE + _OPEN):
            words += self.places
        if any(cue in asked for cue in _WHAT + _OPEN):
            words += self.services
        if any(cue in asked for cue in _NUMBER):
            words += DIGIT_WORDS
        return tuple(words)


# -- the assistant, as a call sees it --------------------------------------------------------
WITHHELD_WORDS = {"", "anonymous", "restricted", "unknown", "unavailable", "private", "blocked"}
WITHHELD_DIGITS = {
    "266696687",  # ANONYMOUS
    "7378742833",  # RESTRICTED
    "8656696",  # UNKNOWN
    "86282452253",  # UNAVAILABLE
}


def withheld(from_number: str) -> bool:
    """A caller id that names nobody: a placeholder word or its keypad spelling."""
    plain = from_number.strip().lower()
    digits = "".join(ch for ch in plain if ch.isdigit())
    return plain.lstrip("+") in WITHHELD_WORDS or (
        digits == plain.lstrip("+").replace(" ", "").replace("-", "") and digits in WITHHELD_DIGITS
    )


def caller_id(from_number: str, call_sid: str) -> str:
    """Whom the conversation belongs to: the caller's number, or the call when it is withheld.

    Withheld numbers arrive as "anonymous", "restricted" or not at all, or as the keypad
    spellings Twilio uses for them (+266696687 ANONYMOUS, +7378742833 RESTRICTED, +8656696
    UNKNOWN, +86282452253 UNAVAILABLE); they must not share one conversation, nor be offered
    an SMS.
    """
    if withheld(from_number):
        return f"call:{call_sid}"
    try:
        number = phonenumbers.parse(from_number, None)
    except phonenumbers.NumberParseException:
        return f"call:{call_sid}"
    if not phonenumbers.is_possible_number(number):
        return f"call:{call_sid}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PLACE_BY_NAME = "{street}, in {district}"


def place_heard(runtime: Runtime, reply: Reply) -> str | None:
    """The street a report's answer named, as the caller should hear it confirmed."""
    if reply.intent != "report_problem":
        return None
    for entity in reply.entities:
        if entity.entity == "street" and (street := runtime.city.find_street(entity.value)):
            return PLACE_BY_NAME.format(street=street.name, district=street.district)
    return None


def bot_reply(reply: Reply, place: str | None = None) -> BotReply:
    """The core's Reply as the call logic reads it."""
    return BotReply(
        messages=tuple(
            BotMessage(
                text=m.text,
                speech=m.speech,
                choices=tuple(c.title for c in m.choices),
                handoff=m.handoff,
                ends_conversation=m.ends_conversation,
            )
            for m in reply.messages
        ),
        intent=reply.intent,
        filed_reference=reply.filed_reference,
        handoff=reply.handoff,
        slow=reply.prefs.get("speech_rate") == "slow",
        alert=reply.alert,
        place=place,
    )


@dataclass
class CallAssistant:
    """``Assistant.handle`` on the voice channel; turn ids make a retried webhook harmless."""

    runtime: Runtime
    caller: str
    call_id: str

    def __call__(self, *, text: str | None = None, dtmf: str | None = None, turn: str) -> BotReply:
        limit = self.runtime.settings.max_text_chars
        message = InboundMessage(
            channel=CHANNEL,
            sender=self.caller,
            text=text[:limit] if text else None,
            dtmf=dtmf,
            message_id=f"{self.call_id}:{turn}",
        )
        reply = self.runtime.assistant.handle(message)
        return bot_reply(reply, place_heard(self.runtime, reply))


@dataclass
class ReferenceBySms:
    """Queues the reference as an SMS notice; the notice loop sends it (opt-outs honoured)."""

    runtime: Runtime
    number: str

    def __call__(self, reference: str) -> bool:
        with self.runtime.db.transaction() as session:
            request = service_requests.find(session, reference)
            if request is None:
                return False
            session.add(
                Notice(
                    conversation_id=request.conversation_id,
                    request_id=request.id,
                    channel="sms",
                    address=self.number,
                    text=SMS_TEXT.format(reference=request.reference),
                )
            )
        return True


def emergency_transfer(settings: Settings) -> str | None:
    """Where a caller in danger is put through: its own number, else the operator's."""
    return settings.voice_emergency_number or settings.voice_operator_number


def staffed(runtime: Runtime) -> bool:
    """Whether staff answer the phone now (the city's office hours, on the assistant's clock)."""
    assistant = runtime.assistant
    local = assistant.clock().astimezone(assistant.zone).replace(tzinfo=None)
    return runtime.city.office_hours.is_open(local)


def can_send_sms(settings: Settings) -> bool:
    return bool(
        settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number
    )


# -- the line ----------------------------------------------------------------------------------
class VoiceLine:
    """What every call on this server shares: one synthesizer, one recogniser.

    The recogniser is loaded on first use (or given: a vosk model loaded at start-up):
    <Gather> calls, recognised by Twilio, never need it.
    """

    def __init__(
        self, runtime: Runtime, synthesizer: Synthesizer, recognizer: Recognizer | None = None
    ) -> None:
        self.runtime = runtime
        self.synthesizer = synthesizer
        self._recognizer = recognizer
        self._lock = threading.Lock()
        self.expected = ExpectedWords.of(runtime.city, runtime.catalogue)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def recognizer(self) -> Recognizer:
        with self._lock:
            if self._recognizer is None:
                settings = self.settings
                domain = None
                if settings.asr_engine == "pocketsphinx":
                    domain = prepare_domain_model(self.runtime)
                self._recognizer = make_recognizer(
                    settings.asr_engine, vosk_model=settings.vosk_model, domain_dir=domain
                )
            return self._recognizer

    def session(
        self,
        caller: str,
        call_id: str,
        state: dict[str, Any] | None = None,
        *,
        can_record: bool = True,
    ) -> CallSession:
        """A call from ``caller`` (see :func:`caller_id`); ``state`` resumes a stored one.

        ``can_record``: the transport can take a voice message (both Twilio ones can; the
        ``hotline call`` console cannot)."""
        sms: SmsSender | None = None
        if can_send_sms(self.settings) and not caller.startswith("call:"):
            sms = ReferenceBySms(self.runtime, caller)
        return CallSession(
            CallAssistant(self.runtime, caller, call_id),
            greeting=GREETING,
            menu=CALL_MENU,
            send_sms=sms,
            can_transfer=bool(self.settings.voice_operator_number) and staffed(self.runtime),
            can_transfer_emergency=bool(emergency_transfer(self.settings)),
            rate=self.settings.tts_rate,
            state=state,
            expect=self.expected,
            can_record=can_record,
            withheld=caller.startswith("call:"),
            sms_only=(replies.PHONE_CONTACT_CHOICES["channel"],),
        )

    def recognize(self, pcm16: bytes, rate: int, listen: Listen) -> str:
        return recognize(self.recognizer, pcm16, rate, listen)

    def speak_phone(self, text: str, rate: int) -> bytes:
        """8 kHz mu-law speech (cached on disk), as a phone line carries it."""
        return self.synthesizer.synthesize_phone(text, rate)


def build_line(runtime: Runtime, recognizer: Recognizer | None = None) -> VoiceLine:
    settings = runtime.settings
    synthesizer = Synthesizer(
        settings.tts_voice, settings.tts_rate, cache_dir=settings.data_dir / "tts-cache"
    )
    return VoiceLine(runtime, synthesizer, recognizer)


_LINE_LOCK = threading.Lock()


def line_for(app: Any) -> VoiceLine:
    """The app's voice line, built on first use."""
    with _LINE_LOCK:
        line: VoiceLine | None = getattr(app.state, "voice_line", None)
        runtime = app.state.runtime
        if line is None or line.runtime is not runtime:
            line = build_line(runtime, getattr(app.state, "voice_recognizer", None))
            app.state.voice_line = line
        return line


def warm_up(app: Any) -> None:
    """Start-up work, off the request path: the domain model, and the recogniser if used."""
    line = line_for(app)
    settings = line.settings
    if settings.voice_mode == "stream" and settings.twilio_auth_token is not None:
        line.recognizer  # noqa: B018 - loads the model (and builds the domain model) now
    elif settings.asr_engine == "pocketsphinx":
        prepare_domain_model(line.runtime)  # Telegram's voice notes use it too
