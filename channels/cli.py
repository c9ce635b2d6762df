"""The `hotline` command: serve, chat, train and manage the knowledge base."""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from bot.contract import InboundMessage, Reply
from bot.settings import Settings
from channels import call_console, dispatch_cli

app = typer.Typer(help="City hotline assistant.", no_args_is_help=True)
kb_app = typer.Typer(help="Import and export knowledge articles.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
staff_app = typer.Typer(help="Staff console accounts and integration keys.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
dispatch_cli.register(app)  # hotline dispatch, hotline outbox list|retry
call_console.register(app)  # hotline call FILE.wav ...: the phone line without a phone


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Start the web server (REST API, web chat, staff console, webhooks)."""
    import uvicorn

    _logging()
    typer.echo(f"Hotline assistant on http://{host}:{port} (web chat: /chat, staff: /staff)")
    from channels.staff.commands import first_admin_hint

    hint = first_admin_hint(Settings(), f"http://{host}:{port}")
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


@app.command()
def train(force: Annotated[bool, typer.Option(help="Retrain even if unchanged.")] = True) -> None:
    """Train the understanding model on the NLU data and save it to the data dir."""
    from bot.catalogue import Catalogue
    from bot.city import City
    from bot.nlu.entities import EntityExtractor
    from bot.nlu.training_data import NLUFormatError, load_training_data
    from bot.runtime import prepare_nlu, training_files
    from knowledge.embedder import load_embedder

    _logging()
    settings = Settings()
    try:
        data = load_training_data(*training_files(settings))
    except (NLUFormatError, FileNotFoundError) as exc:
        typer.echo(f"cannot train: {exc}", err=True)
        raise typer.Exit(2) from exc
    extractor = EntityExtractor(data, City.load(), Catalogue.load().codes)
    prepare_nlu(settings, load_embedder(cache_dir=settings.model_dir), extractor, data, force=force)
    typer.echo(f"trained {settings.nlu_engine} on {len(data.examples)} examples")


def render(reply: Reply) -> str:
    """A reply as plain text with numbered choices, as a terminal shows it."""
    lines = []
    for message in reply.messages:
        lines.append(message.text)
        if message.source:
            lines.append(f"  (source: {message.source.title} - {message.source.url})")
        lines += [f"  {i}. {choice.title}" for i, choice in enumerate(message.choices, 1)]
    return "\n".join(lines)


@app.command()
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

        typer.echo("Loading the assistant...")
        assistant = build_runtime(Settings()).assistant

        def send(text: str) -> Reply:
            return assistant.handle(InboundMessage(channel="console", sender=sender, text=text))

    typer.echo("Type your message; an empty line or Ctrl-D ends the chat.")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        reply = send(text)
        typer.echo("bot> " + render(reply).replace("\n", "\n     "))
        if any(m.ends_conversation for m in reply.messages):
            break


@app.command()
def telegram(
    polling: Annotated[
        bool, typer.Option(help="Fetch updates from Telegram (no public URL).")
    ] = False,
    set_webhook: Annotated[
        bool, typer.Option(help="Point Telegram at HOTLINE_PUBLIC_URL/webhooks/telegram.")
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
def kb_export(path: Path) -> None:
    """Write every article to a YAML or JSON file."""
    from bot.runtime import build_runtime

    articles = build_runtime(Settings()).knowledge.export_articles()
    text = (
        json.dumps({"articles": articles}, indent=2, default=str)
        if path.suffix == ".json"
        else yaml.safe_dump({"articles": articles}, sort_keys=False, allow_unicode=True)
    )
    path.write_text(text, encoding="utf-8")
    typer.echo(f"exported {len(articles)} articles to {path}")


@kb_app.command("import")
def kb_import(
    path: Path,
    dry_run: Annotated[bool, typer.Option(help="Only report what would change.")] = False,
    author: Annotated[str, typer.Option(help="Recorded as the revisions' author.")] = "cli",
) -> None:
    """Import articles from YAML or JSON (all or nothing; keyed by slug)."""
    from bot.runtime import build_runtime

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = raw.get("articles", []) if isinstance(raw, dict) else raw
    report = build_runtime(Settings()).knowledge.import_articles(items, author, dry_run=dry_run)
    typer.echo(str(report))
    if report.errors:
        raise typer.Exit(1)


@app.command("test")
def test_conversations(
    paths: Annotated[list[Path], typer.Argument(help="YAML conversation files or directories.")],
    url: Annotated[str | None, typer.Option(help="Test a running server over REST.")] = None,
    channel: Annotated[
        str | None, typer.Option(help="Through a channel's webhook: sms or telegram.")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    workers: Annotated[int, typer.Option(help="Conversations played at once.")] = 4,
    action_map: Annotated[
        Path | None, typer.Option(help="YAML {rasa_action: {expectation: value}}.")
    ] = None,
    in_place: Annotated[
        bool, typer.Option(help="In process on the real data dir, not a scratch copy.")
    ] = False,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="HOTLINE_API_KEY",
            help="With --url: an integration key for the conversations' channels.",
        ),
    ] = None,
) -> None:
    """Play conversation tests (ours or Rasa test stories); exit 1 if any fails."""
    from evaluation import suite_run

    code = suite_run.run(
        paths,
        url=url,
        channel=channel,
        junit=junit,
        html=html,
        workers=workers,
        action_map=action_map,
        in_place=in_place,
        api_key=api_key,
    )
    raise typer.Exit(code)


@app.command("import-rasa")
def import_rasa(
    project: Annotated[Path, typer.Argument(help="A Rasa project directory.")],
    out: Annotated[Path, typer.Argument(help="Where to write our files.")],
    action_map: Annotated[
        Path | None, typer.Option(help="YAML {rasa_action: {expectation: value}}.")
    ] = None,
    map_intent: Annotated[
        list[str] | None,
        typer.Option("--map", help="THEIRS=OURS: file their intent under one of the city's."),
    ] = None,
    keep: Annotated[
        list[str] | None, typer.Option(help="THEIRS: keep their intent as its own.")
    ] = None,
) -> None:
    """Convert a Rasa project's NLU data, responses and test stories; report what didn't map."""
    from evaluation import rasa_import, rasa_stories

    pairs = [m.partition("=") for m in map_intent or []]
    if any(not theirs or not ours for theirs, _, ours in pairs):
        typer.echo("--map takes THEIRS=OURS, e.g. --map human_handoff=talk_to_human", err=True)
        raise typer.Exit(2)
    try:
        report = rasa_import.import_project(
            project,
            out,
            rasa_stories.load_action_map(action_map),
            forced={theirs: ours for theirs, _, ours in pairs},
            kept=set(keep or ()),
        )
    except (rasa_import.RasaProjectError, ValueError) as exc:
        typer.echo(f"cannot import: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(str(report))
    typer.echo(f"report: {out / 'import-report.yml'}")
    if report.errors:
        raise typer.Exit(1)


evaluate_app = typer.Typer(
    help="Measure understanding and retrieval quality.", no_args_is_help=True
)
app.add_typer(evaluate_app, name="evaluate")


def _report(run: Callable[[], Any], describe: Callable[[Any], str], out: Path) -> None:
    """Run an evaluation and print its summary; bad data is a clear error (exit 2)."""
    try:
        summary = run()
    except (ValueError, OSError) as exc:
        typer.echo(f"cannot evaluate: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(describe(summary))
    typer.echo(f"report: {out / 'index.html'}")


@evaluate_app.command("nlu")
def evaluate_nlu(
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    out: Annotated[Path, typer.Option(help="Where the JSON, PNGs and HTML go.")] = Path(
        "reports/nlu"
    ),
    target_oos_recall: Annotated[
        float, typer.Option(help="Out-of-scope recall the threshold must reach.")
    ] = 0.9,
    data: Annotated[
        list[Path] | None, typer.Option(help="NLU files (default: the configured ones).")
    ] = None,
) -> None:
    """K-fold cross-validation: per-intent P/R/F1, confusion matrix, out-of-scope threshold."""
    from evaluation import nlu_eval

    _report(
        lambda: nlu_eval.run(
            data or None, folds=folds, out=out, target_oos_recall=target_oos_recall
        ),
        nlu_eval.describe,
        out,
    )


@evaluate_app.command("retrieval")
def evaluate_retrieval(
    out: Annotated[Path, typer.Option(help="Where the JSON, PNG and HTML go.")] = Path(
        "reports/retrieval"
    ),
) -> None:
    """Hit@1, hit@3 and MRR of knowledge search on the labelled paraphrase sets."""
    from evaluation import retrieval_eval

    _report(lambda: retrieval_eval.run(out=out), retrieval_eval.describe, out)


@staff_app.command("add")
def staff_add(
    name: str,
    role: Annotated[str, typer.Option(help="editor, agent, qa or admin.")] = "editor",
) -> None:
    """Create a staff account (password from HOTLINE_STAFF_PASSWORD, else asked twice)."""
    import os

    from bot.staff.accounts import AccountError
    from channels.staff.commands import add_staff

    password = os.environ.get("HOTLINE_STAFF_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        created = add_staff(Settings(), name, role, password)
    except AccountError as exc:
        typer.echo(f"not created: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created the {role} account {created}; sign in at /staff")


@staff_app.command("key")
def staff_key(
    name: Annotated[str, typer.Argument(help="Who uses the key (the city's app, a QA runner).")],
    channel: Annotated[
        list[str], typer.Option(help="A channel the key may speak for (repeat for more).")
    ],
) -> None:
    """Create an integration key for POST /api/v1/messages (printed once; revoke in /staff)."""
    from bot.integrations import IntegrationKeyError
    from channels.staff.commands import add_integration_key

    try:
        scope, secret = add_integration_key(Settings(), name, channel)
    except IntegrationKeyError as exc:
        typer.echo(f"not created: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"integration key {name!r} for {scope} (shown once, keep it secret):")
    typer.echo(secret)
