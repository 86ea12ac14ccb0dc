"""Packing: aggregate training throughput of K trials sharing one device.

Ray places each trial in its own worker process, so K trials on one GPU are K processes
with K CUDA contexts competing for the same SMs. This measures exactly that: K spawned
processes start together (a barrier), each trains for the same wall time, and the
aggregate is the sum of their images/s. Each reports its peak device memory (CUDA) or
peak resident memory (CPU), so a user can see how many trials fit.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
from dataclasses import dataclass

import torch

from bench.throughput import bench_training
from trainables.config import TrialConfig


@dataclass(frozen=True)
class PackResult:
    k: int
    aggregate_images_per_second: float
    per_trial_images_per_second: list[float]
    memory_per_trial_mb: float
    memory_kind: str          # "cuda peak allocated" or "cpu peak RSS"


def _worker(cfg_dict: dict, device_name: str, seconds: float, threads: int, barrier, queue) -> None:
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    cfg = TrialConfig.from_dict(cfg_dict)
    bench_training(cfg, device, 0.5)          # warm-up: kernels, allocator, autotuning
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    barrier.wait()
    rate = bench_training(cfg, device, seconds)
    if device.type == "cuda":
        mem, kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda peak allocated"
    else:
        mem, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cpu peak RSS"
    queue.put((rate, mem, kind))


def bench_concurrent(cfg_dict: dict, device_name: str, k: int, seconds: float) -> PackResult:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(k), ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // k)
    procs = [ctx.Process(target=_worker, args=(cfg_dict, device_name, seconds, threads, barrier, queue))
             for _ in range(k)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600 + 10 * seconds) for _ in procs]
    for p in procs:
        p.join()
    rates = [r for r, _, _ in results]
    return PackResult(k, sum(rates), rates, max(m for _, m, _ in results), results[0][2])
