"""When the database is down: a polite answer in each channel's own medium, never a bare 500.

A turn cannot run without the database, so nothing is filed or remembered; what the resident
gets depends on whether the channel retries. Twilio does not retry an SMS or a call webhook,
so those are answered now (TwiML: "please try again in a minute"). Telegram retries until it
gets a 2xx, so it gets 503 (and the chat is told once, see ``channels.telegram``). The REST
API and everything else: 503 with Retry-After.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from bot import replies

log = logging.getLogger(__name__)
RETRY_AFTER = "30"
DATABASE_DOWN: tuple[type[Exception], ...] = (OperationalError, InterfaceError, TimeoutError)
SMS_PATH = "/webhooks/twilio/sms"
VOICE_PATHS = ("/webhooks/twilio/voice", "/webhooks/twilio/voice/gather")


def is_database_down(error: BaseException | None) -> bool:
    return isinstance(error, DATABASE_DOWN)


def answer(path: str) -> Response:
    """The answer to a request under ``path`` that the database could not serve."""
    if path == SMS_PATH:
        sms = MessagingResponse()
        sms.message(replies.UNAVAILABLE)
        return Response(str(sms), media_type="application/xml")
    if path in VOICE_PATHS:
        call = VoiceResponse()
        call.say(replies.UNAVAILABLE_SPOKEN, language="en-US")
        call.hangup()
        return Response(str(call), media_type="application/xml")
    return JSONResponse(
        {"detail": replies.UNAVAILABLE}, status_code=503, headers={"Retry-After": RETRY_AFTER}
    )


def install(app: FastAPI) -> None:
    async def database_down(request: Request, exc: Exception) -> Response:
        log.error("database unavailable on %s: %s", request.url.path, type(exc).__name__)
        return answer(request.url.path)

    for error in DATABASE_DOWN:
        app.add_exception_handler(error, database_down)
