"""The residents' channels on the app: Telegram, SMS, phone, web chat, notices, rate limits.

``install(app)`` is the one call ``create_app`` makes: it mounts the routes, the rate
limiter, and (for as long as the app runs) the loop that delivers pending notices.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from bot.settings import Settings
from channels import outbound, rate_limit, sms, telegram, voice_message, voice_twilio, webchat
from channels.tasks import cancel


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    task = None
    if settings.notice_interval_seconds > 0:
        task = asyncio.create_task(outbound.notice_loop(app, settings.notice_interval_seconds))
    try:
        yield
    finally:
        await cancel(task)
        channel = getattr(app.state, "telegram", None)
        if channel is not None:
            await channel.shutdown()


router = APIRouter(lifespan=lifespan)
for module in (telegram, sms, voice_twilio, voice_message, webchat, outbound):
    router.include_router(module.router)


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    app.state.rate_limiter = rate_limit.from_settings(settings, lambda: app.state.runtime.db)
    app.include_router(router)
