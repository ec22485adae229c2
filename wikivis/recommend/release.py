"""Weekly training: a versioned CuratorNet checkpoint, promoted to serving only past a gate.

:func:`train_candidate` (the ``gpu``-queue step) measures the configuration on the
evaluation's held-out split (trained on the training half only — the gate's numbers), then
trains the model on every link and writes both under
``<home>/models/curatornet/versions/<wiki>--<model>/v-<UTC time>/`` (``model.pt``,
``metrics.json``).  Nothing that serving reads changes.

:func:`promote` is the gate: the candidate's held-out ``recall_at_10`` and ``ndcg_at_10``
must each be at least the current model's minus ``Settings.release_max_regression``
(absolute).  Passing, the checkpoint is copied atomically to the path serving loads
(:func:`~wikivis.recommend.curatornet.checkpoint_path`) and ``current.json`` names the
version; failing, serving keeps the current model, the verdict is written next to the
candidate (``gate.json``) and :class:`~wikivis.errors.GateFailed` is raised so the DAG run
fails loudly.  The first candidate of a wiki passes (nothing to regress from).

The comparison uses the current model's metrics *as recorded at its own promotion* (on the
data of that week), not a re-evaluation of its checkpoint on today's split: that checkpoint
was trained on every link, held-out ones included, so re-evaluating it would flatter it.
Weekly data drift is small against the tolerance; a large drift shows in the gate report.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wikivis.config import chosen_model_id
from wikivis.errors import GateFailed, NotFoundError
from wikivis.vocab import atomic_write_text, staged_path

if TYPE_CHECKING:
    from wikivis.config import Settings
    from wikivis.recommend.curatornet import CuratorNetConfig

GATED_METRICS: tuple[str, ...] = ("recall_at_10", "ndcg_at_10")


def versions_dir(settings: Settings, wiki: str, model_id: str) -> Path:
    return Path(settings.home) / "models" / "curatornet" / "versions" / f"{wiki}--{model_id.replace('/', '_')}"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    candidate: str
    current: str | None
    tolerance: float
    reasons: list[str] = field(default_factory=list)
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    current_metrics: dict[str, float] = field(default_factory=dict)


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def train_candidate(
    settings: Settings,
    *,
    wiki: str | None = None,
    model_id: str | None = None,
    config: CuratorNetConfig | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate and train a candidate; returns ``{"version", "path", "metrics"}`` (see module doc)."""
    from wikivis.evaluation.run import evaluate_data
    from wikivis.recommend.curatornet import CuratorNetConfig, save_checkpoint
    from wikivis.recommend.filters import ImageFilter
    from wikivis.recommend.loading import load_rec_data
    from wikivis.recommend.training import article_profiles, train_on_profiles

    wiki = wiki or settings.wikis[0]
    model_id = chosen_model_id(settings, model_id)
    config = config or CuratorNetConfig(seed=seed)
    data = load_rec_data(settings, wiki=wiki, model_id=model_id)
    held_out = evaluate_data(data, models=("curatornet",), seed=seed, config=config, device=settings.device)
    metrics = held_out.metrics["curatornet"]
    model = train_on_profiles(data, article_profiles(data, ImageFilter.for_data(data)), config, device=settings.device)
    version = datetime.now(UTC).strftime("v-%Y%m%dT%H%M%S%fZ")
    folder = versions_dir(settings, wiki, model_id) / version
    folder.mkdir(parents=True, exist_ok=False)
    save_checkpoint(model, folder / "model.pt", wiki=wiki, model_id=model_id, version=version)
    _write_json(folder / "metrics.json", {"metrics": metrics, "n_users": held_out.n_users, "seed": seed,
                                          "config": asdict(config)})
    return {"wiki": wiki, "model_id": model_id, "version": version, "path": str(folder), "metrics": metrics}


def current_release(settings: Settings, wiki: str, model_id: str) -> dict[str, Any] | None:
    pointer = versions_dir(settings, wiki, model_id) / "current.json"
    return json.loads(pointer.read_text("utf-8")) if pointer.is_file() else None


def judge(candidate: dict[str, float], current: dict[str, float] | None, tolerance: float) -> list[str]:
    """Reasons the candidate regresses (empty: it passes)."""
    if current is None:
        return []
    return [
        f"{m} {candidate.get(m, float('nan')):.4f} < current {current[m]:.4f} − {tolerance}"
        for m in GATED_METRICS
        if m in current and not candidate.get(m, float("-inf")) >= current[m] - tolerance
    ]


def promote(
    settings: Settings, version: str, *, wiki: str | None = None, model_id: str | None = None
) -> Verdict:
    """Gate ``version`` against the current release; on success make it the served checkpoint."""
    from wikivis.recommend.curatornet import checkpoint_path

    wiki = wiki or settings.wikis[0]
    model_id = chosen_model_id(settings, model_id)
    root = versions_dir(settings, wiki, model_id)
    folder = root / version
    if not (folder / "model.pt").is_file():
        raise NotFoundError(f"no candidate checkpoint {folder / 'model.pt'}")
    candidate = json.loads((folder / "metrics.json").read_text("utf-8"))["metrics"]
    current = current_release(settings, wiki, model_id)
    tolerance = settings.release_max_regression
    reasons = judge(candidate, current["metrics"] if current else None, tolerance)
    verdict = Verdict(not reasons, version, current["version"] if current else None, tolerance, reasons, candidate,
                      current["metrics"] if current else {})
    _write_json(folder / "gate.json", asdict(verdict))
    if reasons:
        raise GateFailed(f"{wiki}/{model_id} candidate {version} not promoted: " + "; ".join(reasons),
                         gate="release", dataset=f"models/curatornet/{wiki}")
    served = checkpoint_path(settings.home, wiki, model_id)
    with staged_path(served) as tmp:
        shutil.copyfile(folder / "model.pt", tmp)
    _write_json(root / "current.json", {"version": version, "metrics": candidate,
                                        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds")})
    return verdict
