"""Build :class:`RecData` and :class:`RecommenderService` from what the pipeline published.

Sources (``as_of`` reads an older publication of the lake: a run id, a publication id or a
date, see :meth:`wikivis.lake.Lake.publication`):

* lake datasets, ``wikivis.lake.Lake.from_settings(settings).read(dataset, wiki)`` (the
  published ``current`` snapshot): ``article_images`` (required), ``files`` (required;
  Commons' and the wiki's own, local names shadowing Commons ones), ``article_categories``,
  ``pages`` and ``file_metadata`` (optional: without them unillustrated articles get no
  seeds, and the licence filter has nothing to go on);
* embeddings, ``wikivis.embed.load_embeddings(settings, model_id)``;
* the index, ``wikivis.index.load_index(settings, model_id)``; when no index is published yet an
  exact in-memory index over the embeddings is used (``health()["index"]`` says so);
* a CuratorNet checkpoint under ``<home>/models/curatornet/`` when one exists.

The embedding store's return type is adapted by :func:`embedding_matrix`, which accepts
``(ids, vectors)``, an object with ``ids``/``sha1`` and ``vectors``/``matrix``
attributes, or an Arrow table with a ``sha1`` column and a list-typed vector column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from wikivis.config import chosen_model_id
from wikivis.errors import InputError, NotFoundError, WikivisError
from wikivis.recommend.curatornet import checkpoint_path, load_checkpoint
from wikivis.recommend.data import RecData
from wikivis.recommend.search import ExactSearch, VectorSearch

if TYPE_CHECKING:
    from wikivis.config import Settings
    from wikivis.recommend.service import RecommenderService

_VECTOR_COLUMNS = ("vector", "embedding", "vectors", "embeddings")


def embedding_matrix(obj: Any) -> tuple[list[str], np.ndarray]:
    """Adapt whatever ``load_embeddings`` returns to ``(sha1 ids, float32 matrix)``."""
    if isinstance(obj, tuple) and len(obj) == 2:
        ids, vectors = obj
    elif isinstance(obj, pa.Table):
        if "sha1" not in obj.column_names:
            raise InputError("embedding table has no sha1 column", source="embeddings")
        column = next((c for c in _VECTOR_COLUMNS if c in obj.column_names), None)
        if column is None:
            raise InputError(f"embedding table has none of the columns {_VECTOR_COLUMNS}", source="embeddings")
        ids = obj.column("sha1").to_pylist()
        flat = obj.column(column).combine_chunks()
        vectors = np.asarray(flat.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(ids), -1)
    else:
        ids = next((getattr(obj, a) for a in ("ids", "sha1", "item_ids") if hasattr(obj, a)), None)
        vectors = next((getattr(obj, a) for a in ("vectors", "matrix", "embeddings") if hasattr(obj, a)), None)
        if ids is None or vectors is None:
            raise InputError(f"cannot read ids and vectors from {type(obj).__name__}", source="embeddings")
    return [str(i) for i in ids], np.asarray(vectors, dtype=np.float32)


def _read(lake: Any, dataset: str, wiki: str, *, required: bool, as_of: str | None = None) -> pa.Table | None:
    try:
        return lake.read(dataset, wiki, as_of=as_of)
    except (WikivisError, FileNotFoundError):
        if required:
            raise
        return None


def _read_visible(lake: Any, dataset: str, wikis: tuple[str, ...], *, required: bool,
                  as_of: str | None = None) -> pa.Table | None:
    """``dataset`` of every wiki in ``wikis`` that has one, concatenated in that order.

    A wiki sees Commons files *and* its own local uploads; with Commons first, a local file
    shadows a Commons file of the same name (later rows win when building lookups), as on
    the wiki itself.
    """
    parts = [t for w in dict.fromkeys(wikis) if (t := _read(lake, dataset, w, required=False, as_of=as_of)) is not None]
    if not parts:
        if required:
            raise NotFoundError(f"no published {dataset!r} dataset for {' or '.join(dict.fromkeys(wikis))}")
        return None
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def load_rec_data(settings: Settings, *, wiki: str | None = None, model_id: str | None = None,
                  as_of: str | None = None) -> RecData:
    """Assemble :class:`RecData` for ``wiki`` (default: the first configured wiki)."""
    from wikivis.embed import load_embeddings
    from wikivis.lake import Lake

    wiki = wiki or settings.wikis[0]
    model_id = chosen_model_id(settings, model_id)
    lake = Lake.from_settings(settings)
    article_images = _read(lake, "article_images", wiki, required=True, as_of=as_of)
    files = _read_visible(lake, "files", (settings.commons_wiki, wiki), required=True, as_of=as_of)
    ids, vectors = embedding_matrix(load_embeddings(settings, model_id))
    assert article_images is not None
    assert files is not None
    return RecData.from_tables(
        article_images,
        files,
        ids,
        vectors,
        article_categories=_read(lake, "article_categories", wiki, required=False, as_of=as_of),
        pages=_read(lake, "pages", wiki, required=False, as_of=as_of),
        file_metadata=_read_visible(lake, "file_metadata", (settings.commons_wiki, wiki), required=False, as_of=as_of),
    )


def load_search(settings: Settings, data: RecData, model_id: str | None = None) -> tuple[VectorSearch, str]:
    """The published index, or an exact in-memory one when none is published yet."""
    from wikivis.index import load_index

    try:
        index = load_index(settings, model_id)
        return index, f"published ({getattr(index, 'kind', type(index).__name__)})"
    except (NotFoundError, FileNotFoundError):
        pass
    return ExactSearch(data.item_ids, data.vectors), "exact-fallback"


def load_service(settings: Settings, *, wiki: str | None = None, model_id: str | None = None,
                 as_of: str | None = None) -> RecommenderService:
    from wikivis.recommend.service import RecommenderService

    wiki = wiki or settings.wikis[0]
    model_id = chosen_model_id(settings, model_id)
    data = load_rec_data(settings, wiki=wiki, model_id=model_id, as_of=as_of)
    search, kind = load_search(settings, data, model_id)
    ckpt = checkpoint_path(settings.home, wiki, model_id)
    curatornet = load_checkpoint(ckpt, device=settings.device) if ckpt.is_file() else None
    if curatornet is not None and curatornet.input_dim != data.dim:  # trained on other features
        curatornet = None
    return RecommenderService(data, search, curatornet=curatornet, wiki=wiki, model_id=model_id, index_kind=kind)
