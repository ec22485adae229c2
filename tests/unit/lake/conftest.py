import pyarrow as pa
import pytest

from wikivis.lake import Lake

WIKI = "samplewiki"


def images(rows, wiki: str = WIKI) -> pa.Table:
    return pa.table(
        {
            "wiki": [wiki] * len(rows),
            "page_id": [r[0] for r in rows],
            "page_namespace": [0] * len(rows),
            "page_title": [f"P{r[0]}" for r in rows],
            "file_name": [r[1] for r in rows],
            "is_lead": [False] * len(rows),
        }
    )


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(tmp_path / "lake")
