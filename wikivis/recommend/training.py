"""Train CuratorNet on a wiki's article → image links and save the checkpoint.

Profiles are the images each article uses, as rows of the embedding matrix, after
Wikimedia's filters (icons and placeholders in a profile teach the model nothing about
the article).  :func:`train_and_save` is the pipeline/CLI entry point; the evaluation
trains the same way on the training half of its split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wikivis.config import chosen_model_id
from wikivis.recommend.curatornet import CuratorNetConfig, checkpoint_path, save_checkpoint, train_curatornet
from wikivis.recommend.data import RecData
from wikivis.recommend.filters import ImageFilter

if TYPE_CHECKING:
    from wikivis.config import Settings


def article_profiles(data: RecData, image_filter: ImageFilter | None = None) -> dict[int, list[int]]:
    """page_id → rows of ``data.vectors`` for the article's allowed images (lead first)."""
    allowed = image_filter.allowed if image_filter is not None else (lambda _s: True)
    return {
        page_id: [data.row_of[s] for s in items if allowed(s)] for page_id, items in sorted(data.page_items.items())
    }


def train_on_profiles(
    data: RecData,
    profiles: Mapping[int, Iterable[int]],
    config: CuratorNetConfig | None = None,
    *,
    device: str = "auto",
) -> Any:
    """Train CuratorNet on ``profiles`` (page_id → rows); returns a ``CuratorNetModel``."""
    return train_curatornet(data.vectors, [list(p) for p in profiles.values()], config, device=device)


def train_and_save(
    settings: Settings,
    *,
    wiki: str | None = None,
    model_id: str | None = None,
    config: CuratorNetConfig | None = None,
) -> Path:
    """Train on every link of ``wiki`` and write ``<home>/models/curatornet/<wiki>--<model>.pt``."""
    from wikivis.recommend.loading import load_rec_data

    wiki = wiki or settings.wikis[0]
    model_id = chosen_model_id(settings, model_id)
    data = load_rec_data(settings, wiki=wiki, model_id=model_id)
    model = train_on_profiles(data, article_profiles(data, ImageFilter.for_data(data)), config, device=settings.device)
    return save_checkpoint(model, checkpoint_path(settings.home, wiki, model_id), wiki=wiki, model_id=model_id)
