"""The ``wikivis`` command: one sub-command group per stage.

Global options come before the group: ``wikivis [--home DIR] [--profile local|live]
[--config FILE] [--json] GROUP COMMAND ...``.  Typed errors become one-line messages and
exit codes (see :mod:`wikivis.cli._common`), never tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from wikivis import __version__
from wikivis.cli import (
    captions,
    commons,
    dumps,
    embed,
    evaluate,
    events,
    export,
    gates,
    index,
    lake,
    mirror,
    recommend,
    replica,
    report,
    research,
    run,
    status,
    wikidata,
)
from wikivis.cli._common import STATE
from wikivis.errors import WikivisError

app = typer.Typer(
    name="wikivis",
    help="Wikimedia visual resources → a living visual-recommendation dataset.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: (sub-app, group name or None to merge its commands at top level, help), in help order
GROUPS: list[tuple[typer.Typer, str | None, str]] = [
    (status.app, None, "what is published, the last runs and gate results"),
    (mirror.app, "mirror", "the local Wikimedia mirror (sample wiki)"),
    (dumps.app, "dumps", "SQL dumps: list, parse, ingest"),
    (replica.app, "replica", "Wiki Replicas over MariaDB"),
    (events.app, "events", "EventStreams catch-up"),
    (commons.app, "commons", "Commons metadata and thumbnails"),
    (gates.app, "gates", "validation gates"),
    (lake.app, "lake", "the Iceberg lake: publications, branches, time travel, upkeep"),
    (report.app, None, "quality reports"),
    (embed.app, "embed", "image embeddings"),
    (index.app, "index", "nearest-neighbour index"),
    (evaluate.app, "eval", "offline evaluation"),
    (recommend.app, None, "similar / suggest / serve"),
    (run.app, None, "run the whole pipeline"),
    (captions.app, "captions", "captions and alt text of article images"),
    (wikidata.app, "wikidata", "Wikidata items and SPARQL"),
    (research.app, "research", "Wikimedia's published research files (WIT, caption competition)"),
    (export.app, "export", "wikivis data in other layouts (WIT)"),
]


@app.callback()
def main_options(
    home: Annotated[Path | None, typer.Option(help="data root (WIKIVIS_HOME)")] = None,
    profile: Annotated[str | None, typer.Option(help="local (mirror) or live (Wikimedia)")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file")] = None,
    contact: Annotated[str | None, typer.Option(help="User-Agent contact (mandatory for live)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    for key, value in (("home", home), ("profile", profile), ("contact", contact)):
        if value is not None:
            STATE.overrides[key] = value
    STATE.config_file = str(config) if config else None
    STATE.as_json = json_output


@app.command("version")
def version() -> None:
    """Print the wikivis version."""
    typer.echo(__version__)


def _register() -> None:
    for sub, group, help_text in GROUPS:
        if group:
            app.add_typer(sub, name=group, help=help_text)
        else:
            for command in sub.registered_commands:
                app.registered_commands.append(command)


_register()


def _usage_error(exc: BaseException) -> str | None:
    """The one-line message of a command-line usage error, else ``None``.

    The pinned typer vendors its own click (``typer._click``), so its usage errors are not
    instances of ``click.ClickException``: recognise both (they share ``format_message``)."""
    import click

    bases: tuple[type[BaseException], ...] = (click.ClickException, typer.TyperException)
    if isinstance(exc, bases) and callable(getattr(exc, "format_message", None)):
        return " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    return None


def main() -> None:
    from wikivis.logsafe import mask_secrets

    try:
        app(standalone_mode=False)
    except WikivisError as exc:
        typer.secho(f"error: {mask_secrets(str(exc))}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="yellow", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        message = _usage_error(exc)
        if message is None:
            raise
        if message:  # empty: a group called without a command, whose help is already printed
            typer.secho(f"error: {mask_secrets(message)}", fg="red", err=True)
        sys.exit(2)
