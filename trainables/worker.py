"""A process that runs trial after trial: what it keeps between trials and what it resets.

A reused Ray Tune actor (``study.tune.runtime`` sets ``reuse_actors``), a notebook or a test
runs many trials in one process. What is worth keeping is kept, keyed so that it can never be
the wrong thing: imported modules, ImageNet weights read from disk once
(``trainables.models.weights``, keyed by file, size and mtime) and decoded categories
(``trainables.data.cache``, keyed as the on-disk cache is: category, image size and a
fingerprint of the files). Models are never kept: every trial builds its own network from
those weights, so BatchNorm statistics, modes and optimizer state start fresh.

Everything else a trial can touch that outlives it is process-global or thread-local state,
and :func:`begin_trial` puts it back to what this process started with before each trial:

- the RNGs (``random``, NumPy's global, torch's CPU and CUDA): seeded from the config, so a
  trial draws the same numbers whether it runs first or hundredth;
- torch's intra-op threads and the BLAS libraries' threads (NumPy's and SciPy's OpenBLAS,
  through threadpoolctl): the config's, else the process's own defaults (a previous trial may
  have set another count, and float sums depend on it). A Ray actor of one CPU already has one
  BLAS thread (Ray sets ``OMP_NUM_THREADS``); a notebook or a test with ``threads=1`` gets one
  too, so its GDE computes as the study's trial does, and two BLAS threads no longer spin
  against the other trials on a loaded machine (a 1,280 x 1,280 ``eigh`` took 7 s instead
  of 0.3 s on 2 busy cores);
- grad mode and autocast (thread-local; a trial that raised inside a ``with`` block has
  already left it, but an earlier caller may have switched them);
- the cuDNN and TF32 flags, float32 matmul precision and deterministic-algorithms mode.

:func:`end_trial` hands back the device's cached blocks (CUDA's allocator keeps freed
memory for the next allocation; a trial's whole train set lives on the device), so a worker's
device memory does not carry one trial's footprint into the next.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import scipy.linalg  # noqa: F401  SciPy's own OpenBLAS, loaded now so its thread count is seen and set
import torch
from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["ProcessDefaults", "begin_trial", "end_trial", "DEFAULTS"]


@dataclass(frozen=True)
class ProcessDefaults:
    """The torch settings this process started with, captured when this module is imported
    (before any trial ran)."""
    threads: int
    blas_threads: int          # the BLAS libraries' threads (0: none loaded)
    cudnn_enabled: bool
    cudnn_benchmark: bool
    cudnn_deterministic: bool
    cuda_matmul_tf32: bool
    cudnn_tf32: bool
    matmul_precision: str
    deterministic: bool

    @classmethod
    def now(cls) -> "ProcessDefaults":
        blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        return cls(threads=torch.get_num_threads(), blas_threads=max(blas, default=0),
                   cudnn_enabled=torch.backends.cudnn.enabled,
                   cudnn_benchmark=torch.backends.cudnn.benchmark,
                   cudnn_deterministic=torch.backends.cudnn.deterministic,
                   cuda_matmul_tf32=torch.backends.cuda.matmul.allow_tf32,
                   cudnn_tf32=torch.backends.cudnn.allow_tf32,
                   matmul_precision=torch.get_float32_matmul_precision(),
                   deterministic=torch.are_deterministic_algorithms_enabled())


DEFAULTS = ProcessDefaults.now()


def _restore_flags(d: ProcessDefaults) -> None:
    torch.backends.cudnn.enabled = d.cudnn_enabled
    torch.backends.cudnn.benchmark = d.cudnn_benchmark
    torch.backends.cudnn.deterministic = d.cudnn_deterministic
    torch.backends.cuda.matmul.allow_tf32 = d.cuda_matmul_tf32
    torch.backends.cudnn.allow_tf32 = d.cudnn_tf32
    torch.set_float32_matmul_precision(d.matmul_precision)
    if torch.are_deterministic_algorithms_enabled() != d.deterministic:
        torch.use_deterministic_algorithms(d.deterministic)


def _leave_autocast() -> None:
    """Autocast off for every device type in this thread, its weight cache emptied."""
    for device_type in ("cpu", "cuda"):
        if torch.is_autocast_enabled(device_type):
            torch.set_autocast_enabled(device_type, False)
    torch.clear_autocast_cache()


def begin_trial(seed: int, threads: int = 0) -> None:
    """Reset what a previous trial in this process may have changed: RNGs seeded with ``seed``,
    ``threads`` torch and BLAS threads (0: the process's defaults), grad mode on, autocast off,
    the cuDNN/TF32/determinism flags as the process started."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)          # the CPU generator and every CUDA device's
    torch.set_num_threads(threads or DEFAULTS.threads)
    if threads or DEFAULTS.blas_threads:
        threadpool_limits(threads or DEFAULTS.blas_threads, user_api="blas")
    torch.set_grad_enabled(True)
    _leave_autocast()
    _restore_flags(DEFAULTS)


def end_trial() -> None:
    """Give the device's cached memory back once a trial's tensors are gone."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
