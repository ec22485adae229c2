"""Shared CLI plumbing: settings from the global options, --json output, progress bars,
and the mapping from typed errors to exit codes.

Exit codes: 0 ok · 1 unexpected wikivis error · 2 config/policy · 3 bad input ·
4 source failure · 5 not found · 6 gate failed · 7 stale checkpoint · 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer

from wikivis.config import Settings, load_settings

T = TypeVar("T")


class State:
    """What the top-level callback parsed (``--config``, ``--home``, ``--profile``, ``--json``)."""

    def __init__(self) -> None:
        self.overrides: dict[str, Any] = {}
        self.config_file: str | None = None
        self.as_json = False
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_file=self.config_file, **self.overrides)
        return self._settings


STATE = State()


def settings_from_ctx(ctx: typer.Context | None = None, **overrides: Any) -> Settings:
    """The settings for this invocation (global options applied), with extra overrides."""
    settings = STATE.settings
    return settings.replace(**overrides) if overrides else settings


def snapshot_option(value: str | None) -> str | None:
    """Typer callback: a ``--snapshot``/``--previous`` id, ASCII ``YYYYMMDD[THHMMSSZ]`` only."""
    from wikivis.errors import ConfigError
    from wikivis.vocab import check_snapshot

    if value is None:
        return None
    try:
        return check_snapshot(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def dump_date_option(value: str) -> str:
    """Typer callback: a ``--date``, ASCII ``YYYYMMDD`` or ``latest``."""
    from wikivis.errors import ConfigError
    from wikivis.vocab import check_dump_date

    try:
        return check_dump_date(value, latest=True)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def run_id_argument(value: str) -> str:
    """Typer callback: a run id (never empty)."""
    from wikivis.errors import ConfigError
    from wikivis.vocab import check_run_id

    try:
        return check_run_id(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def json_default(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def echo_result(obj: Any, as_json: bool | None = None, *, human: str | None = None) -> None:
    """Print ``obj`` as JSON (``--json``) or as the human text ``human`` / a readable dump."""
    as_json = STATE.as_json if as_json is None else as_json
    if as_json:
        typer.echo(json.dumps(obj, default=json_default, indent=2, sort_keys=True))
    elif human is not None:
        typer.echo(human)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            typer.echo(f"{key}: {json.dumps(value, default=json_default) if isinstance(value, (dict, list)) else value}")
    else:
        typer.echo(str(obj))


@contextmanager
def progress(total: int | None, desc: str, unit: str = "it") -> Iterator[Any]:
    """A tqdm progress bar with rate and ETA on stderr (silent under --json or no TTY)."""
    from tqdm import tqdm

    disable = STATE.as_json or not sys.stderr.isatty()
    bar = tqdm(total=total, desc=desc, unit=unit, disable=disable, dynamic_ncols=True, file=sys.stderr)
    try:
        yield bar
    finally:
        bar.close()


def track(items: Iterable[T], total: int | None, desc: str, unit: str = "it") -> Iterator[T]:
    with progress(total, desc, unit) as bar:
        for item in items:
            yield item
            bar.update(1)
