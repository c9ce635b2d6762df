"""`hotline test`, `hotline import-rasa` and `hotline evaluate`: the QA tools of evaluation/.

The CLI's only way into ``evaluation``: each command imports its tool when it runs, so
importing the CLI, the app or a channel loads nothing of ``evaluation``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.settings import Settings
from channels.cli_help import HelpGroup, storage_note


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
        bool,
        typer.Option("--in-place", help="In process on the real data folder, not a scratch copy."),
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
    from evaluation.qa import suite_run

    if in_place and not url:
        storage_note(Settings())
    elif not url:
        where = Settings().data_dir.resolve()
        typer.echo(
            f"playing on a scratch copy of the data folder {where}: nothing real is filed", err=True
        )
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


def import_rasa(
    project: Annotated[Path, typer.Argument(help="A Rasa project directory.")],
    out: Annotated[Path, typer.Argument(help="Where to write our files.")],
    action_map: Annotated[
        Path | None, typer.Option(help="YAML {rasa_action: {expectation: value}}.")
    ] = None,
    map_intent: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="THEIRS=OURS",
            help="File their intent under one of the city's (repeat for more).",
        ),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(metavar="THEIRS", help="Keep their intent as its own (repeat for more)."),
    ] = None,
) -> None:
    """Convert a Rasa project's NLU data, responses and test stories; report what didn't map."""
    from evaluation.qa import rasa_import, rasa_stories

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
    cls=HelpGroup, help="Measure understanding and retrieval quality.", no_args_is_help=True
)


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
        list[Path] | None,
        typer.Option(help="An NLU file (repeat for more; default: the configured ones)."),
    ] = None,
) -> None:
    """K-fold cross-validation: per-intent P/R/F1, confusion matrix, out-of-scope threshold."""
    from evaluation.qa import nlu_eval

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
    from evaluation.qa import retrieval_eval

    _report(lambda: retrieval_eval.run(out=out), retrieval_eval.describe, out)


def register(app: typer.Typer, panel: str) -> None:
    """Add the QA commands to ``app``, in the help's ``panel``."""
    app.command("test", rich_help_panel=panel)(test_conversations)
    app.command("import-rasa", rich_help_panel=panel)(import_rasa)
    app.add_typer(evaluate_app, name="evaluate", rich_help_panel=panel)
