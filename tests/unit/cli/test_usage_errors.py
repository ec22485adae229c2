"""Usage errors: one line on stderr, exit 2, never a traceback (issue 15, item 12).

The pinned typer vendors its own click, so its usage errors are not ``click.ClickException``s;
the real entry point runs in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest


def wikivis(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["dumps", "parse", "nosuch.sql.gz", "--out", "x"], "nosuch.sql.gz"),
        (["similar", "X", "--k", "0"], "--k"),
        (["nosuchcommand"], "nosuchcommand"),
        (["dumps", "list"], "wiki"),
    ],
    ids=["missing-file", "k-zero", "unknown-command", "missing-wiki"],
)
def test_a_usage_error_is_one_line_and_exit_2(args, expected, tmp_path):
    done = wikivis("--home", str(tmp_path / "home"), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert not (tmp_path / "x").exists()
