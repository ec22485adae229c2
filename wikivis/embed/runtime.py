"""Where and how the model runs: device choice, precision, memory layout, threads.

* ``device="auto"`` picks CUDA when ``torch.cuda.is_available()``, else the CPU; asking for
  ``cuda`` on a machine without one is a :class:`ConfigError` (not a silent CPU fallback that
  would make a nightly run 100× slower).
* CUDA: bf16 autocast (``amp="auto"``), channels-last weights and inputs, pinned host memory
  with ``non_blocking`` copies, ``cudnn.benchmark`` (fixed 224 × 224 shapes).
* CPU: fp32 by default and ``torch.set_num_threads(<usable cores>)``.  bf16 autocast is
  available on request (``amp="bf16"``; about 2.6× faster for ResNet-50 on this AVX-512-BF16
  machine) but is off by default, because it changes the vectors and older CPUs emulate it.
* Determinism: on CPU the same input gives bit-identical vectors run after run (same
  threads, same batch shape); the pipeline pads the last batch to the full batch shape so
  that a vector never depends on which batch its image landed in.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from wikivis.errors import ConfigError

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    pin_memory: bool
    threads: int

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def describe(self) -> str:
        amp = str(self.amp_dtype).removeprefix("torch.") if self.amp_dtype else "fp32"
        extra = f", {self.threads} threads" if not self.is_cuda else ""
        return f"{self.device.type} {amp}{', channels_last' if self.channels_last else ''}{extra}"

    def prepare(self, module: nn.Module) -> nn.Module:
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return module

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def to_device(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.to(self.device, non_blocking=self.pin_memory)


def pick_runtime(device: str = "auto", amp: str = "auto", threads: int = 0) -> Runtime:
    """Resolve ``Settings.device`` (auto|cpu|cuda[:N]) and ``amp`` (auto|bf16|fp16|fp32)."""
    device = (device or "auto").lower()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but torch {torch.__version__} sees no CUDA device")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda")
    dev = torch.device(device)
    amp = (amp or "auto").lower()
    if amp not in ("auto", "fp32", *AMP_DTYPES):
        raise ConfigError(f"unknown amp {amp!r}; use auto, fp32, bf16 or fp16")
    if dev.type == "cuda":
        amp_dtype = None if amp == "fp32" else AMP_DTYPES.get(amp, torch.bfloat16)
        torch.backends.cudnn.benchmark = True
        return Runtime(dev, amp_dtype, channels_last=True, pin_memory=True, threads=torch.get_num_threads())
    n = threads or usable_cores()
    torch.set_num_threads(n)
    return Runtime(dev, AMP_DTYPES.get(amp), channels_last=False, pin_memory=False, threads=n)


@contextlib.contextmanager
def inference(runtime: Runtime) -> Iterator[None]:
    with torch.inference_mode(), runtime.autocast():
        yield
