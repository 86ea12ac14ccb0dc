"""End-to-end training throughput: this project's loop against the common reproduction.

Both run the same model, batch and number of steps on the same images, in one process,
one after the other:

- **ours**: the category's uint8 images live on the device; each step samples indices,
  augments the whole batch there (``trainables.augment``) and trains;
- **reference**: what popular CutPaste reproductions do: a ``Dataset`` of PIL images whose
  ``__getitem__`` runs per-image PIL CutPaste 3-way (``bench.reference_pil``), batched by
  a ``DataLoader`` with worker processes, then copied to the device and trained.

The clock runs from the first step to the last, including the DataLoader's worker start-up
(a real cost of that design, paid every epoch unless workers persist).

``hot_loop`` sets this project's loop against its own limit: the **model-only** rate is the
same forward, backward and SGD step on one fixed, pre-made batch (no sampling, no
augmentation), so ``end_to_end / model_only`` is the share of a step the model gets; 1 - ratio
is what the augmentation and data path cost. The two alternate in blocks on the same model
(ABAB...), so load from other processes falls on both alike, and each rate is the median of
its blocks.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from bench.reference_pil import PilCutPaste3Way
from trainables.augment import PixelStore, create_variant, source_batch
from trainables.config import TrialConfig
from trainables.models import build_model
from trainables.train import prepare_model, synchronize, train_step


@dataclass(frozen=True)
class HotLoopRates:
    """Trained images/s of whole training steps and of the model's part of them alone."""
    end_to_end: float    # train_step: sample sources, augment on the device, forward, backward, SGD
    model_only: float    # the same forward, backward and SGD step on a fixed pre-made batch

    @property
    def ratio(self) -> float:
        """Share of a step's time the model gets: 1 - ratio is the augmentation and data path."""
        return self.end_to_end / self.model_only


def model_step(model, opt, images: torch.Tensor, labels: torch.Tensor, amp: bool) -> None:
    """``trainables.train.train_step`` without drawing and augmenting the batch: its forward
    (bf16 autocast where ``amp``), cross-entropy, backward and SGD step."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        loss = F.cross_entropy(model(images), labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def hot_loop(cfg: TrialConfig, images_u8: torch.Tensor, steps: int, device: torch.device,
             blocks: int = 5) -> HotLoopRates:
    """End-to-end and model-only rates of the project's loop, ``steps`` steps of each after one
    warm-up step of each, alternating in ``blocks`` blocks; each rate is its blocks' median."""
    variant = create_variant(cfg.variant)
    torch.manual_seed(cfg.seed)
    model, amp = prepare_model(build_model(cfg, variant.num_classes), cfg, device)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    store = PixelStore(images_u8.to(device))
    sources = torch.randint(0, store.n, (cfg.batch_size,), generator=gen, device=device)
    images, labels = variant.make_batch(source_batch(store, sources, cfg, gen), cfg)   # made once
    if amp:
        images = images.contiguous(memory_format=torch.channels_last)

    def end_to_end() -> int:
        return train_step(model, opt, variant, store, cfg, gen, amp)[1]

    def model_only() -> int:
        model_step(model, opt, images, labels, amp)
        return images.shape[0]

    rates: dict = {end_to_end: [], model_only: []}
    for fn in rates:   # warm-up: first-call allocations and kernel choice
        fn()
    per_block = max(1, steps // blocks)
    for b in range(max(1, min(blocks, steps))):
        for fn in (end_to_end, model_only) if b % 2 == 0 else (model_only, end_to_end):
            synchronize(device)
            t0, trained = time.perf_counter(), 0
            for _ in range(per_block):
                trained += fn()
            synchronize(device)
            rates[fn].append(trained / (time.perf_counter() - t0))
    return HotLoopRates(statistics.median(rates[end_to_end]), statistics.median(rates[model_only]))


def ours(cfg: TrialConfig, images_u8: torch.Tensor, steps: int, device: torch.device) -> float:
    """Trained images/s of the project's on-device loop."""
    return hot_loop(cfg, images_u8, steps, device).end_to_end


class _PilCutPasteDataset(Dataset):
    def __init__(self, images: list[Image.Image], cfg: TrialConfig) -> None:
        self.images, self.aug = images, PilCutPaste3Way(jitter=cfg.jitter, seed=cfg.seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.aug(self.images[i])


def reference(cfg: TrialConfig, images_u8: torch.Tensor, steps: int, device: torch.device,
              workers: int) -> float:
    """Trained images/s of per-image PIL CutPaste 3-way in DataLoader workers."""
    pil = [Image.fromarray(np.ascontiguousarray(a)) for a in images_u8.permute(0, 2, 3, 1).numpy()]
    loader = DataLoader(_PilCutPasteDataset(pil, cfg), batch_size=cfg.batch_size, shuffle=True,
                        num_workers=workers, drop_last=True, pin_memory=device.type == "cuda")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, 3).to(device).train()   # plain fp32 NCHW, as the reproductions run it
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    synchronize(device)
    t0, trained, done = time.perf_counter(), 0, 0
    while done < steps:
        for normal, cutpaste, scar in loader:
            x = torch.cat([normal, cutpaste, scar]).to(device, non_blocking=True)
            y = torch.arange(3, device=device).repeat_interleave(normal.shape[0])
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            trained += x.shape[0]
            done += 1
            if done == steps:
                break
    synchronize(device)
    return trained / (time.perf_counter() - t0)
