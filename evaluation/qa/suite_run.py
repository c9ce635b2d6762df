"""`hotline test`: load suites, pick a target, play with a progress bar, write the reports."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.nlu.training_data import NLUFormatError
from bot.settings import Settings
from evaluation.qa import rasa_stories, reports
from evaluation.qa.conversations import (
    Conversation,
    ConversationResult,
    SuiteError,
    Target,
    Unsupported,
    load_suite,
    run_suite,
)
from evaluation.qa.targets import RestTarget, channel_target, in_process_target

EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def choose_target(
    url: str | None,
    channel: str | None,
    settings: Settings,
    in_place: bool,
    api_key: str | None = None,
) -> tuple[Target, str]:
    if channel:
        return channel_target(channel, url, settings), f"{channel} webhook at {url or 'in process'}"
    if url:
        if api_key:
            return RestTarget(url, api_key=api_key), f"REST {url} (integration key)"
        return RestTarget(url), f"REST {url} (web sessions: give --api-key to play each channel)"
    return in_process_target(settings, in_place=in_place), "in process"


def play(
    conversations: list[Conversation], target: Target, *, workers: int, console: Console
) -> list[ConversationResult]:
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        task = progress.add_task("conversations", total=len(conversations))

        def advance(result: ConversationResult) -> None:
            colour = {"passed": "green", "failed": "red", "skipped": "yellow"}[result.status]
            progress.update(task, advance=1, description=f"[{colour}]{result.conversation.key}")

        return run_suite(conversations, target, workers=workers, on_result=advance)


def run(
    paths: list[Path],
    *,
    url: str | None = None,
    channel: str | None = None,
    junit: Path | None = None,
    html: Path | None = None,
    workers: int = 4,
    action_map: Path | None = None,
    in_place: bool = False,
    api_key: str | None = None,
    console: Console | None = None,
    target: Target | None = None,
) -> int:
    """The exit code: 0 all passed (skips allowed), 1 a conversation failed, 2 unusable input."""
    console = console or Console()
    passed_over: list[str] = []
    try:
        conversations = load_suite(
            *paths, action_map=rasa_stories.load_action_map(action_map), skipped=passed_over
        )
    except (SuiteError, OSError) as exc:
        console.print(f"[red]cannot run:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_UNUSABLE
    for note in passed_over:
        console.print(f"skipped {note}", highlight=False, soft_wrap=True)
    if not conversations:
        console.print("[red]cannot run:[/] no conversation tests in " + ", ".join(map(str, paths)))
        return EXIT_UNUSABLE
    if target is None:
        try:
            target, label = choose_target(url, channel, Settings(), in_place, api_key)
        except (Unsupported, NLUFormatError, FileNotFoundError) as exc:
            console.print(f"[red]cannot run:[/] {exc}", highlight=False, soft_wrap=True)
            return EXIT_UNUSABLE
    else:
        label = getattr(target, "name", "custom target")
    limit = getattr(target, "max_workers", None)
    if limit and workers > limit and len(conversations) > 1:
        console.print(
            f"playing {limit} conversation at a time: the assistant's database is SQLite, "
            "which takes one writer at a time (PostgreSQL or --url runs them in parallel)",
            soft_wrap=True,
        )
        workers = limit
    results = play(conversations, target, workers=max(1, workers), console=console)
    reports.print_summary(results, console)
    if junit:
        reports.write_junit(results, junit, label)
        console.print(f"JUnit XML: {junit}")
    if html:
        reports.write_html(results, html, label)
        console.print(f"HTML report: {html}")
    return EXIT_FAILED if any(r.status == "failed" for r in results) else 0
