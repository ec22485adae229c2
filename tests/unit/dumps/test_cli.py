"""``wikivis dumps parse``: output, exit codes (the real entry point, in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from wikivis.dumps.parser import read_parsed

DUMP = (b"CREATE TABLE `t` (`a` int NOT NULL, `b` varbinary(9));\nINSERT INTO `t` VALUES (1,'x'),(2,NULL);\n"
        b"-- Dump completed on 2026-11-01 10:00:00\n")


def wikivis(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_parse_writes_a_dataset_and_reports(tmp_path):
    src = tmp_path / "t.sql"
    src.write_bytes(DUMP)
    done = wikivis("--json", "dumps", "parse", str(src), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["table"], report["rows"]) == ("t", 2)
    assert read_parsed(tmp_path / "out").to_pylist() == [{"a": 1, "b": b"x"}, {"a": 2, "b": None}]


def test_parse_bad_input_exits_3_naming_the_offset(tmp_path):
    src = tmp_path / "bad.sql"
    src.write_bytes(DUMP.replace(b"(2,NULL)", b"(2)"))
    done = wikivis("dumps", "parse", str(src), "--out", str(tmp_path / "out"))
    assert done.returncode == 3
    assert f"{src}, line 2, byte {DUMP.index(b'(2,NULL)')}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_dump_cut_at_a_statement_boundary_is_refused_unless_partial_is_allowed(tmp_path):
    """Issue 15, item 16: without the footer the file may have lost whole statements."""
    src = tmp_path / "cut.sql"
    src.write_bytes(DUMP.split(b"-- Dump completed")[0])
    done = wikivis("dumps", "parse", str(src), "--out", str(tmp_path / "out"))
    assert done.returncode == 3, done.stderr
    assert "truncated" in done.stderr and str(src) in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    done = wikivis("--json", "dumps", "parse", str(src), "--out", str(tmp_path / "out"), "--allow-partial")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stats"]["completed"] is False


def test_parse_never_replaces_a_directory_it_did_not_write(tmp_path):
    """Issue 15, item 14: the user's other files, and the input itself, survive."""
    out = tmp_path / "work"
    out.mkdir()
    src = out / "t.sql"
    src.write_bytes(DUMP)
    (out / "notes.txt").write_text("mine")
    done = wikivis("dumps", "parse", str(src), "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert "refusing to replace" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "t.sql"]
    assert src.read_bytes() == DUMP
    assert [p.name for p in tmp_path.iterdir()] == ["work"]  # no staging or trash left beside it


def test_parse_replaces_its_own_earlier_output(tmp_path):
    src = tmp_path / "t.sql"
    src.write_bytes(DUMP)
    out = tmp_path / "out"
    for _ in range(2):
        done = wikivis("dumps", "parse", str(src), "--out", str(out))
        assert done.returncode == 0, done.stderr
    assert read_parsed(out).num_rows == 2
    (tmp_path / "empty").mkdir()
    assert wikivis("dumps", "parse", str(src), "--out", str(tmp_path / "empty")).returncode == 0
