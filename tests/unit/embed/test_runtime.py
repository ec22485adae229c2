from __future__ import annotations

import pytest
import torch

from wikivis.embed.runtime import pick_runtime
from wikivis.errors import ConfigError


def test_cpu_runtime_is_fp32_with_all_usable_threads():
    runtime = pick_runtime("cpu")
    assert runtime.device.type == "cpu"
    assert runtime.amp_dtype is None
    assert not runtime.pin_memory
    assert torch.get_num_threads() == runtime.threads
    assert "fp32" in runtime.describe()


def test_bf16_on_cpu_only_on_request():
    assert pick_runtime("cpu", "bf16").amp_dtype == torch.bfloat16


def test_auto_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_runtime("auto").device.type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_is_a_config_error():
    with pytest.raises(ConfigError, match="CUDA"):
        pick_runtime("cuda")


@pytest.mark.parametrize(("device", "amp"), [("tpu", "auto"), ("cpu", "int8")])
def test_unknown_device_or_precision_is_a_config_error(device, amp):
    with pytest.raises(ConfigError):
        pick_runtime(device, amp)
