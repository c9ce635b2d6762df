"""The `hotline` command: serve, chat, train and manage the knowledge base."""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
import yaml

from bot.contract import InboundMessage, Reply
from bot.settings import Settings

app = typer.Typer(help="City hotline assistant.", no_args_is_help=True)
kb_app = typer.Typer(help="Import and export knowledge articles.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


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
    uvicorn.run("channels.app:create_app", factory=True, host=host, port=port, workers=workers)


@app.command()
def train(force: Annotated[bool, typer.Option(help="Retrain even if unchanged.")] = True) -> None:
    """Train the understanding model on the NLU data and save it to the data dir."""
    from bot.catalogue import Catalogue
    from bot.city import City
    from bot.nlu.entities import EntityExtractor
    from bot.nlu.training_data import load_training_data
    from bot.runtime import prepare_nlu, training_files
    from knowledge.embedder import load_embedder

    _logging()
    settings = Settings()
    data = load_training_data(*training_files(settings))
    extractor = EntityExtractor(data, City.load(), Catalogue.load().codes)
    prepare_nlu(settings, load_embedder(), extractor, data, force=force)
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
    url: Annotated[str | None, typer.Option(help="Talk to a running server instead.")] = None,
    sender: Annotated[str, typer.Option(help="Who you are in the conversation.")] = "",
) -> None:
    """Chat with the assistant in the terminal (type a number to pick a choice)."""
    sender = sender or getpass.getuser()
    if url:
        import httpx

        client = httpx.Client(base_url=url, timeout=30)

        def send(text: str) -> Reply:
            response = client.post(
                "/api/v1/messages", json={"channel": "console", "sender": sender, "text": text}
            )
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
