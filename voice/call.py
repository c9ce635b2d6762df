"""What happens on a call, turn by turn, for the callers who need it most.

Channel-free and synchronous: a transport (Twilio <Gather> webhooks, a Media Stream, the
``hotline call`` console) turns the caller's speech into a transcript or their key presses
into digits, hands them to a :class:`CallSession`, and plays the :class:`CallTurn` it gets
back. The session talks to "the assistant" through the small :class:`Assistant` protocol,
so this module knows nothing of the bot; the assistant decides what to say, and the
session adds only what the phone needs:

- a short greeting (under 6 s: "how can I help? For a person, press 0"); its keypad
  menu is read when the caller is silent or asks to repeat, and works at once;
- every choice also by key ("press 1 for ..."), yes/no as "say yes or press 1";
- "operator" and 0 reach a person, "repeat" and * repeat, "slower" slows the voice, at
  any point, including during the session's own questions;
- numbers read back digit by digit (phone numbers, references), links left out;
- silence: prompted twice, then offered a person, then a polite goodbye;
- the street a report names, confirmed by name ("Castle Street, in Old Town. Is that
  right?") before the form goes on;
- after a report is filed, an offer to text the reference to the caller, and "text me"
  choices only where a text can be sent;
- no one to put the caller through to: a voice message for staff (``CallTurn.record``),
  never a dead end;
- a caller in danger (the assistant's reply carries an alert) hears the emergency number
  first and, where an emergency transfer number is set, is put through at once;
- which vocabulary to listen for next (:class:`Listen`): yes/no, menu words and digits, or
  open speech, so a recogniser can restrict itself where it can.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from rapidfuzz import fuzz, process

from voice.asr.base import DIGIT_WORDS, Grammar

# Key presses the assistant understands whatever it offered: 0 a person, * repeat.
OPERATOR_KEY = "0"
REPEAT_KEY = "*"
FINISH_KEY = "#"

SILENCE_PROMPTS = 2  # silences answered by prompting again, before a person is offered
SILENCE_LIMIT = SILENCE_PROMPTS + 2  # ... and after the offer, one more silence ends the call
SLOWER_STEP = 20  # words per minute taken off for each "slower"
SLOWEST = 90
MAX_HEARD_CHARS = 1000  # a transcript longer than this is noise or a recogniser gone astray

NOT_HEARD = "Sorry, I didn't hear anything."
NOT_CAUGHT = "Sorry, I didn't catch that."
OFFER_PERSON = (
    "Would you like to talk to a person? Say yes or press 1. Say no or press 2 to carry on."
)
GOODBYE_SILENT = (
    "I still can't hear you, so I will end this call. Please call again at any time. Goodbye."
)
OFFER_SMS = (
    "Would you like me to send this reference number to your phone by text message? "
    "Say yes or press 1. Say no or press 2."
)
SMS_SENT = "I have sent the reference number to your phone by text message."
SMS_FAILED = "Sorry, I could not send a text message. Please write the number down."
SMS_DECLINED = "All right."
ANYTHING_ELSE = "Is there anything else I can help you with? You can also hang up now."
CARRY_ON = "All right, let's carry on."
NOT_A_CHOICE = "Sorry, {key} is not one of the choices."
YES_OR_NO_KEYS = "Please press 1 for yes, or 2 for no."
SLOWER_LOCAL = "I will speak more slowly."
OPEN_QUESTION = "Or just tell me how I can help."
CONFIRM_PLACE = "{place}. Is that right? Say yes or press 1. Say no or press 2."
PLACE_AGAIN = "Sorry. Please say the street name again."
HANGUP_AFTER_HANDOFF = "Goodbye."
# The assistant's handoff reply is written for chat ("they will reply here"); on the phone
# the call itself says what happens next, which only the line knows.
HANDOFF_TRANSFER = "I'm putting you through to a member of staff now. Please stay on the line."
HANDOFF_BY_SMS = (
    "No one can take your call right now, so I have passed it to a member of staff. "
    "They will answer you by text message to this phone number as soon as they can."
)
EMERGENCY_TRANSFER = "I'm putting you through to someone who can help now. Please stay on the line."
HANDOFF_CALL_AGAIN = (
    "No one can take your call right now, and I cannot send a text message to this phone. "
    "Please call again later to talk to a person."
)
# Without a person to put the caller through to (none set, or out of hours), the caller
# leaves a voice message for the staff inbox; one prompt, one thing to do.
LEAVE_MESSAGE = (
    "No one can take your call right now. Please leave a message after the tone, "
    "and staff will call you back. Press the hash key when you are done."
)
LEAVE_MESSAGE_WITHHELD = (
    "No one can take your call right now. Please leave a message after the tone, with a "
    "number to call you back on. Press the hash key when you are done."
)
MESSAGE_TAKEN = "Thank you. Staff will call you back. Goodbye."

YES_WORDS = frozenset(
    ["yes", "yeah", "yep", "yes please", "correct", "that's right", "right", "sure", "okay", "ok"]
)
NO_WORDS = frozenset(["no", "nope", "no thanks", "no thank you", "not now", "no thanks bye"])
# A recogniser writes what it heard, not what was offered: "yes that's right", "yeah sure",
# "no it isn't"; one short word may come out near the word ("yess", "noe").
YES_CUES = frozenset(["yes", "yeah", "yep", "yup", "correct", "right", "sure", "okay", "ok"])
NO_CUES = frozenset(["no", "nope", "nah", "not", "wrong", "isn't", "don't"])
# Digits as Whisper may write a lone spoken digit, by their homophones.
DIGIT_SOUNDS = {"oh": 0, "won": 1, "to": 2, "too": 2, "for": 4, "fore": 4, "ate": 8}
OPERATOR_WORDS = frozenset(["operator", "an operator", "the operator", "operator please"])
REPEAT_WORDS = frozenset(["repeat", "repeat that", "repeat please", "say that again", "again"])
SLOWER_WORDS = frozenset(["slower", "slow down", "speak slower", "more slowly", "slower please"])
COMMAND_WORDS = ("operator", "repeat", "slower")  # each command's key word
_NUMBER_FILLER = ("number", "option", "press", "choice", "please")

_REFERENCE = re.compile(r"\b([A-Z]{2,5})-(\d{4})-(\d{4,8})\b")
_URL = re.compile(r"\(?\b(?:https?://|www\.)\S+\)?", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"(?<![\w-])\+?\d(?:[ -]?\d){4,}(?![\w-])")
_MARKUP = re.compile(r"[*_#`~|<>\[\]{}]")


# -- the assistant, as the call sees it -----------------------------------------------------
@dataclass(frozen=True)
class BotMessage:
    """One message of a reply: ``speech`` is what a voice says when it differs from ``text``.

    ``choices`` are option titles; a reply's choices are numbered from 1 across its messages.
    """

    text: str
    speech: str | None = None
    choices: tuple[str, ...] = ()
    handoff: bool = False
    ends_conversation: bool = False

    @property
    def spoken(self) -> str:
        return self.speech or self.text


@dataclass(frozen=True)
class BotReply:
    """The assistant's answer to one turn, and what it did (filed a report, slowed down)."""

    messages: tuple[BotMessage, ...]
    intent: str | None = None
    filed_reference: str | None = None
    handoff: bool = False
    slow: bool = False
    alert: str | None = None  # emergency or crisis: the first message gives the number
    place: str | None = None  # the street just heard, by name ("Castle Street, in Old Town")


class Assistant(Protocol):
    """The assistant behind the call: words or key presses in, a reply out.

    ``turn`` is unique within the call (for idempotency); a picked choice is sent as its
    title or, for keys, its number; "0" means a person and "*" a repeat.
    """

    def __call__(
        self, *, text: str | None = None, dtmf: str | None = None, turn: str
    ) -> BotReply: ...


class Expect(Protocol):
    """The words a caller may answer a prompt with (street names to "where is it?")."""

    def __call__(self, prompt: str) -> tuple[str, ...]: ...


class SmsSender(Protocol):
    """Sends (or queues) a text message with ``reference`` to the caller; False if it cannot."""

    def __call__(self, reference: str) -> bool: ...


# -- what a turn gives the transport ----------------------------------------------------------
@dataclass(frozen=True)
class Listen:
    """What to listen for next.

    ``grammar`` restricts a recogniser (``None``: open speech with the domain model);
    ``keys`` is how many numbered choices are on offer (a single key press answers them);
    ``hints`` are the words and phrases the answer may hold, the turn's own choices last:
    Twilio's <Gather> hints, and the vocabulary prompt of a recogniser that takes one.
    """

    grammar: Grammar | None = None
    keys: int = 0
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallTurn:
    """The bot's side of one turn: what to say, how fast, what to listen for, what next."""

    heard: str | None
    text: str
    speech: str
    rate: int
    listen: Listen
    hangup: bool = False
    handoff: bool = False
    filed_reference: str | None = None
    sms_sent: bool = False
    emergency: bool = False  # the handoff goes to the emergency transfer number
    record: bool = False  # after the prompt, record the caller's voice message for staff


@dataclass
class CallState:
    """Everything a call remembers between turns, as plain JSON-able data.

    ``prompt_*`` is the question waiting for an answer (said again after a silence);
    ``last_*`` is what was said last, ours included (said again on "repeat").
    """

    turn: int = 0
    choices: list[str] = field(default_factory=list)
    menu: list[list[str]] = field(default_factory=list)  # [title, text] before the assistant
    pending: str | None = None  # a question of ours: "sms", "person", "place", "place-again"
    expect: list[str] = field(default_factory=list)  # words the open question expects
    held: list[str] = field(default_factory=list)  # the reply said once the place is confirmed
    reference: str | None = None
    silences: int = 0
    slower: int = 0
    prompt_text: str = ""
    prompt_speech: str = ""
    last_text: str = ""
    last_speech: str = ""
    ended: bool = False


# What a turn of ours becomes: the new question, a side remark, or neither (a re-prompt).
PROMPT, LOCAL, AGAIN = "prompt", "local", "again"


# -- the session ---------------------------------------------------------------------------
class CallSession:
    """One call: feed it what the caller said or pressed, play back what it returns."""

    def __init__(
        self,
        assistant: Assistant,
        *,
        greeting: str,
        menu: Sequence[tuple[str, str]] = (),
        send_sms: SmsSender | None = None,
        can_transfer: bool = False,
        can_transfer_emergency: bool = False,
        rate: int = 140,
        state: CallState | dict[str, Any] | None = None,
        expect: Expect | None = None,
        can_record: bool = False,
        withheld: bool = False,
        sms_only: Sequence[str] = (),
    ) -> None:
        self.assistant = assistant
        self.greeting = greeting
        self.initial_menu = [[title, text] for title, text in menu]
        self.send_sms = send_sms
        self.can_transfer = can_transfer
        self.can_transfer_emergency = can_transfer_emergency
        self.rate = rate
        self.expect = expect
        self.can_record = can_record
        self.withheld = withheld
        # Choices that promise a text message ("Text me at this number"), left out when
        # this call cannot send one (no SMS configured, or a withheld number).
        self.sms_only = frozenset(sms_only) if send_sms is None else frozenset()
        if isinstance(state, dict):
            state = CallState(**state)
        self.state = state or CallState()

    def dump(self) -> dict[str, Any]:
        """The call's state, to store between webhook requests."""
        return asdict(self.state)

    @property
    def speech_rate(self) -> int:
        return max(SLOWEST, self.rate - SLOWER_STEP * self.state.slower)

    @property
    def listen(self) -> Listen:
        """What the next turn should listen for (see :class:`Listen`)."""
        state = self.state
        commands = ("operator", "repeat", "slower")
        expected = tuple(state.expect)
        if state.pending == "place-again":
            places = tuple(self.expect("where")) if self.expect else ()
            return Listen(None, 0, (*places, *commands))
        if state.pending:
            return Listen(Grammar.yes_no(), 2, ("yes", "no", *commands))
        if state.menu:
            titles = tuple(title for title, _ in state.menu)
            return Listen(None, len(titles), (*expected, *titles, *commands))
        titles = tuple(state.choices)
        if not titles:
            return Listen(None, 0, (*expected, *commands))
        if _is_yes_no(titles):
            return Listen(Grammar.yes_no(), 2, ("yes", "no", *commands))
        if len(titles) == 1:  # "More details" after an answer: the caller may ask anything
            return Listen(None, 1, (*expected, *titles, *commands))
        numbers = DIGIT_WORDS[1 : len(titles) + 1]
        hints = (*expected, *titles, *commands)
        return Listen(Grammar.menu((*titles, *numbers)), len(titles), hints)

    # -- turns ---------------------------------------------------------------------------
    def start(self) -> CallTurn:
        """The greeting, with the keypad menu given at construction."""
        self.state = CallState(menu=[list(item) for item in self.initial_menu])
        titles = [title for title, _ in self.state.menu]
        self.state.expect = list(self.expect(self.greeting)) if self.expect else []
        text = "\n".join([self.greeting, *(f"{i}. {t}" for i, t in enumerate(titles, 1))])
        turn = self._say(None, text, self.greeting, PROMPT)
        if titles:  # said after a silence, or on "repeat": the keys, for those who need them
            menu = f"{choice_prompt(titles)} {OPEN_QUESTION}"
            self.state.prompt_speech = self.state.last_speech = menu
        return turn

    def hear(self, transcript: str) -> CallTurn:
        """The caller said something; ``transcript`` is what the recogniser made of it."""
        state = self.state
        heard = " ".join(transcript.split())[:MAX_HEARD_CHARS]
        words = normalise(heard)
        if not words:
            return self._nothing(NOT_CAUGHT, heard or None)
        state.silences = 0
        if said(words, OPERATOR_WORDS):
            return self._ask(heard, dtmf=OPERATOR_KEY)
        ours = bool(state.pending or state.menu)  # the assistant has not spoken, or we asked
        if ours and said(words, REPEAT_WORDS):
            return self._say(heard, state.last_text, state.last_speech, AGAIN)
        if ours and said(words, SLOWER_WORDS):
            state.slower += 1
            return self._say(heard, state.last_text, f"{SLOWER_LOCAL} {state.last_speech}", AGAIN)
        if state.pending and (answered := self._answer_pending(heard, words)) is not None:
            return answered
        if state.menu and (text := self._menu_text(words)):
            return self._ask(heard, text=text)
        if said(words, REPEAT_WORDS):
            return self._ask(heard, dtmf=REPEAT_KEY)
        if state.choices and (picked := _pick(words, state.choices)) is not None:
            return self._ask(heard, text=state.choices[picked])
        return self._ask(heard, text=heard)

    def press(self, keys: str) -> CallTurn:
        """The caller pressed keys (one, or several ended by # or a pause)."""
        state = self.state
        keys = keys.strip().rstrip(FINISH_KEY)
        heard = f"keys {keys}" if keys else None
        if not keys or not re.fullmatch(r"[0-9*#]{1,32}", keys):
            return self._nothing(NOT_CAUGHT, heard)
        state.silences = 0
        if keys == OPERATOR_KEY:
            return self._ask(heard, dtmf=OPERATOR_KEY)
        if keys == REPEAT_KEY and (state.pending or state.menu):
            return self._say(heard, state.last_text, state.last_speech, AGAIN)
        if state.pending == "place-again":  # keys are no street: the form goes on
            state.pending = None
            return self._ask(heard, dtmf=keys)
        if state.pending:
            answer = {"1": "yes", "2": "no"}.get(keys)
            answered = self._answer_pending(heard, answer) if answer else None
            if answered is None:
                return self._say(heard, YES_OR_NO_KEYS, YES_OR_NO_KEYS, AGAIN)
            return answered
        if state.menu:
            if keys.isdigit() and 1 <= int(keys) <= len(state.menu):
                return self._ask(heard, text=state.menu[int(keys) - 1][1])
            return self._not_a_choice(heard, keys)
        offered = len(state.choices)
        if offered and len(keys) == 1 and keys.isdigit() and not 1 <= int(keys) <= offered:
            return self._not_a_choice(heard, keys)
        return self._ask(heard, dtmf=keys)

    def silence(self) -> CallTurn:
        """The caller said nothing and pressed nothing before the time ran out."""
        return self._nothing(NOT_HEARD, None)

    # -- the parts -----------------------------------------------------------------------
    def _nothing(self, sorry: str, heard: str | None) -> CallTurn:
        """Prompt again twice, then offer a person, then say goodbye."""
        state = self.state
        state.silences += 1
        if state.silences <= SILENCE_PROMPTS:
            text, speech = f"{sorry} {state.prompt_text}", f"{sorry} {state.prompt_speech}"
            return self._say(heard, text, speech, AGAIN)
        if state.silences < SILENCE_LIMIT:
            state.pending = "person"
            return self._say(heard, OFFER_PERSON, OFFER_PERSON, LOCAL)
        state.ended = True
        return self._say(heard, GOODBYE_SILENT, GOODBYE_SILENT, AGAIN, hangup=True)

    def _answer_pending(self, heard: str | None, words: str) -> CallTurn | None:
        """Our own yes/no question answered; ``None`` if the caller said something else."""
        state = self.state
        yes, no = yes_or_no(words)
        pending, state.pending = state.pending, None
        if pending == "person" and yes:
            return self._ask(heard, dtmf=OPERATOR_KEY)
        if pending == "person" and no:
            text, speech = f"{CARRY_ON} {state.prompt_text}", f"{CARRY_ON} {state.prompt_speech}"
            return self._say(heard, text, speech, AGAIN)
        if pending == "place" and yes:
            text, speech = state.held
            return self._say(heard, text, speech, PROMPT)
        if pending == "place" and no and len(words.split()) > 2:  # "no, it's on Oak Avenue"
            return self._ask(heard, text=heard)
        if pending == "place" and no:
            state.pending = "place-again"
            return self._say(heard, PLACE_AGAIN, PLACE_AGAIN, LOCAL)
        if pending == "place-again":  # the street again, as a correction the form reads
            return self._ask(heard, text=f"it is on {heard}")
        if pending == "sms" and (yes or no):
            sent = bool(yes and self.send_sms and self.send_sms(state.reference or ""))
            first = SMS_SENT if sent else (SMS_FAILED if yes else SMS_DECLINED)
            text = f"{first} {ANYTHING_ELSE}"
            return self._say(heard, text, text, PROMPT, sms_sent=sent)
        return None  # something else: an answer for the assistant

    def _menu_text(self, words: str) -> str | None:
        picked = _pick(words, [title for title, _ in self.state.menu])
        return self.state.menu[picked][1] if picked is not None else None

    def _not_a_choice(self, heard: str | None, keys: str) -> CallTurn:
        titles = [title for title, _ in self.state.menu] or self.state.choices
        text = f"{NOT_A_CHOICE.format(key=keys)} {choice_prompt(titles)}"
        return self._say(heard, text, text, AGAIN)

    def _ask(
        self, heard: str | None, *, text: str | None = None, dtmf: str | None = None
    ) -> CallTurn:
        """Send the turn to the assistant and speak its reply, phone-style."""
        state = self.state
        state.turn += 1
        state.menu, state.pending = [], None
        reply = self.assistant(text=text, dtmf=dtmf, turn=str(state.turn))
        if reply.intent == "slower" or (reply.slow and state.slower == 0):
            state.slower += 1
        if reply.alert and self.can_transfer_emergency and reply.messages:
            return self._put_through(heard, reply.messages[0])
        offered = [[t for t in m.choices if t not in self.sms_only] for m in reply.messages]
        state.choices = [title for titles in offered for title in titles]
        texts, speeches, number = [], [], 0
        for message, titles in zip(reply.messages, offered, strict=True):
            text = self._handoff_words() if message.handoff else message.text
            spoken = text if message.handoff else speakable(message.spoken)
            if titles:
                spoken = f"{spoken} {choice_prompt(titles, start=number + 1)}"
            texts.append(text)
            texts += [f"{number + i}. {title}" for i, title in enumerate(titles, 1)]
            speeches.append(spoken)
            number += len(titles)
        handoff = reply.handoff or any(m.handoff for m in reply.messages)
        hangup = any(m.ends_conversation for m in reply.messages)
        record = handoff and not self.can_transfer and self.can_record and not hangup
        if handoff and not self.can_transfer and not record:
            hangup = True
            speeches.append(HANGUP_AFTER_HANDOFF)
        reference = reply.filed_reference
        state.expect = list(self.expect(" ".join(texts))) if self.expect else []
        if reply.place and not (reference or hangup or handoff):
            return self._confirm_place(heard, reply.place, "\n".join(texts), " ".join(speeches))
        if reference and self.send_sms is not None and not hangup:
            state.pending, state.reference = "sms", reference
            texts.append(OFFER_SMS)
            speeches.append(OFFER_SMS)
        state.ended = hangup or handoff
        return self._say(
            heard,
            "\n".join(texts),
            " ".join(speeches),
            PROMPT,
            hangup=hangup,
            handoff=handoff,
            filed_reference=reference,
            record=record,
        )

    def _confirm_place(self, heard: str | None, place: str, text: str, speech: str) -> CallTurn:
        """The street read back by name before the form goes on: a misheard street is
        caught now, not after the whole report was read back."""
        state = self.state
        state.pending, state.held = "place", [text, speech]
        question = CONFIRM_PLACE.format(place=place)
        return self._say(heard, question, question, PROMPT)

    def _put_through(self, heard: str | None, first: BotMessage) -> CallTurn:
        """The emergency line as written (not "hang up and call"), then the transfer."""
        self.state.choices, self.state.ended = [], True
        said = re.sub(r"\b\d{3}\b", lambda m: " ".join(m.group()), speakable(first.text))
        text = f"{first.text}\n{EMERGENCY_TRANSFER}"
        speech = f"{said} {EMERGENCY_TRANSFER}"
        return self._say(heard, text, speech, PROMPT, handoff=True, emergency=True)

    def _handoff_words(self) -> str:
        """What a caller hears when handed to a person: put through, or told how they hear back
        (staff replies to a phone conversation go out by SMS to the caller's number)."""
        if self.can_transfer:
            return HANDOFF_TRANSFER
        if self.can_record:
            return LEAVE_MESSAGE_WITHHELD if self.withheld else LEAVE_MESSAGE
        return HANDOFF_BY_SMS if self.send_sms is not None else HANDOFF_CALL_AGAIN

    def _say(self, heard: str | None, text: str, speech: str, kind: str, **flags: Any) -> CallTurn:
        """A turn of ours, remembered as the open question (PROMPT), as said (LOCAL), or not."""
        state = self.state
        if kind == PROMPT:
            state.prompt_text, state.prompt_speech = text, speech
        if kind in (PROMPT, LOCAL):
            state.last_text, state.last_speech = text, speech
        return CallTurn(
            heard=heard,
            text=text.strip(),
            speech=" ".join(speech.split()),
            rate=self.speech_rate,
            listen=self.listen,
            **flags,
        )


# -- phone rendering -----------------------------------------------------------------------
def choice_prompt(titles: Sequence[str], start: int = 1) -> str:
    """Choices as a caller hears them: "Press 1 for ...", yes/no as "say yes or press 1"."""
    if _is_yes_no(titles) and start == 1:
        return "Say yes or press 1. Say no or press 2."
    return " ".join(f"Press {start + i} for {title}." for i, title in enumerate(titles))


def speakable(text: str) -> str:
    """Text as it should be read on the phone: references and long numbers digit by digit.

    A synthesizer reads "5551234567" as billions and "REQ-2026-000123" as a word and two
    numbers; callers write these down, so they hear them in groups of single digits. Links
    are left out (they cannot be followed by ear) and markup characters dropped.
    """
    text = _URL.sub("", text)
    text = _REFERENCE.sub(
        lambda m: f"{' '.join(m.group(1))}, {' '.join(m.group(2))}, {' '.join(m.group(3))}",
        text,
    )
    text = _LONG_NUMBER.sub(_read_number, text)
    text = _MARKUP.sub(" ", text)
    return " ".join(text.split())


def _read_number(match: re.Match[str]) -> str:
    """Digits in the writer's groups ("555 123 4567"), or in threes when written as one run."""
    groups = re.split(r"[ -]+", match.group().lstrip("+"))
    if all(len(group) == 1 for group in groups):
        groups = ["".join(groups)]
    return ", ".join(_digit_groups(group) for group in groups)


def _digit_groups(digits: str) -> str:
    groups, rest = [], digits
    while len(rest) > 4:
        groups.append(rest[:3])
        rest = rest[3:]
    groups.append(rest)
    return ", ".join(" ".join(group) for group in groups)


def normalise(text: str) -> str:
    """Lower-case words without punctuation or unknown-word markers, for matching."""
    text = text.lower().replace("[unk]", " ")
    return " ".join(re.sub(r"[^\w' ]+", " ", text).split())


def _is_yes_no(titles: Sequence[str]) -> bool:
    return [normalise(t) for t in titles] == ["yes", "no"]


def said(words: str, command: frozenset[str]) -> bool:
    """Whether a short answer is the command: one of its phrases, or its key word among
    at most two others ("hour operator", "repeat please now")."""
    if words in command:
        return True
    tokens = words.split()
    return len(tokens) <= 3 and any(k in tokens for k in COMMAND_WORDS if k in command)


def yes_or_no(words: str) -> tuple[bool, bool]:
    """(yes, no) for an answer to a yes/no question: exact phrases, cue words, near words.

    A no cue wins over a yes cue ("no that's not right"); an answer with neither, or
    with more than a few words, is something else, for the assistant.
    """
    if words in YES_WORDS or words in NO_WORDS:
        return words in YES_WORDS, words in NO_WORDS
    tokens = words.split()
    if not tokens or len(tokens) > 5:
        return False, False
    if any(t in NO_CUES for t in tokens):
        return False, True
    if any(t in YES_CUES for t in tokens):
        return True, False
    if len(tokens) == 1:
        near = process.extractOne(tokens[0], ["yes", "no"], scorer=fuzz.ratio, score_cutoff=75)
        return (near is not None and near[0] == "yes"), (near is not None and near[0] == "no")
    return False, False


def _pick(words: str, titles: Sequence[str]) -> int | None:
    """The index of the choice the caller named, by its title or its number in words."""
    for index, title in enumerate(titles):
        if words == normalise(title):
            return index
    tokens = [t for t in words.split() if t not in _NUMBER_FILLER]
    if len(tokens) == 1:
        token = tokens[0]
        number = DIGIT_WORDS.index(token) if token in DIGIT_WORDS else DIGIT_SOUNDS.get(token)
        if token.isdigit():
            number = int(token)
        if number is not None and 1 <= number <= len(titles):
            return number - 1
    return None


def phrases(speech: str) -> list[str]:
    """Speech cut into sentences, so playback can start while the rest is synthesized."""
    return [part for part in re.split(r"(?<=[.?!])\s+", speech.strip()) if part]
