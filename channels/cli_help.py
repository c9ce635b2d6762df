"""How the CLI explains itself: help pages in words, and where a command writes.

Help pages name what a value is in words, never as a Python type (``<list[str]>``). Typer's
rich help prints each parameter's Python annotation beside it, flags and ``--help`` included,
and its ``metavar`` does not reach an argument's column. ``HelpGroup`` gives every parameter a
plain label before the help is drawn: nothing for a flag; PATH, NUMBER, TEXT or the choices
for a value, with "..." when it may repeat. Use it as the ``cls`` of every ``typer.Typer``;
it labels its own commands as it hands them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import typer
from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

from bot.settings import Settings

WORDS = {int: "NUMBER", float: "NUMBER", str: "TEXT", Path: "PATH"}


def label(param: Any) -> str:
    """What the help shows beside ``param``: a word for its value, nothing for a flag."""
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return ""
    if isinstance(param, TyperOption) and param.metavar:
        return param.metavar
    desc = param.type_descriptor
    if desc.is_choice:
        word = "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    elif desc.is_path:
        word = "PATH"
    else:
        annotation = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
        word = WORDS.get(annotation, "VALUE")
    return f"{word}..." if desc.is_list or param.nargs != 1 else word


def plain(params: list[Any]) -> list[Any]:
    """Label each of ``params`` (Typer's own and ours) for the help page."""
    for param in params:
        if isinstance(param, TyperOption | TyperArgument):
            param.display_type_rich = _shows(label(param))
    return params


def _shows(text: str) -> Any:
    """Stands in for a parameter's ``display_type_rich``: always ``text``."""
    return lambda ctx: text


class HelpGroup(TyperGroup):
    """A command group whose help, and its commands' help, carry no Python type names."""

    def get_params(self, ctx: _click.Context) -> list[Any]:
        return plain(super().get_params(ctx))

    def get_command(self, ctx: _click.Context, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, TyperGroup):
            plain(command.get_params(ctx))
        return command


def storage_note(settings: Settings) -> Settings:
    """Say on stderr which data folder and database a command writes to, then go on.

    The default data folder is relative to the current directory, so a command run elsewhere
    would quietly make a second database.
    """
    typer.echo(f"using the {settings.storage}", err=True)
    return settings
