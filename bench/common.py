"""What every benchmark shares: synthetic images to train on, and a clock that waits for the device."""
from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F

from trainables.train import synchronize


def synthetic_images(n: int, size: int, device: torch.device) -> torch.Tensor:
    """``n`` uint8 [3, size, size] images: smooth random ones, so jitter and pasting see
    realistic pixel statistics. Seeded, the same in every run."""
    g = torch.Generator().manual_seed(0)
    low = torch.rand(n, 3, size // 8, size // 8, generator=g)
    img = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return (img * 255).to(torch.uint8).to(device)


def timed(fn: Callable[[], object], min_seconds: float, min_iters: int, device: torch.device) -> tuple[float, int]:
    """(seconds, calls) of calling ``fn`` at least ``min_iters`` times and ``min_seconds`` long,
    after one warm-up call, the device synchronised before and after."""
    fn()  # warm-up
    synchronize(device)
    t0, n = time.perf_counter(), 0
    while n < min_iters or time.perf_counter() - t0 < min_seconds:
        fn()
        n += 1
    synchronize(device)
    return time.perf_counter() - t0, n
