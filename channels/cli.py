"""The `hotline` command, its commands grouped by who uses them (the help's panels)."""

from __future__ import annotations

import getpass
import json
import logging
import shutil
import textwrap
from pathlib import Path
from typing import Annotated

import typer
import yaml

from bot.contract import InboundMessage, Reply
from bot.replies import GREETING
from bot.settings import Settings
from bot.staff.roles import LEAST_ROLE
from channels import call_console, dispatch_cli, qa_cli
from channels.cli_help import HelpGroup, storage_note

# The help's panels: who runs each command.
RUN = "Run the service"
TRY = "Try it"
STAFF = "Staff and content"
QA = "Quality assurance"

app = typer.Typer(cls=HelpGroup, help="City hotline assistant.", no_args_is_help=True)
kb_app = typer.Typer(
    cls=HelpGroup, help="Import and export knowledge articles.", no_args_is_help=True
)
app.add_typer(kb_app, name="kb", rich_help_panel=STAFF)
staff_app = typer.Typer(
    cls=HelpGroup, help="Staff console accounts and integration keys.", no_args_is_help=True
)
app.add_typer(staff_app, name="staff", rich_help_panel=STAFF)
dispatch_cli.register(app, RUN, STAFF)  # hotline dispatch, hotline outbox list|retry
call_console.register(app, TRY)  # hotline call FILE.wav ...: the phone line without a phone
qa_cli.register(app, QA)  # hotline test, import-rasa, evaluate: the QA tools of evaluation/


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command(rich_help_panel=RUN)
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Start the web server (REST API, web chat, staff console, webhooks)."""
    import uvicorn

    _logging()
    settings = storage_note(Settings())
    typer.echo(f"Hotline assistant on http://{host}:{port} (web chat: /chat, staff: /staff)")
    from channels.staff.commands import first_admin_hint

    hint = first_admin_hint(settings, f"http://{host}:{port}")
    if hint:
        typer.echo(hint)
    from channels.app import SERVER_OPTIONS

    uvicorn.run(
        "channels.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **SERVER_OPTIONS,
    )


@app.command(rich_help_panel=STAFF)
def train(
    force: Annotated[
        bool, typer.Option("--force", help="Retrain even if the NLU data has not changed.")
    ] = False,
) -> None:
    """Train the understanding model on the NLU data and save it to the data folder."""
    from bot.catalogue import Catalogue
    from bot.city import City
    from bot.nlu.entities import EntityExtractor
    from bot.nlu.training_data import NLUFormatError, load_training_data
    from bot.runtime import prepare_nlu, training_files
    from knowledge.embedder import load_embedder

    _logging()
    settings = storage_note(Settings())
    stamp = settings.model_dir / f"nlu-{settings.nlu_engine}" / "fingerprint.json"
    before = stamp.stat().st_mtime_ns if stamp.exists() else None
    try:
        data = load_training_data(*training_files(settings))
    except (NLUFormatError, FileNotFoundError) as exc:
        typer.echo(f"cannot train: {exc}", err=True)
        raise typer.Exit(2) from exc
    extractor = EntityExtractor(data, City.load(), Catalogue.load().codes)
    prepare_nlu(settings, load_embedder(cache_dir=settings.model_dir), extractor, data, force=force)
    if stamp.exists() and stamp.stat().st_mtime_ns != before:
        typer.echo(f"trained {settings.nlu_engine} on {len(data.examples)} examples")
    else:
        typer.echo(f"{settings.nlu_engine} is up to date with the NLU data (--force retrains)")


def render(reply: Reply) -> str:
    """A reply as plain text with numbered choices, as a terminal shows it."""
    lines = []
    for message in reply.messages:
        lines.append(message.text)
        if message.source:
            lines.append(f"  (source: {message.source.title} - {message.source.url})")
        lines += [f"  {i}. {choice.title}" for i, choice in enumerate(message.choices, 1)]
    return "\n".join(lines)


def wrapped(who: str, text: str, width: int | None = None) -> str:
    """``who> text`` wrapped between words at the terminal's width, aligned after ``who> ``."""
    width = width or shutil.get_terminal_size().columns
    prefix = f"{who}> "
    indent = " " * len(prefix)
    lines = []
    for number, line in enumerate(text.splitlines() or [""]):
        stripped = line.lstrip()
        hanging = indent + " " * (len(line) - len(stripped))  # a choice's own indent
        first = prefix if number == 0 else hanging
        lines.append(
            textwrap.fill(
                stripped,
                width=max(width - 1, len(first) + 20),
                initial_indent=first,
                subsequent_indent=hanging + ("   " if stripped[:1].isdigit() else ""),
                break_long_words=False,
                break_on_hyphens=False,
            )
            if stripped
            else first.rstrip()
        )
    return "\n".join(lines)


@app.command(rich_help_panel=TRY)
def chat(
    url: Annotated[
        str | None,
        typer.Option(help="Talk to a running server instead (as a web chat session)."),
    ] = None,
    sender: Annotated[str, typer.Option(help="Who you are in the conversation.")] = "",
) -> None:
    """Chat with the assistant in the terminal (type a number to pick a choice)."""
    sender = sender or getpass.getuser()
    if url:
        import httpx

        client = httpx.Client(base_url=url, timeout=30)  # keeps the session cookie

        def send(text: str) -> Reply:
            response = client.post("/api/v1/messages", json={"text": text})
            response.raise_for_status()
            return Reply.model_validate(response.json())
    else:
        from bot.runtime import build_runtime

        settings = storage_note(Settings())
        typer.echo("Loading the assistant...")
        assistant = build_runtime(settings).assistant

        def send(text: str) -> Reply:
            return assistant.handle(InboundMessage(channel="console", sender=sender, text=text))

    typer.echo(wrapped("bot", GREETING))
    typer.echo("(An empty line or Ctrl-D ends the chat.)")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        reply = send(text)
        typer.echo(wrapped("bot", render(reply)))
        if any(m.ends_conversation for m in reply.messages):
            break


@app.command(rich_help_panel=RUN)
def telegram(
    polling: Annotated[
        bool, typer.Option("--polling", help="Fetch updates from Telegram (no public URL).")
    ] = False,
    set_webhook: Annotated[
        bool,
        typer.Option(
            "--set-webhook", help="Point Telegram at HOTLINE_PUBLIC_URL/webhooks/telegram."
        ),
    ] = False,
) -> None:
    """Run the Telegram bot by polling, or register the webhook that `hotline serve` answers."""
    import asyncio

    from channels import telegram as channel

    _logging()
    settings = Settings()
    if settings.telegram_bot_token is None:
        typer.echo("set HOTLINE_TELEGRAM_BOT_TOKEN first (from @BotFather)", err=True)
        raise typer.Exit(2)
    if polling:
        storage_note(settings)
        typer.echo("Telegram bot polling for updates; Ctrl-C stops it.")
        channel.run_polling(settings)
    elif set_webhook:
        try:
            url = asyncio.run(channel.set_webhook(settings))
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"Telegram will post updates to {url}")
    else:
        typer.echo("give --polling, or --set-webhook (the webhook is served by `hotline serve`)")
        raise typer.Exit(2)


@kb_app.command("export")
def kb_export(path: Annotated[Path, typer.Argument(help="A .yml or .json file.")]) -> None:
    """Write every article to a YAML or JSON file."""
    from bot.runtime import build_runtime

    articles = build_runtime(storage_note(Settings())).knowledge.export_articles()
    text = (
        json.dumps({"articles": articles}, indent=2, default=str)
        if path.suffix == ".json"
        else yaml.safe_dump({"articles": articles}, sort_keys=False, allow_unicode=True)
    )
    path.write_text(text, encoding="utf-8")
    typer.echo(f"exported {len(articles)} articles to {path}")


@kb_app.command("import")
def kb_import(
    path: Annotated[Path, typer.Argument(help="A .yml or .json file of articles.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would change.")
    ] = False,
    author: Annotated[str, typer.Option(help="Recorded as the revisions' author.")] = "cli",
) -> None:
    """Import articles from YAML or JSON (all or nothing; keyed by slug)."""
    from bot.runtime import build_runtime

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = raw.get("articles", []) if isinstance(raw, dict) else raw
    settings = storage_note(Settings())
    report = build_runtime(settings).knowledge.import_articles(items, author, dry_run=dry_run)
    typer.echo(str(report))
    if report.errors:
        raise typer.Exit(1)


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[
        str, typer.Option(help="qa (read-only, the default), editor, agent or admin.")
    ] = LEAST_ROLE,
) -> None:
    """Create a staff account (password from HOTLINE_STAFF_PASSWORD, else asked twice)."""
    import os

    from bot.staff.accounts import AccountError
    from channels.staff.commands import add_staff

    settings = storage_note(Settings())
    password = os.environ.get("HOTLINE_STAFF_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        created = add_staff(settings, name, role, password)
    except AccountError as exc:
        typer.echo(f"not created: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"created the {role} account {created}; it signs in at /staff on a server that uses "
        "this database"
    )


@staff_app.command("key")
def staff_key(
    name: Annotated[str, typer.Argument(help="Who uses the key (the city's app, a QA runner).")],
    channel: Annotated[
        list[str],
        typer.Option(metavar="CHANNEL", help="A channel the key may speak for (repeat for more)."),
    ],
) -> None:
    """Create an integration key for POST /api/v1/messages (printed once; revoke in /staff)."""
    from bot.integrations import IntegrationKeyError
    from channels.staff.commands import add_integration_key

    try:
        scope, secret = add_integration_key(storage_note(Settings()), name, channel)
    except IntegrationKeyError as exc:
        typer.echo(f"not created: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"integration key {name!r} for {scope} (shown once, keep it secret):")
    typer.echo(secret)
