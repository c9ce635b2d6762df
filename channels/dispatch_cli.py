"""`hotline dispatch` (an outbox worker process) and `hotline outbox list|retry` for staff."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from bot.settings import Settings
from channels.cli_help import HelpGroup, storage_note

outbox_app = typer.Typer(
    cls=HelpGroup, help="See and retry what waits for the back office.", no_args_is_help=True
)


def dispatch(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[
        float | None, typer.Option(help="Seconds between passes when idle.")
    ] = None,
) -> None:
    """Deliver filed requests to the back office and bring status changes back.

    Run beside the app (set HOTLINE_DISPATCH_IN_APP=false there to leave it all to workers),
    as many as you like on PostgreSQL; on SQLite one works at a time.
    """
    import logging
    import threading

    from bot.backoffice.config import build_worker, kind
    from bot.storage.db import Database

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = storage_note(Settings())
    db = Database(settings.db_url)
    db.migrate()
    worker = build_worker(settings, db)
    if worker is None:
        typer.echo("No back office configured (HOTLINE_BACKOFFICE=none): rows stay pending.")
        raise typer.Exit(1)
    if once:
        delivered = worker.dispatcher.run_once()
        changed = worker.status_sync.run_once()
        typer.echo(f"{kind(settings)}: tried {delivered} row(s), {changed} status change(s)")
        return
    stop: threading.Event = worker.stop
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker.run(interval if interval is not None else settings.dispatch_interval)


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or dead (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
) -> None:
    """Rows per status, then the newest rows with their last error."""
    from bot.backoffice import outbox
    from bot.storage.db import Database

    db = Database(Settings().db_url)
    counts = outbox.summary(db)
    typer.echo("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "the outbox is empty")
    for e in outbox.listing(db, status, limit):
        typer.echo(
            f"{e.id:>6} {e.reference or '-':<16} {e.status:<9} attempts={e.attempts} "
            f"to={e.delivered_to or '-'} {e.last_error or ''}"
        )


@outbox_app.command("retry")
def outbox_retry(
    outbox_id: Annotated[int, typer.Argument(help="The row's number, from `outbox list`.")],
    actor: Annotated[str, typer.Option(help="Who asked, for the log.")] = "cli",
) -> None:
    """Put a dead row back in line for delivery now."""
    from bot.backoffice import outbox
    from bot.storage.db import Database

    settings = storage_note(Settings())
    try:
        outbox.retry(Database(settings.db_url), outbox_id, actor)
    except outbox.NotRetryable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"outbox row {outbox_id} will be delivered again")


def register(app: typer.Typer, service_panel: str, staff_panel: str) -> None:
    """Add ``dispatch`` to the service's commands and ``outbox`` to the staff's."""
    app.command(rich_help_panel=service_panel)(dispatch)
    app.add_typer(outbox_app, name="outbox", rich_help_panel=staff_panel)
