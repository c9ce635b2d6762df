"""Typed configuration from HOTLINE_* environment variables (and a .env file if present)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


def secret_text(secret: SecretStr | None) -> str | None:
    """A secret's text, None when unset or blank: no check ever compares against ''."""
    text = secret.get_secret_value() if secret is not None else ""
    return text if text.strip() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite file in data_dir
    nlu_engine: str = "embedding"
    rasa_url: str | None = None
    nlu_data: list[Path] = Field(default_factory=list)  # extra Rasa NLU files/directories
    default_language: str = "en"
    session_ttl_minutes: int = 30
    max_text_chars: int = 4000
    timezone: str = "America/Los_Angeles"
    seed_demo: bool = True
    public_url: str | None = None
    secret_key: SecretStr | None = None
    # Reverse proxies whose X-Forwarded-For / -Proto are believed: comma-separated addresses
    # or networks ("10.0.0.5,192.168.0.0/24"). Empty: none, every client is its own address.
    trusted_proxies: str = ""

    telegram_bot_token: SecretStr | None = None
    telegram_secret_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_url: str | None = None
    # Residents' channels (channels/rate_limit.py, channels/outbound.py): `limits` notation.
    rate_limit_sender: str = "30/minute"
    rate_limit_channel: str = "15000/minute"  # 250 a second: above what two cores answer
    # Where the counters live: "auto" (the database on PostgreSQL, shared by every instance;
    # memory on SQLite, which one instance serves), "memory", "database", or a `limits`
    # storage URI such as redis://host:6379.
    rate_limit_storage: str = "auto"
    notice_interval_seconds: float = 15.0

    # Back office (bot/backoffice): "local" (our own Open311 server and staff desk), "open311",
    # "webhook" or "none" (rows stay pending, visible to staff). Unset: open311 if a URL is
    # given, else webhook if a URL is given, else local.
    backoffice: str | None = None
    open311_url: str | None = None
    open311_api_key: SecretStr | None = None
    open311_jurisdiction: str | None = None
    open311_service_map: dict[str, str] = Field(default_factory=dict)  # ours -> theirs, JSON
    # "auto": the discovery document's formats if HOTLINE_OPEN311_DISCOVERY_URL is set, else
    # whichever of services.json / services.xml answers; or "json" / "xml" to fix it.
    open311_format: Literal["auto", "json", "xml"] = "auto"
    open311_discovery_url: str | None = None
    open311_api_keys: SecretStr | None = None  # our server: comma-separated keys for POST
    jurisdiction_id: str = "portalder.example"  # our server's Open311 jurisdiction
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    backoffice_timeout: float = 10.0
    ready_min_free_mb: int = 100  # /readyz says not ready below this free in the data dir
    dispatch_in_app: bool = True  # false when `hotline dispatch` workers run separately
    dispatch_interval: float = 1.0
    dispatch_max_attempts: int = 10
    dispatch_base_delay: float = 5.0
    dispatch_max_delay: float = 3600.0
    dispatch_lease: float = 60.0
    dispatch_concurrency: int = 4  # deliveries in flight per dispatcher
    status_poll_interval: float = 300.0

    vosk_model: Path | None = None
    # Speech recognition (voice/asr/): "whisper" (tiny.en from a pinned wheel), "pocketsphinx"
    # (its domain language model) or "vosk" (vosk_model, an unpacked model folder).
    asr_engine: str = "whisper"
    tts_rate: int = 140
    # Phone line (channels/voice_twilio.py): "gather" (Twilio's <Gather> recognition, our
    # synthesized prompts) or "stream" (Media Streams: our recognition and synthesis).
    voice_mode: str = "gather"
    tts_voice: str = "gmw/en-us"  # espeak-ng voice; its default is British
    voice_operator_number: str | None = None  # "operator" transfers here; unset: staff call back
    # Triage (bot/triage.py): the numbers the first reply gives (default: bot/data/city.yml),
    # and where a caller in danger is put through (unset: the operator number, if any).
    emergency_number: str | None = None
    crisis_line: str | None = None
    voice_emergency_number: str | None = None
    voice_end_silence_ms: int = 500  # quiet that ends a caller's turn (Media Streams)
    voice_no_input_ms: int = 7000  # silence after a prompt before it is asked again
    # Media Streams sockets (channels/voice_twilio.py): time to prove a socket is ours with
    # `start`, quiet that ends a started stream, and open streams per process.
    voice_stream_start_seconds: float = 10.0
    voice_stream_idle_seconds: float = 30.0
    voice_max_streams: int = 100

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object, info: ValidationInfo) -> object:
        """``HOTLINE_TWILIO_AUTH_TOKEN=`` means unset, never "the empty secret"."""
        field = cls.model_fields.get(info.field_name or "")
        blank = isinstance(value, str) and not value.strip()
        return None if blank and field is not None and field.default is None else value

    def unset_secrets(self) -> list[tuple[bool, str]]:
        """What each webhook refuses for want of its secret: (configured otherwise, message)."""
        twilio = bool(self.twilio_account_sid or self.twilio_from_number)
        office = bool(self.webhook_url) or self.backoffice == "webhook"
        checks = [
            (
                self.telegram_bot_token is not None and self.telegram_secret_token is None,
                self.telegram_bot_token is not None,
                "the Telegram webhook refuses every update (403): "
                "HOTLINE_TELEGRAM_SECRET_TOKEN is not set",
            ),
            (
                self.twilio_auth_token is None,
                twilio,
                "the Twilio SMS and voice webhooks and Media Streams are off (404): "
                "HOTLINE_TWILIO_AUTH_TOKEN is not set",
            ),
            (
                self.webhook_secret is None,
                office,
                "the back-office status webhook is off (404): HOTLINE_WEBHOOK_SECRET is not set",
            ),
            (
                self.open311_api_keys is None,
                False,
                "Open311 POST requests are refused: HOTLINE_OPEN311_API_KEYS is not set",
            ),
        ]
        return [(configured, message) for missing, configured, message in checks if missing]

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').resolve()}"

    @property
    def storage(self) -> str:
        """Where commands read and write, password hidden: a relative data folder surprises."""
        database = make_url(self.db_url).render_as_string(hide_password=True)
        return f"data folder {self.data_dir.resolve()}, database {database}"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"
