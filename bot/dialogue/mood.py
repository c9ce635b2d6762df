"""Is the resident upset? Anger, exasperation, or the same message again: apologise and offer
a person before anything else, instead of answering as if nothing happened."""

from __future__ import annotations

import hashlib
import re

_WORD = re.compile(r"[A-Za-z']+")
EXASPERATION = re.compile(
    r"\b(?:ridiculous|useless|pathetic|disgrace(?:ful)?|unacceptable|outrage(?:ous)?|"
    r"joke|furious|angry|livid|fed up|sick (?:and tired )?of|had enough|waste of time|"
    r"hopeless|incompetent|rubbish service|terrible service|awful service|"
    r"(?:three|four|five|six) times|(?:third|fourth|fifth) time|"
    r"again and again|over and over|still (?:not|hasn't|haven't|nothing|waiting)|"
    r"nobody (?:has|came|cares|listens)|no one (?:has|came|cares|listens)|"
    r"not listening|what is wrong with you|for god'?s sake|wtf|ffs)\b",
    re.IGNORECASE,
)
MIN_SHOUTED_WORDS = 2  # words of four or more letters in capitals (not "REQ", "SMS")


def digest(text: str) -> str:
    """A short fingerprint of a message, to notice a repeat without keeping its words."""
    normal = " ".join(_WORD.findall(text.lower()))
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


def upset(text: str | None, previous_digest: str | None) -> bool:
    if not text:
        return False
    shouted = [w for w in _WORD.findall(text) if len(w) >= 4 and w.isupper()]
    exclaimed = "!!" in text or text.count("!") >= 3
    if len(shouted) >= MIN_SHOUTED_WORDS or exclaimed or (shouted and "!" in text):
        return True
    if EXASPERATION.search(text):
        return True
    repeated = previous_digest is not None and digest(text) == previous_digest
    return repeated and len(_WORD.findall(text)) >= 3
