"""Every table the migrations manage, registered by importing the modules that define them.

The core's tables, the back office's, staff's, integration keys' and the channels' state
share ``bot.storage.base.Base``; the knowledge base has its own metadata
(``knowledge/models.py``). The migrations' environment compares against ``METADATA``.
"""

from __future__ import annotations

from bot import integrations  # noqa: F401  (integration keys)
from bot.backoffice import models as backoffice_models  # noqa: F401  (leases, Open311 posts)
from bot.staff import models as staff_models  # noqa: F401  (accounts, API tokens)
from bot.storage import (  # noqa: F401  (receipts, opt-outs; the core)
    channel_state,
    models,
    rate_counters,
)
from bot.storage.base import Base
from knowledge.models import KnowledgeBase

METADATA = [Base.metadata, KnowledgeBase.metadata]
