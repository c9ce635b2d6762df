"""A cheap guess at the language a message is written in, for ``ParseResult.language``.

Only says something when the evidence is clear (a non-Latin script, or several function
words of one language); otherwise None, and the conversation keeps its language. A model
would do better on long text, but hotline messages are short and this costs microseconds.
"""

from __future__ import annotations

import re

_SCRIPTS = (
    ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("vi", re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)),
)
_WORDS = {
    "en": {"the", "is", "and", "my", "on", "there", "i", "it", "to", "what", "how", "of", "in",
           "for", "you", "can", "this", "please", "with", "street", "near"},
    "es": {"el", "la", "los", "las", "es", "hay", "mi", "en", "un", "una", "que", "de", "por",
           "con", "para", "hola", "gracias", "necesito", "ayuda", "está", "calle", "del", "y"},
    "fr": {"le", "la", "les", "est", "il", "mon", "dans", "une", "des", "du", "que", "je",
           "bonjour", "merci", "pour", "avec", "sur", "rue", "au", "et", "pas"},
    "tl": {"ang", "ng", "sa", "mga", "ako", "po", "may", "na", "ko", "ba", "hindi", "salamat"},
}  # fmt: skip
# What residents type after "change language to ...": names in English and in the language.
_NAMES = {
    "english": "en", "spanish": "es", "español": "es", "espanol": "es", "french": "fr",
    "français": "fr", "francais": "fr", "tagalog": "tl", "filipino": "tl", "chinese": "zh",
    "中文": "zh", "korean": "ko", "한국어": "ko", "japanese": "ja", "日本語": "ja",
    "russian": "ru", "русский": "ru", "arabic": "ar", "العربية": "ar", "vietnamese": "vi",
    "tiếng việt": "vi",
}  # fmt: skip
_TOKEN = re.compile(r"[^\W\d_]+")
MIN_WORD_HITS = 2


def detect_language(text: str) -> str | None:
    """ISO 639-1 code when the text clearly says which language it is in, else None."""
    for code, pattern in _SCRIPTS:
        if pattern.search(text):
            return code
    words = [w.lower() for w in _TOKEN.findall(text)]
    if not words:
        return None
    hits = {code: sum(w in vocab for w in words) for code, vocab in _WORDS.items()}
    best = max(hits, key=lambda c: hits[c])
    ranked = sorted(hits.values(), reverse=True)
    if ranked[0] >= MIN_WORD_HITS and ranked[0] > ranked[1]:
        return best
    return None


def language_code(value: str) -> str | None:
    """ISO 639-1 code for a language name or code a resident gave ("Spanish", "es")."""
    key = value.strip().lower()
    if key in _NAMES:
        return _NAMES[key]
    return key if key in _NAMES.values() else None
