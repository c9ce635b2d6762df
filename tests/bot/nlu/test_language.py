"""Language names residents type, and the cheap script/word guess."""

from __future__ import annotations

import pytest

from bot.nlu.language import detect_language, language_code


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("Spanish", "es"),
        ("español", "es"),
        (" FRENCH ", "fr"),
        ("es", "es"),
        ("中文", "zh"),
        ("Tagalog", "tl"),
        ("Klingon", None),
        ("", None),
        ("sp", None),  # the first two letters of a name are not its code
    ],
)
def test_language_names_and_codes_map_to_iso_codes(given: str, code: str | None) -> None:
    assert language_code(given) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hay un bache en la calle del mercado", "es"),
        ("there is a pothole on my street", "en"),
        ("쓰레기 수거일이 언제예요?", "ko"),
        ("ok", None),
        ("🚮🚮", None),
    ],
)
def test_detects_a_language_only_on_clear_evidence(text: str, code: str | None) -> None:
    assert detect_language(text) == code
