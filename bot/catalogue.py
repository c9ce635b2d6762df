"""The service-request catalogue: which problems residents can report and what each needs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

DATA = Path(__file__).with_name("data")


class ServiceField(BaseModel):
    name: str
    prompt: str
    kind: Literal["choice", "text", "number"] = "text"
    choices: list[str] = Field(default_factory=list)
    synonyms: dict[str, list[str]] = Field(default_factory=dict)  # choice -> residents' words
    required: bool = False


class ServiceType(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    description: str
    group: str
    department: str
    keywords: list[str] = Field(default_factory=list)
    fields: list[ServiceField] = Field(default_factory=list)


class Catalogue:
    def __init__(self, services: list[ServiceType]) -> None:
        self.services = services
        self._by_code = {s.code: s for s in services}

    @classmethod
    def load(cls, path: Path | None = None) -> Catalogue:
        raw = yaml.safe_load((path or DATA / "services.yml").read_text(encoding="utf-8"))
        return cls([ServiceType.model_validate(item) for item in raw["services"]])

    def get(self, code: str | None) -> ServiceType | None:
        return self._by_code.get(code or "")

    @property
    def codes(self) -> list[str]:
        return list(self._by_code)
