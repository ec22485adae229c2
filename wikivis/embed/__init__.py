"""Image embeddings: model registry, DataLoader input pipeline, incremental Parquet shards.

Public API::

    embed_images(settings, items, model_id=None) -> EmbedResult
    load_embeddings(settings, model_id=None) -> (sha1 list, float32 array)
    write_embeddings(settings, model_id, model_version, sha1s, vectors) -> new shard paths
    media_items(settings, wiki=None, snapshot=None) -> [(sha1, path)]   # from the lake
    load_model(settings, model_id=None) -> EmbeddingModel; describe_models(settings)

Modules: :mod:`.models` (registry), :mod:`.resnet` (torchvision-compatible ResNet-50),
:mod:`.runtime` (device, precision, threads), :mod:`.data` (decode workers),
:mod:`.store` (shards), :mod:`.pipeline` (the incremental run).
"""

from wikivis.config import DEFAULT_MODEL
from wikivis.embed.models import MODELS, EmbeddingModel, Preprocessing, describe_models, load_model
from wikivis.embed.pipeline import EmbedResult, embed_images, media_items
from wikivis.embed.runtime import Runtime, pick_runtime
from wikivis.embed.store import load_embeddings, write_embeddings

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "EmbedResult",
    "EmbeddingModel",
    "Preprocessing",
    "Runtime",
    "describe_models",
    "embed_images",
    "load_embeddings",
    "load_model",
    "media_items",
    "pick_runtime",
    "write_embeddings",
]
