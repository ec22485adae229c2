from __future__ import annotations

import pytest

from wikivis.errors import ConfigError
from wikivis.index.plan import PQ_MAX_NLIST, ivf_nlist, kind_of_key, plan_for_key, plan_index

BUDGET = {"memory_budget_mb": 4096, "latency_budget_ms": 1.0}


def test_small_collections_are_searched_exactly():
    assert plan_index(500, 1280, **BUDGET).kind == "flat"
    assert plan_index(2_000, 256, **BUDGET).kind == "flat"  # 2 MB scan ≈ 0.7 ms


def test_a_looser_latency_budget_keeps_flat_longer():
    assert plan_index(50_000, 256, **BUDGET).kind == "hnsw"
    assert plan_index(50_000, 256, memory_budget_mb=4096, latency_budget_ms=100).kind == "flat"


def test_medium_collections_get_hnsw32():
    plan = plan_index(40_000, 512, **BUDGET)
    assert (plan.kind, plan.key) == ("hnsw", "HNSW32,Flat")
    assert plan.memory_mb == pytest.approx(4 * 40_000 * (512 + 64) / 2**20, rel=0.01)
    assert plan_index(100_000, 512, **BUDGET).kind == "ivf_flat"  # HNSW build too slow on 2 cores
    assert plan_index(100_000, 512, **BUDGET, hnsw_max_n=200_000).kind == "hnsw"


def test_large_collections_get_ivf_with_an_hnsw_quantizer():
    plan = plan_index(1_000_000, 256, **BUDGET)
    assert (plan.kind, plan.key, plan.nlist) == ("ivf_flat", "IVF4096_HNSW32,Flat", 4096)
    assert plan.rerank == 0


def test_hnsw_that_does_not_fit_memory_falls_back_to_ivf():
    # vectors 78 MB + ids and centroids 3 MB fit; the HNSW graph (+10 MB) does not
    assert plan_index(40_000, 512, memory_budget_mb=85, latency_budget_ms=1.0).kind == "ivf_flat"


def test_a_tight_memory_budget_gives_pq_with_exact_rerank():
    plan = plan_index(10_000_000, 512, memory_budget_mb=1024, latency_budget_ms=1.0)
    assert plan.kind == "ivf_pq"
    assert plan.rerank > 0
    assert 512 % plan.pq_m == 0
    assert plan.on_disk or plan.pq_m * 10_000_000 < 1024 * 2**20
    assert plan.memory_mb <= 1024
    assert plan.key == f"IVF{plan.nlist}_HNSW32,PQ{plan.pq_m}x8"


def test_an_impossible_budget_is_a_config_error():
    with pytest.raises(ConfigError, match="budget"):
        plan_index(100_000_000, 512, memory_budget_mb=100, latency_budget_ms=1.0)
    with pytest.raises(ConfigError):
        plan_index(0, 512, **BUDGET)


@pytest.mark.parametrize(
    ("n", "nlist"), [(1_000_000, 4096), (100_000, 1024), (3_000, 64), (100, 16), (100_000_000, 32768)]
)
def test_nlist_follows_four_sqrt_n_and_trainability(n, nlist):
    assert ivf_nlist(n) == nlist


def test_requested_keys_are_classified():
    assert kind_of_key("Flat") == "flat"
    assert kind_of_key("HNSW32,Flat") == "hnsw"
    assert kind_of_key("IVF1024_HNSW32,Flat") == "ivf_flat"
    assert kind_of_key("OPQ16_64,IVF256,PQ16x8") == "ivf_pq"
    plan = plan_for_key("IVF16,PQ2x4", 1000, 32)
    assert (plan.nlist, plan.kind, plan.rerank) == (16, "ivf_pq", 10)
    assert plan_for_key("IVF16,PQ2x4", 1000, 32, rerank=0).rerank == 0


def test_commons_scale_vectors_never_get_an_in_ram_flat_or_hnsw_index():
    """10M × 256 (Commons' images) at a 2 GiB budget: IVF-PQ whose estimated build and index
    memory is within the budget; at 1 GiB and at 100M the inverted lists go to disk."""
    plan = plan_index(10_000_000, 256, memory_budget_mb=2048, latency_budget_ms=1.0)
    assert plan.kind == "ivf_pq"
    assert plan.kind not in ("flat", "hnsw", "ivf_flat")
    assert 0 < plan.memory_mb <= 2048
    assert plan.rerank > 0 and 256 % plan.pq_m == 0
    for n, budget in ((10_000_000, 1024), (100_000_000, 2048)):
        plan = plan_index(n, 256, memory_budget_mb=budget, latency_budget_ms=1.0)
        assert (plan.kind, plan.on_disk, plan.pq_m) == ("ivf_pq", True, 64)
        assert 0 < plan.memory_mb <= budget
        assert plan.disk_mb == pytest.approx(n * (64 + 8) / 2**20, rel=0.01)
        assert plan.nlist <= PQ_MAX_NLIST


def test_an_on_disk_build_still_needs_room_for_its_working_set():
    with pytest.raises(ConfigError, match="on-disk"):
        plan_index(10_000_000, 256, memory_budget_mb=128, latency_budget_ms=1.0)
