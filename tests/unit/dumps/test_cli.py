"""``wikivis dumps parse``: output, exit codes (the real entry point, in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from wikivis.dumps.parser import read_parsed

DUMP = b"CREATE TABLE `t` (`a` int NOT NULL, `b` varbinary(9));\nINSERT INTO `t` VALUES (1,'x'),(2,NULL);\n"


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
