"""The declarative base every table of the core builds on, and the clock its defaults use.

A module of its own so that the core's tables (``bot/storage/models.py``) and those of the
back office, staff, integrations and channels each build on it without importing one
another; ``bot/storage/tables.py`` gathers them all for the migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON
from sqlalchemy.orm import DeclarativeBase


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}
