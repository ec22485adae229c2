from __future__ import annotations

import base64
import gzip
import hashlib
import io

import numpy as np
import pytest

from wikivis.errors import InputError
from wikivis.media.store import MediaStore
from wikivis.research.files import (
    WIT_COLUMNS,
    file_name_from_url,
    import_embeddings,
    import_pixels,
    pixel_file_names,
    read_pixels,
    read_wit,
    sha1_by_name,
)

UP = "https://upload.wikimedia.org/wikipedia/commons"


def jpeg_bytes(width: int = 330, height: int = 220, color: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_file_name_from_url():
    assert file_name_from_url(f"{UP}/a/ab/Hovden.jpg") == "Hovden.jpg"
    assert file_name_from_url(f"{UP}/thumb/a/ab/Hovden%20X.jpg/300px-Hovden%20X.jpg") == "Hovden_X.jpg"
    assert file_name_from_url("https://commons.wikimedia.org/wiki/File:Hovden.jpg") == "Hovden.jpg"
    assert file_name_from_url("https://commons.wikimedia.org/wiki/Main_Page") is None
    assert file_name_from_url("https://example.org/cat.jpg") is None


def _pixel_line(name: str, data: bytes) -> str:
    return f"{UP}/a/ab/{name}\t{base64.b64encode(data).decode()}\thttps://commons.wikimedia.org/wiki/File:{name}\n"


def test_import_pixels_into_store_and_lake(tmp_path, lake):
    a, b = jpeg_bytes(300, 200, (1, 2, 3)), jpeg_bytes(300, 150, (9, 9, 9))
    path = tmp_path / "test_image_pixels_part-00000.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:  # .csv name, gzip content, tabs
        fh.write(_pixel_line("A.jpg", a) + _pixel_line("B.jpg", b) + _pixel_line("Unknown.jpg", a))
        fh.write(_pixel_line("Bad.jpg", b"not an image"))
    sha = {n: hashlib.sha1(n.encode()).hexdigest() for n in ("A.jpg", "B.jpg", "Bad.jpg")}
    store = MediaStore(tmp_path / "media")
    summary = import_pixels([path], store, sha, lake=lake, wiki="samplewiki", snapshot="20250101")
    assert summary.imported == 2
    assert summary.skipped == {"sha1_unknown": 1}
    assert summary.failed == {"corrupt": 1}
    assert store.find(sha["A.jpg"]).read_bytes() == a
    rows = {r["file_name"]: r for r in lake.read("media", "samplewiki", "20250101").to_pylist()}
    assert rows["B.jpg"]["width"] == 300
    assert rows["B.jpg"]["status"] == "ok"
    assert rows["Bad.jpg"]["status"] == "failed"
    again = import_pixels([path], store, sha)
    assert again.imported == 0
    assert again.already_present == 2


def test_malformed_pixel_rows_name_file_and_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(_pixel_line("A.jpg", jpeg_bytes()) + f"{UP}/a/ab/B.jpg\tonly-two-columns\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        list(read_pixels(path))
    assert err.value.line == 2
    assert str(path) in str(err.value)
    path.write_text(f"{UP}/a/ab/B.jpg\t!!!notbase64\tx\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 1.*base64"):
        list(read_pixels(path))


def test_import_embeddings(tmp_path):
    v = np.arange(2048, dtype=np.float32) / 2048
    text = ",".join(f"{x:.6f}" for x in v)
    path = tmp_path / "test_resnet_embeddings_part-00000.csv"
    path.write_text(f"{UP}/a/ab/A.jpg\t{text}\n{UP}/thumb/c/cd/B_b.png/300px-B_b.png\t{text}\n", encoding="utf-8")
    out = list(import_embeddings([path]))
    assert [n for n, _ in out] == ["A.jpg", "B_b.png"]
    assert out[0][1].shape == (2048,)
    assert out[0][1].dtype == np.float32
    np.testing.assert_allclose(out[1][1], v, atol=1e-6)


@pytest.mark.parametrize(
    ("vector", "match"),
    [("1,2,3", "3 values"), (",".join(["x"] * 2048), "numbers"), (",".join(["nan"] * 2048), "NaN")],
)
def test_malformed_embeddings(tmp_path, vector, match):
    path = tmp_path / "e.csv"
    good = ",".join(["0.5"] * 2048)
    path.write_text(f"{UP}/a/ab/A.jpg\t{good}\n{UP}/a/ab/B.jpg\t{vector}\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"line 2.*{match}"):
        list(import_embeddings([path]))


def _wit_row(**over) -> list[str]:
    row = {c: "" for c in WIT_COLUMNS}
    row.update(language="en", page_url="https://en.wikipedia.org/wiki/Cat", image_url=f"{UP}/a/ab/Cat_1.jpg",
               page_title="Cat", caption_reference_description="A cat\twith a tab", mime_type="image/jpeg",
               original_height="600", original_width="800", is_main_image="true",
               attribution_passes_lang_id="false", page_changed_recently="")
    row.update(over)
    return [row[c] for c in WIT_COLUMNS]


def test_read_wit(tmp_path):
    import csv

    path = tmp_path / "wit_v1.train.all-1percent_sample.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(WIT_COLUMNS)
        w.writerow(_wit_row())
        w.writerow(_wit_row(original_width="wide"))
    rows = read_wit(path)
    first = next(rows)
    assert first["file_name"] == "Cat_1.jpg"
    assert first["original_width"] == 800
    assert first["is_main_image"] is True
    assert first["page_changed_recently"] is None
    assert first["caption_reference_description"] == "A cat\twith a tab"
    with pytest.raises(InputError, match="line 3"):
        next(rows)


def test_read_wit_rejects_other_headers(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n1\t2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a WIT header"):
        list(read_wit(path))


def test_truncated_gzip_pixels_name_the_file(tmp_path):
    path = tmp_path / "train_image_pixels_part-00000.csv.gz"
    body = "".join(_pixel_line(f"F{i}.jpg", jpeg_bytes(64, 64, (i, i, i))) for i in range(30))
    packed = gzip.compress(body.encode())
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match="cannot read") as info:
        list(read_pixels(path))
    assert str(path) in str(info.value)


def test_pixel_names_then_only_their_sha1s(tmp_path, lake):
    """The pixel import's first pass: the files' names (images not decoded), then only those
    names' sha1s from the lake, later sources winning (Commons, then the wiki's own files)."""
    import pyarrow as pa

    from wikivis.datasets import schema as dataset_schema

    path = tmp_path / "test_image_pixels_part-00000.csv"
    path.write_text(_pixel_line("A.jpg", jpeg_bytes()) + _pixel_line("B.jpg", b"not decoded here"), encoding="utf-8")
    assert pixel_file_names([path]) == {"A.jpg", "B.jpg"}

    files = dataset_schema("files")

    def rows(wiki: str, names: dict[str, str]) -> pa.Table:
        columns = {"file_name": list(names), "sha1": list(names.values()), "wiki": [wiki] * len(names)}
        return pa.table({f.name: pa.array(columns.get(f.name, [0 if pa.types.is_integer(f.type) else "x"] * len(names)),
                                          f.type) for f in files})

    lake.write("files", "commonswiki", "20260101", rows("commonswiki", {"A.jpg": "a" * 40, "C.jpg": "c" * 40}))
    lake.write("files", "samplewiki", "20260101", rows("samplewiki", {"A.jpg": "b" * 40, "D.jpg": "d" * 40}))
    assert sha1_by_name(lake, ("commonswiki", "samplewiki"), only=pixel_file_names([path])) == {"A.jpg": "b" * 40}
    assert sha1_by_name(lake, ("commonswiki", "samplewiki")) == {"A.jpg": "b" * 40, "C.jpg": "c" * 40, "D.jpg": "d" * 40}
